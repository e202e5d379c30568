import { lazyHandler } from './lazy.ts';

/**
 * The step-runner Lambda's entry: its handler and wiring load during init (top-level await), so the first
 * event pays for none of it; the handler is built, reading the environment, on the first event.
 */
const { buildStepRunnerHandler } = await import('../composition/lambda/step-runner.ts');

export const handler = lazyHandler(buildStepRunnerHandler);
