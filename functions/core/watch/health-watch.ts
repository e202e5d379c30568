import type { AuditTrail } from '../../ports/audit.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import type { ToolRegistry } from '../../ports/tools.ts';
import type { WatchStore } from '../../ports/watch.ts';
import type { Alert } from '../alert.ts';
import { auditEventId, system } from '../audit/events.ts';
import { auditText, recordAudit } from '../audit/record.ts';
import type { AutomationService } from '../automation/service.ts';
import { stableHash } from '../classifier/identity.ts';
import type { ExecutionContext, WatchSignal, WatchSpec } from '../execution-contract.ts';
import type { StepOutcome } from '../records.ts';
import { resolveTemplates } from '../runbook/templates.ts';
import { templateScope } from '../services/step-runner.ts';
import { baselineValue, describeWorsening, readSignal, type Worsening, worseThanBaseline } from './health.ts';
import type { HealthReading } from './records.ts';

/** The component that watches, as the audit trail names it. */
export const HEALTH_WATCH_ACTOR = 'health-watch';

/**
 * The health watch between a change and its verification: reads the runbook's watched signals (its
 * success metrics' `watch`) before the first change and keeps them as the execution's baseline; reads
 * them again before each later change, when a wait ends, while the verification waits for the alert,
 * and when a watched success metric runs; says when one is worse than before the change by more than
 * its margin. The step runner stops the execution then (Safety.HealthWorse), and the machine
 * compensates at once. Nothing is watched in a dry run: nothing changes.
 */
export class HealthWatcher {
  constructor(
    private readonly deps: {
      store: Store;
      watch: WatchStore;
      tools: ToolRegistry;
      clock: Clock;
      logger: Logger;
      audit?: AuditTrail;
      /** A change followed by a worse health signal is a safety incident. */
      automation?: Pick<AutomationService, 'recordSafetyIncident'>;
    },
  ) {}

  /**
   * Before a change: the first reads and keeps the baseline (nothing to compare yet); a later one reads
   * the signals again and answers how one got worse since the first change, if one did.
   */
  async beforeChange(
    execution: ExecutionContext,
    alert: Alert,
    outcomes: StepOutcome[],
    watch: WatchSpec,
    stepId: string,
  ): Promise<Worsening | undefined> {
    if (execution.dryRun) return undefined;
    const baseline = await this.deps.watch.getBaseline(execution.id);
    if (baseline) return this.compare(execution, alert, outcomes, watch.signals, baseline.readings);
    const readings = await Promise.all(
      watch.signals.map((signal) => this.read(execution, alert, outcomes, signal)),
    );
    const { stored, baseline: kept } = await this.deps.watch.putBaseline({
      executionId: execution.id,
      runbookId: execution.runbookId,
      beforeStep: stepId,
      takenAt: this.deps.clock.now().toISOString(),
      readings,
    });
    // Another change of a parallel group read it first: that one is the state before any change.
    if (!stored) return this.compare(execution, alert, outcomes, watch.signals, kept.readings);
    await this.auditVerdict(
      execution,
      'allowed',
      `baseline before ${stepId}: ${describeReadings(readings)}`,
      {
        stepId,
        readings,
      },
    );
    return undefined;
  }

  /**
   * Reads the signals (all, or those due) and compares them with the baseline; undefined when nothing
   * changed yet (no baseline) or none is worse.
   */
  async check(
    execution: ExecutionContext,
    alert: Alert,
    outcomes: StepOutcome[],
    signals: readonly WatchSignal[],
    /** Epoch ms by which the readings must be done (the verification's own wait); default: their timeouts. */
    until?: number,
  ): Promise<Worsening | undefined> {
    if (execution.dryRun || signals.length === 0) return undefined;
    const baseline = await this.deps.watch.getBaseline(execution.id);
    if (!baseline) return undefined;
    return this.compare(execution, alert, outcomes, signals, baseline.readings, until);
  }

  /** A watched success metric's own reading (its check just ran) against the baseline. */
  async compareOwn(
    execution: ExecutionContext,
    signal: WatchSignal,
    output: unknown,
  ): Promise<Worsening | undefined> {
    if (execution.dryRun) return undefined;
    const baseline = await this.deps.watch.getBaseline(execution.id);
    const before = baseline && baselineValue(baseline.readings, signal);
    if (before === undefined) return undefined;
    const reading = readSignal(signal, output);
    return 'value' in reading ? worseThanBaseline(signal, before, reading.value) : undefined;
  }

