import { lazyHandler } from './lazy.ts';

/**
 * The control Lambda's entry: its handler and wiring load during init (top-level await), so the first
 * event pays for none of it; the handler is built, reading the environment, on the first event.
 */
const { buildControlHandler } = await import('../composition/lambda/control.ts');

export const handler = lazyHandler(buildControlHandler);
