import { lazyHandler } from './lazy.ts';

/** The learning-recorder Lambda's entry: nothing else is loaded until the first event (see lazy.ts). */
export const handler = lazyHandler(async () =>
  (await import('../composition/lambda/learning-recorder.ts')).buildLearningRecorderHandler(),
);
