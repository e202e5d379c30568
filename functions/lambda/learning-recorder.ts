import { lazyHandler } from './lazy.ts';

/**
 * The learning-recorder Lambda's entry: its handler and wiring load during init (top-level await), so the first
 * event pays for none of it; the handler is built, reading the environment, on the first event.
 */
const { buildLearningRecorderHandler } = await import('../composition/lambda/learning-recorder.ts');

export const handler = lazyHandler(buildLearningRecorderHandler);
