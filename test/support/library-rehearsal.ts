import { walkStates } from '../../functions/core/compiler/asl.ts';
import { type CompiledRunbook, StateName } from '../../functions/core/compiler/compile.ts';
import { AslErrorName } from '../../functions/core/errors.ts';
import { effectiveOnFailure, RESOLVE_STEP_ID, type Runbook } from '../../functions/core/runbook/model.ts';
import { TOOL_CATALOG } from '../../functions/tools/declarations.ts';

/**
 * The judgement of a rehearsal: one runbook's first example fired as a dry run in the simulated
 * environment's healthy baseline. What the platform recorded (GET /api/executions/:id) is read for
 * what must never happen whatever the runbook decides (a step the platform could not run, a tool that
 * broke its declared output, a resource the resolution could not find, a run that did not end) and
 * for how it ended: done, or one of the ends a runbook designs (it asked for a human, a prerequisite or
 * a verification found the condition absent, policy refused a change). Each problem names the runbook,
 * the step and the error, so a runbook the team adds later fails here in words.
 */

export interface RehearsedStep {
  stepId: string;
  kind: string;
  tool: string;
  status: string;
  attempt?: number;
  error?: { name: string; message: string };
  output?: unknown;
}

export interface RehearsedExecution {
  execution: {
    id: string;
    runbookId: string;
    status: string;
    currentState?: string;
    outcome?: { status: string; error?: string; cause?: string };
  };
  steps: RehearsedStep[];
  approvals?: Array<{ id: string; status: string }>;
}

/** How a run may end short of success, by design: the error the outcome carries, and what it means. */
export const DESIGNED_ENDS: Readonly<Record<string, string>> = {
  [AslErrorName.EscalationRequested]: 'its branching handed over to a human',
  [AslErrorName.PrerequisiteFailed]: 'a prerequisite check found the condition absent',
  [AslErrorName.VerificationFailed]:
    'a verification check found the system unchanged (a dry run changes nothing)',
  [AslErrorName.SafetyBlocked]: 'policy refused a change (a change freeze)',
};

/** Step errors that are policy working as designed, not a failure of the runbook or the platform. */
const DESIGNED_STEP_ERRORS = new Set<string>([AslErrorName.SafetyBlocked]);

/** What the simulated environment answers to a call it does not simulate (AWS protocols, the Kubernetes API). */
const NOT_SIMULATED =
  /UnknownOperation|InvalidAction|could not find the requested resource|404 page not found|not simulated/i;

const FAILED_STATUSES = new Set(['failed', 'timed-out', 'aborted', 'interrupted']);

/** An error no runbook may cause on purpose: the platform could not run the step as written. */
export function isPlatformError(error: { name: string; message: string }): boolean {
  return (
    error.name === AslErrorName.InvalidParameters ||
    error.name.startsWith('States.') ||
    error.message.includes('returned an output its declaration does not describe')
  );
}

/** The runbook's first state resolves `resource.…` (it references the resource or its parameters). */
export function resolvesResource(compiled: CompiledRunbook): boolean {
  return [...walkStates(compiled.definition)].some(([name]) => name === StateName.resolve);
}

/** No step changes anything (notifications aside): the runbook investigates and reports. */
export function isInvestigation(runbook: Runbook): boolean {
  return runbook.phases
    .flatMap((phase) => phase.steps)
    .every((step) => step.type === 'notification' || !TOOL_CATALOG.get(step.tool)?.mutating);
}

function describeStep(step: RehearsedStep): string {
  const error = step.error ? `: ${step.error.name}: ${step.error.message}` : '';
  return `step ${step.stepId} (${step.kind}, ${step.tool}) ${step.status}${error}`;
}

/** Every problem the rehearsal found, in words that name the runbook, the step and the error. */
export function rehearsalProblems(
  runbook: Runbook,
  detail: RehearsedExecution,
  options: { resolves: boolean },
): string[] {
  const id = runbook.id;
  const problems: string[] = [];
  const { execution } = detail;
  const latest = new Map<string, RehearsedStep>();
  for (const step of detail.steps) {
    latest.set(`${step.kind}:${step.stepId}`, step);
    if (step.error && isPlatformError(step.error))
      problems.push(`${id}: platform error in ${describeStep(step)}`);
  }

  if (execution.status !== 'succeeded' && execution.status !== 'failed')
    problems.push(
      `${id}: the execution did not end: it is ${execution.status}${execution.currentState ? ` at ${execution.currentState}` : ''}`,
    );

  // A diagnostic the runbook lets fail (onFailure: continue) may fail in the baseline: the evidence of
  // a fault that is absent (a crashed container's previous log) is absent too. Nothing else may.
  const mayFail = new Set(
    runbook.phases
      .flatMap((phase) => phase.steps)
      .filter((step) => step.type !== 'notification' && effectiveOnFailure(step) === 'continue')
      .map((step) => step.id),
  );
  for (const step of latest.values()) {
    if (step.error && isPlatformError(step.error)) continue;
    if (step.status === 'running' && execution.status !== 'running') {
      problems.push(`${id}: ${describeStep(step)}: left running after the execution ended`);
      continue;
    }
    if (!FAILED_STATUSES.has(step.status) || (step.error && DESIGNED_STEP_ERRORS.has(step.error.name)))
      continue;
    if (step.error && NOT_SIMULATED.test(step.error.message))
      problems.push(`${id}: ${describeStep(step)}: the simulated environment does not answer this call`);
    else if (!(step.kind === 'step' && mayFail.has(step.stepId)))
      problems.push(`${id}: ${describeStep(step)} in the healthy baseline`);
  }

  const outcome = execution.outcome;
  if (execution.status === 'failed') {
    const error = outcome?.error ?? 'no error';
    const designed = DESIGNED_ENDS[error];
    const unmet =
      error === AslErrorName.PrerequisiteFailed || error === AslErrorName.VerificationFailed
        ? (outcome?.cause ?? '').endsWith('expectation not met')
        : true;
    if (!designed || !unmet)
      problems.push(
        `${id}: ended ${error}${outcome?.cause ? `: ${outcome.cause}` : ''}, which no runbook designs (the designed ends: ${Object.keys(DESIGNED_ENDS).join(', ')}${designed ? ', from a check whose expectation was not met' : ''})`,
      );
  }

  if (options.resolves) {
    const resolution = latest.get(`check:${RESOLVE_STEP_ID}`);
    if (!resolution) problems.push(`${id}: the resolution (step ${RESOLVE_STEP_ID}) did not run`);
    else if (resolution.status !== 'succeeded')
      problems.push(`${id}: the resolution ${describeStep(resolution)}`);
    else {
      const unresolved =
        (resolution.output as { resource?: { unresolved?: string[] } } | undefined)?.resource?.unresolved ??
        [];
      if (unresolved.length > 0)
        problems.push(
          `${id}: the resolution did not find the example's resource in the simulated baseline: ${unresolved.join('; ')}`,
        );
    }
  }

  if (isInvestigation(runbook)) {
    const summaries = runbook.phases
      .flatMap((phase) => phase.steps)
      .filter((step) => step.type === 'notification')
      .map((step) => step.id);
    if (summaries.length > 0 && !summaries.some((step) => latest.get(`step:${step}`)?.status === 'succeeded'))
      problems.push(
        `${id}: an investigation that sent no summary: none of its notification steps (${summaries.join(', ')}) succeeded`,
      );
  }
  return problems;
}