  /**
   * A worse signal: recorded as a safety incident (a change followed by a worse health signal) and in
   * the execution's trail; answers the words the step's error carries.
   */
  async worsened(execution: ExecutionContext, worse: Worsening, when: string): Promise<string> {
    const message = `${describeWorsening(worse, when)}: stopping ${execution.runbookId} and undoing its changes`;
    await this.deps.automation?.recordSafetyIncident({
      id: `health:${stableHash([execution.id, worse.check, worse.fact], 20)}`,
      kind: 'worse-health-after-change',
      executionId: execution.id,
      runbookId: execution.runbookId,
      stepId: worse.check,
      at: this.deps.clock.now().toISOString(),
      description: message,
      details: { ...worse, when },
    });
    await this.auditVerdict(execution, 'refused', message, { ...worse, when });
    this.deps.logger.warn('health signal worse after a change', {
      executionId: execution.id,
      check: worse.check,
      baseline: worse.baseline,
      current: worse.current,
    });
    return message;
  }

  private async compare(
    execution: ExecutionContext,
    alert: Alert,
    outcomes: StepOutcome[],
    signals: readonly WatchSignal[],
    readings: readonly HealthReading[],
    until?: number,
  ): Promise<Worsening | undefined> {
    const watched = signals.filter((signal) => baselineValue(readings, signal) !== undefined);
    const now = await Promise.all(
      watched.map((signal) => this.read(execution, alert, outcomes, signal, until)),
    );
    for (const [index, signal] of watched.entries()) {
      const current = now[index]!.value;
      if (current === null) continue;
      const worse = worseThanBaseline(signal, baselineValue(readings, signal)!, current);
      if (worse) return worse;
    }
    return undefined;
  }

  /** One reading: the check's tool, its parameters resolved as the check's would be, the number read. */
  private async read(
    execution: ExecutionContext,
    alert: Alert,
    outcomes: StepOutcome[],
    signal: WatchSignal,
    until?: number,
  ): Promise<HealthReading> {
    const base = { check: signal.check, fact: signal.fact };
    const tool = this.deps.tools.get(signal.tool);
    if (!tool)
      return { ...base, value: null, unavailable: `${signal.tool} is not available in this runtime` };
    // Never past the caller's own deadline (a Task's timeout is the reading's too).
    const timeoutMs = Math.min(
      signal.timeoutSeconds * 1_000,
      until === undefined ? Number.POSITIVE_INFINITY : until - this.deps.clock.now().getTime(),
    );
    if (timeoutMs <= 0) return { ...base, value: null, unavailable: 'no time left to read it' };
    try {
      const resolved = resolveTemplates(signal.parameters, templateScope(alert, execution, outcomes));
      const parameters = tool.declaration.parameters.parse(resolved) as Record<string, unknown>;
      const stop = AbortSignal.timeout(timeoutMs);
      // A tool that ignores its signal still gives up its reading in time.
      const stopped = new Promise<never>((_, reject) => {
        stop.addEventListener('abort', () => reject(new Error(`no answer within ${timeoutMs} ms`)), {
          once: true,
        });
      });
      stopped.catch(() => undefined);
      const output = await Promise.race([
        tool.run(parameters, {
          signal: stop,
          dryRun: false,
          execution,
          deadline: this.deps.clock.now().getTime() + timeoutMs,
          change: { key: `watch-${signal.check}`, since: this.deps.clock.now().toISOString(), repeat: false },
          log: (message, data) =>
            this.deps.logger.info(message, { ...data, executionId: execution.id, tool: signal.tool }),
        }),
        stopped,
      ]);
      const reading = readSignal(signal, output);
      return 'value' in reading ? { ...base, value: reading.value } : { ...base, value: null, ...reading };
    } catch (error) {
      // A signal that cannot be read is not watched this time; the verification still decides.
      const unavailable = `${signal.check} (${signal.tool}) could not be read: ${(error as Error).message}`;
      this.deps.logger.warn('health signal unreadable', { executionId: execution.id, unavailable });
      return { ...base, value: null, unavailable: unavailable.slice(0, 2_000) };
    }
  }

  private async auditVerdict(
    execution: ExecutionContext,
    verdict: 'allowed' | 'refused',
    reason: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    const record = await this.deps.store.getExecution(execution.id);
    await recordAudit(this.deps.audit, this.deps.clock, {
      kind: 'gate.verdict',
      id: auditEventId('gate.verdict', execution.id, HEALTH_WATCH_ACTOR, verdict),
      actor: system(HEALTH_WATCH_ACTOR),
      executionId: execution.id,
      incidentId: execution.incidentId,
      runbookId: execution.runbookId,
      environment: execution.environment,
      ...(record ? { resourceKey: record.resourceKey } : {}),
      gate: HEALTH_WATCH_ACTOR,
      verdict,
      reason: auditText(reason),
      details,
    });
  }
}

function describeReadings(readings: readonly HealthReading[]): string {
  return readings
    .map((reading) =>
      reading.value === null
        ? `${reading.fact} unreadable (${reading.unavailable ?? 'no number'}): not watched`
        : `${reading.fact} = ${reading.value}`,
    )
    .join('; ');
}
