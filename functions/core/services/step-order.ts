import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import type { OrderStepsTask, PhaseStoppedTask } from '../execution-contract.ts';
import { type LaneQueue, ORDER_DONE, planStepOrder } from '../learning/step-order.ts';
import type { PhaseOrder, StepStatistics } from '../records.ts';

/**
 * The tasks of reorderable phases: planning (which order, which lanes, and why, from the runbook's
 * learned step statistics, recorded with the execution) and the early stop (the steps stopWhen
 * skipped, recorded as skipped outcomes). Neither ever fails a run over bookkeeping: without
 * statistics the declared order stands, and a record that could not be written is logged.
 */
export class StepOrderService {
  constructor(private readonly deps: { store: Store; clock: Clock; logger: Logger }) {}

  /** The dispatcher's queue (sequential) or queues (parallel: `{ lanes }`). */
  async plan(task: OrderStepsTask): Promise<LaneQueue | { lanes: LaneQueue[] }> {
    const { store, clock, logger } = this.deps;
    const { execution, phase } = task;
    let statistics: StepStatistics[] | undefined;
    let unavailable: string | undefined;
    try {
      statistics = (await store.getLearningAggregate(execution.runbookId))?.steps;
    } catch (error) {
      unavailable = error instanceof Error ? error.message : String(error);
      logger.warn('step order: learned statistics unavailable, declared order', {
        executionId: execution.id,
        phase: phase.id,
        error: unavailable,
      });
    }
    const planned = planStepOrder({
      phase: phase.id,
      mode: phase.mode,
      lanes: phase.lanes,
      steps: phase.steps,
      statistics,
      now: clock.now(),
      ...(unavailable ? { unavailable } : {}),
    });
    await this.record(execution.id, phase.id, () => planned.record);
    return phase.mode === 'sequential' ? planned.queues[0]! : { lanes: planned.queues };
  }

  /** stopWhen held: the steps from the queue's position on are skipped, and say why. */
  async stopped(task: PhaseStoppedTask): Promise<{ skipped: string[] }> {
    const { store, clock } = this.deps;
    const { execution, order } = task;
    const byId = new Map(task.steps.map((step) => [step.id, step]));
    const skipped = order.steps.slice(order.position).filter((id) => id !== ORDER_DONE && byId.has(id));
    const after = order.position > 0 ? order.steps[order.position - 1]! : '';
    const now = clock.now().toISOString();
    const reason = after
      ? `phase ${task.phase} stopped early: its stopWhen held after ${after}, so the finding was decisive`
      : `phase ${task.phase} stopped early: its stopWhen held before any of its steps ran`;
    for (const id of skipped) {
      const step = byId.get(id)!;
      await store.putStepOutcome({
        executionId: execution.id,
        stepId: id,
        kind: 'step',
        name: step.name,
        phase: task.phase,
        tool: step.tool,
        mutating: false,
        risk: 'low',
        attempt: 1,
        status: 'skipped',
        startedAt: now,
        finishedAt: now,
        durationMs: 0,
        parameters: {},
        dryRun: execution.dryRun,
        reason,
      });
    }
    await this.record(execution.id, task.phase, (current) =>
      current ? { ...current, stoppedAfter: after, skipped } : undefined,
    );
    return { skipped };
  }

  /** Read, change, write the execution's stepOrder: one phase plans or stops at a time in an execution. */
  private async record(
    executionId: string,
    phase: string,
    change: (current: PhaseOrder | undefined) => PhaseOrder | undefined,
  ): Promise<void> {
    const { store, logger } = this.deps;
    try {
      const execution = await store.getExecution(executionId);
      if (!execution) return;
      const next = change(execution.stepOrder?.[phase]);
      if (!next) return;
      await store.updateExecution(executionId, { stepOrder: { ...execution.stepOrder, [phase]: next } });
    } catch (error) {
      logger.warn('step order: could not record the order used', {
        executionId,
        phase,
        error: String(error),
      });
    }
  }
}
