import { createClassifierHandler } from '../../handlers/classifier.ts';
import { classifierWiring } from '../aws.ts';

/**
 * The classifier Lambda's handler and only the wiring it uses: named imports, so the bundle leaves out what
 * the other functions build (functions/lambda/classifier.ts loads this module on the first event).
 */
export function buildClassifierHandler() {
  return createClassifierHandler(classifierWiring());
}
