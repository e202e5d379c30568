import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import type { Clock } from '../../ports/clock.ts';
import type { Alert } from '../alert.ts';
import { Severity } from '../alert.ts';
import { resourceKey, stableHash } from '../classifier/identity.ts';
import type { RuntimeConfig } from '../config.ts';
import { InvalidEventError, type Problem } from '../errors.ts';
import { AlertResource } from '../resource.ts';
import type { Runbook } from '../runbook/model.ts';
import { coerceParameter, type ParameterValue } from '../runbook/parameters.ts';
import type { ClassifierResult, ClassifierService } from './classifier.ts';
import { ControlConflictError, NotFoundError } from './control.ts';

/** The alert name a manual start carries (its own group in the learning report). */
export const MANUAL_ALERT_NAME = 'ManualStart';

/** What a person sends to start a runbook by hand (API body, CLI flags, dashboard form). */
export const ManualStartRequest = z
  .object({
    /** The resource to act on, as an alert would name it (type and id at least). */
    resource: AlertResource,
    /** Values of the runbook's declared parameters; each must fit its type and bounds. */
    parameters: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]))
      .default({}),
    /** Labels templates may read as `{{ alert.labels.… }}` (namespace, cluster…). */
    labels: z.record(z.string().max(1_024), z.string().max(4_096)).default({}),
    reason: z.string().max(1_000).optional(),
    severity: Severity.default('warning'),
    /** Default: the environment this deployment serves. */
    environment: z.string().min(1).max(64).optional(),
    /** Sent again with the same id, the request starts nothing new (a double click, a retried call). */
    requestId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, - or _')
      .optional(),
    /** Who asks, when the caller's identity does not say (the embedded platform without sign-in). */
    by: z.string().min(1).max(200).optional(),
  })
  .strict();
export type ManualStartRequest = z.infer<typeof ManualStartRequest>;

/** The checked values of the parameters a person gave, or every problem with its field path. */
export function checkManualParameters(
  runbook: Runbook,
  given: Readonly<Record<string, unknown>>,
): Record<string, ParameterValue> {
  const problems: Problem[] = [];
  const values: Record<string, ParameterValue> = {};
  const declared = Object.keys(runbook.parameters);
  for (const [name, raw] of Object.entries(given)) {
    const parameter = runbook.parameters[name];
    if (!parameter) {
      problems.push({
        check: 'schema',
        path: `parameters.${name}`,
        message: `not a parameter of runbook ${runbook.id} (${declared.length > 0 ? `it declares ${declared.join(', ')}` : 'it declares none'})`,
      });
      continue;
    }
    const coerced = coerceParameter(name, parameter, raw);
    if ('problem' in coerced)
      problems.push({ check: 'schema', path: `parameters.${name}`, message: coerced.problem });
    else values[name] = coerced.value;
  }
  if (problems.length > 0)
    throw new InvalidEventError(
      `the parameters do not fit runbook ${runbook.id}: ${problems.map((problem) => `${problem.path}: ${problem.message}`).join('; ')}`,
      problems,
    );
  return values;
}

/**
 * Manual starts: a person picks a runbook, a resource and parameter values; the request becomes an
 * alert of source `manual` and goes through the classifier's gates like any alert (environment, kill
 * switch, rate and concurrency limits, cooldown, freeze; approvals in the machine), only selection is
 * the person's. Refused by a gate: 409 with the gate's reason, and nothing started.
 */
export class ManualStartService {
  constructor(
    private readonly deps: {
      classifier: Pick<ClassifierService, 'startByHand'>;
      runbooks: () => readonly Runbook[] | Promise<readonly Runbook[]>;
      clock: Clock;
      config: Pick<RuntimeConfig, 'environment'>;
    },
  ) {}

  async start(runbookId: string, request: ManualStartRequest, by: string): Promise<ClassifierResult> {
    const runbook = (await this.deps.runbooks()).find((candidate) => candidate.id === runbookId);
    if (!runbook) throw new NotFoundError(`no runbook "${runbookId}" is deployed here`);
    const parameters = checkManualParameters(runbook, request.parameters);
    const alert = this.alertFor(runbook, request, by);
    const result = await this.deps.classifier.startByHand(alert, runbook.id, { requestedBy: by, parameters });
    if (result.decision === 'blocked' || (result.decision === 'joined' && !result.executionId))
      throw new ControlConflictError(
        `${runbook.id} was not started: ${result.reason ?? 'an earlier request with this requestId was refused'}`,
        { decision: result.decision, ...(result.incidentId ? { incidentId: result.incidentId } : {}) },
      );
    return result;
  }

  /** The person's request as the alert the classifier and the runbook's templates see. */
  alertFor(runbook: Runbook, request: ManualStartRequest, by: string): Alert {
    const now = this.deps.clock.now().toISOString();
    const environment = request.environment ?? this.deps.config.environment;
    const requestId = request.requestId ?? randomUUID();
    const summary = `${by} started ${runbook.id} by hand on ${request.resource.type} ${request.resource.id}${request.reason ? `: ${request.reason}` : ''}`;
    const draft = {
      source: 'manual' as const,
      name: MANUAL_ALERT_NAME,
      status: 'firing' as const,
      severity: request.severity,
      category: runbook.category,
      summary,
      environment,
      resource: request.resource,
      labels: { ...request.labels, runbook: runbook.id },
      annotations: { summary, requested_by: by, ...(request.reason ? { reason: request.reason } : {}) },
      fingerprint: '',
      startsAt: now,
    };
    draft.fingerprint = `manual-${stableHash([runbook.id, resourceKey(draft), environment, requestId], 24)}`;
    return draft;
  }
}
