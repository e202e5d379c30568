import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { TaskPayload } from '../core/execution-contract.ts';
import type { StepRunner } from '../core/services/step-runner.ts';
import type { Logger } from '../ports/logger.ts';
import { parseValue } from './http.ts';
import { deadlineOf, taskErrors } from './task.ts';

/** The step-runner Lambda: every Task of every compiled runbook, except approvals. */
export function createStepRunnerHandler(options: { runner: StepRunner; logger: Logger }) {
  return middy(async (event: unknown, context: Context) => {
    const payload = parseValue(TaskPayload, event, 'the task payload');
    return options.runner.handle(payload, { deadline: deadlineOf(context) });
  }).use(taskErrors(options.logger, 'task'));
}
