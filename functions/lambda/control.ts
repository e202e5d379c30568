import { lazyHandler } from './lazy.ts';

/** The control Lambda's entry: nothing else is loaded until the first event (see lazy.ts). */
export const handler = lazyHandler(async () =>
  (await import('../composition/lambda/control.ts')).buildControlHandler(),
);
