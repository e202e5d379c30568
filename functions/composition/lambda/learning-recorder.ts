import { createLearningRecorderHandler } from '../../handlers/learning-recorder.ts';
import { learningWiring } from '../aws.ts';

/**
 * The learning-recorder Lambda's handler and only the wiring it uses: named imports, so the bundle leaves out what
 * the other functions build (functions/lambda/learning-recorder.ts loads this module on the first event).
 */
export function buildLearningRecorderHandler() {
  return createLearningRecorderHandler(learningWiring());
}
