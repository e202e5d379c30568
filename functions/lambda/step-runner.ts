import { lazyHandler } from './lazy.ts';

/** The step-runner Lambda's entry: nothing else is loaded until the first event (see lazy.ts). */
export const handler = lazyHandler(async () =>
  (await import('../composition/lambda/step-runner.ts')).buildStepRunnerHandler(),
);
