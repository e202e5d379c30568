import { createIngestHandler } from '../../handlers/ingest.ts';
import { ingestWiring } from '../aws.ts';

/**
 * The ingest Lambda's handler and only the wiring it uses: named imports, so the bundle leaves out what
 * the other functions build (functions/lambda/ingest.ts loads this module on the first event).
 */
export function buildIngestHandler() {
  return createIngestHandler(ingestWiring());
}
