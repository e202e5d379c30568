import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { LocalExecutionEngine } from '../../../functions/adapters/local/local-engine.ts';
import type { StateMachineDefinition } from '../../../functions/core/compiler/asl.ts';
import { Substitution, WAIT_FOR_TASK_TOKEN_RESOURCE } from '../../../functions/core/execution-contract.ts';
import { systemClock } from '../../../functions/ports/clock.ts';
import { silentLogger } from '../../../functions/ports/logger.ts';
import { describeExecutionEngineContract, type ObservedExecution } from '../execution-engine.contract.ts';

const RUNBOOK_ID = 'node-filesystem-filling';
const WAITING_STATE = 'Approval: contract';

/**
 * The machine the contract needs, as the compiler emits a `.waitForTaskToken` Task: its first state
 * waits for a task token, has no Catch, and its result is the execution's. The payload names the
 * machine and carries the execution's name and input, so the handler sees what the runtime started.
 */
function waitingMachine(runbookId: string): StateMachineDefinition {
  return {
    Comment: `contract machine for ${runbookId}`,
    StartAt: WAITING_STATE,
    States: {
      [WAITING_STATE]: {
        Type: 'Task',
        Resource: WAIT_FOR_TASK_TOKEN_RESOURCE,
        Parameters: {
          FunctionName: `\${${Substitution.ReadOnlyRunner}}`,
          Payload: {
            kind: 'checkpoint',
            'taskToken.$': '$$.Task.Token',
            runbookId,
            'name.$': '$$.Execution.Name',
            'input.$': '$',
          },
        },
        TimeoutSeconds: 3_600,
        End: true,
      },
    },
  };
}

interface HeldTask extends ObservedExecution {
  taskToken: string;
}

describeExecutionEngineContract('LocalExecutionEngine (aws-local-stepfunctions, journal on disk)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'runbook-local-engine-contract-'));
  // What the Task handler was invoked with, in order: the runtime's own account of what it started.
  const held: HeldTask[] = [];
  const record = async (event: unknown) => {
    const { runbookId, name, input, taskToken } = event as HeldTask;
    held.push({ runbookId, name, input, taskToken });
    // Returning hands the task back to the engine, which holds it until its token is used.
    return undefined;
  };
  const engine = new LocalExecutionEngine({
    definitions: (runbookId) => (runbookId === RUNBOOK_ID ? waitingMachine(runbookId) : undefined),
    handlers: { stepRunner: record, approvalRequest: record },
    dataDir,
    clock: systemClock,
    logger: silentLogger,
  });
  return {
    engine,
    runbookId: RUNBOOK_ID,
    observe: {
      startedExecutions: async () => held.map(({ runbookId, name, input }) => ({ runbookId, name, input })),
      waitingTaskToken: (runbookId, executionId) =>
        vi.waitFor(
          () => {
            const task = held.findLast(
              (entry) => entry.runbookId === runbookId && entry.name === executionId,
            );
            if (!task) throw new Error(`execution ${executionId} has not entered ${WAITING_STATE} yet`);
            return task.taskToken;
          },
          { timeout: 5_000, interval: 10 },
        ),
    },
    dispose: async () => {
      await engine.shutdown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
