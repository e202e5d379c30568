import { createControlHandler } from '../../handlers/control.ts';
import { controlWiring, runbooks } from '../aws.ts';

/**
 * The control Lambda's handler and only the wiring it uses: named imports, so the bundle leaves out what
 * the other functions build (functions/lambda/control.ts loads this module on the first event).
 */
export function buildControlHandler() {
  return createControlHandler({ ...controlWiring(), runbooks });
}
