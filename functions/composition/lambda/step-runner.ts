import { createStepRunnerHandler } from '../../handlers/step-runner.ts';
import { stepRunnerWiring } from '../aws-step-runner.ts';

/**
 * The step-runner Lambda's handler and only the wiring it uses: named imports, so the bundle leaves out what
 * the other functions build (functions/lambda/step-runner.ts loads this module on the first event).
 */
export function buildStepRunnerHandler() {
  return createStepRunnerHandler(stepRunnerWiring());
}
