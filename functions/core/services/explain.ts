import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import {
  type ExecutionExplanation,
  type ExplainSubject,
  explainExecution,
  type PastRun,
} from '../findings/explain.ts';
import type { StepOutcome } from '../records.ts';
import { stepLocations } from '../runbook/checks.ts';
import type { Runbook } from '../runbook/model.ts';
import { LEARNING_WINDOW_DAYS } from './learning.ts';

/** Earlier runs an explanation reads (each one's step outcomes is one query): the newest of the window. */
export const EXPLAIN_HISTORY_EXECUTIONS = 50;
/** Finished runs' step outcomes kept in memory: a polled execution view re-reads only what is new. */
export const CACHED_FINISHED_RUNS = 1_000;

/**
 * Explains an execution from the store: its diagnostics' findings ranked into likely causes, and
 * predictions for the steps still to run from the runbook's recent finished runs. The approval
 * request and page, and the execution detail API (on AWS and embedded), all ask here.
 */
export class ExplainService {
  /** A finished run's steps do not change: read once per process (oldest evicted first). */
  private readonly finishedOutcomes = new Map<string, Promise<StepOutcome[]>>();

  constructor(
    private readonly deps: {
      store: Pick<Store, 'listStepOutcomes' | 'listExecutionsByRunbook'>;
      clock: Clock;
      logger: Logger;
      /** The runbooks this deployment runs: their steps are what is predicted. */
      runbooks: () => Runbook[] | Promise<Runbook[]>;
    },
  ) {}

  /**
   * `outcomes`: the execution's step outcomes when the caller has read them already. `steps`: the
   * steps to predict (an approval's plan); by default the runbook's steps that have not finished yet.
   */
  async explain(
    subject: ExplainSubject,
    options: { outcomes?: readonly StepOutcome[]; steps?: ReadonlyArray<{ id: string; name: string }> } = {},
  ): Promise<ExecutionExplanation> {
    const { store, clock } = this.deps;
    const now = clock.now();
    const since = new Date(now.getTime() - LEARNING_WINDOW_DAYS * 86_400_000).toISOString();
    const [outcomes, executions, runbooks] = await Promise.all([
      options.outcomes ?? store.listStepOutcomes(subject.id),
      store.listExecutionsByRunbook(subject.runbookId, since),
      this.deps.runbooks(),
    ]);
    const recent = executions
      .filter((execution) => execution.id !== subject.id && execution.outcome && !execution.dryRun)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
      .slice(0, EXPLAIN_HISTORY_EXECUTIONS);
    const past: PastRun[] = await Promise.all(
      recent.map(async (execution) => ({ execution, outcomes: await this.outcomesOfFinished(execution.id) })),
    );
    const runbook = runbooks.find((candidate) => candidate.id === subject.runbookId);
    return explainExecution({
      subject,
      outcomes,
      past,
      steps: options.steps ?? (runbook ? notYetRun(runbook, outcomes) : []),
      ...(runbook ? { runbook } : {}),
      now,
    });
  }

  private outcomesOfFinished(executionId: string): Promise<StepOutcome[]> {
    const cached = this.finishedOutcomes.get(executionId);
    if (cached) return cached;
    const reading = this.deps.store.listStepOutcomes(executionId);
    this.finishedOutcomes.set(executionId, reading);
    // A failed read is not kept: the next explanation asks again.
    reading.catch(() => this.finishedOutcomes.delete(executionId));
    if (this.finishedOutcomes.size > CACHED_FINISHED_RUNS) {
      const oldest = this.finishedOutcomes.keys().next().value;
      if (oldest !== undefined) this.finishedOutcomes.delete(oldest);
    }
    return reading;
  }

  /** The explanation, or undefined (logged) when it cannot be made: it never stops what asked for it. */
  async tryExplain(
    subject: ExplainSubject,
    options: Parameters<ExplainService['explain']>[1] = {},
  ): Promise<ExecutionExplanation | undefined> {
    try {
      return await this.explain(subject, options);
    } catch (error) {
      this.deps.logger.warn('could not explain the execution', {
        executionId: subject.id,
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }
}

/** The runbook's phase steps with no finished attempt in this execution, in declared order. */
export function notYetRun(
  runbook: Runbook,
  outcomes: readonly StepOutcome[],
): Array<{ id: string; name: string }> {
  const finished = new Set(
    outcomes
      .filter((outcome) => outcome.kind === 'step' && outcome.status !== 'running')
      .map((outcome) => outcome.stepId),
  );
  return stepLocations(runbook)
    .filter((location) => location.kind === 'phase' && !finished.has(location.step.id))
    .map((location) => ({ id: location.step.id, name: location.step.name }));
}
