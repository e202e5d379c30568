import { lazyHandler } from './lazy.ts';

/**
 * The ingest Lambda's entry: its handler and wiring load during init (top-level await), so the first
 * event pays for none of it; the handler is built, reading the environment, on the first event.
 */
const { buildIngestHandler } = await import('../composition/lambda/ingest.ts');

export const handler = lazyHandler(buildIngestHandler);
