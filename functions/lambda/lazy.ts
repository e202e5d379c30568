import type { Context } from 'aws-lambda';

/**
 * A Lambda handler built on its first invocation. The entry modules in functions/lambda/ import
 * nothing else statically, so a cold start loads a few hundred bytes; the handler, its wiring and
 * their dependencies are separate chunks loaded by the first event.
 */
export function lazyHandler<TEvent, TResult>(
  build: () =>
    | Promise<(event: TEvent, context: Context) => Promise<TResult>>
    | ((event: TEvent, context: Context) => Promise<TResult>),
): (event: TEvent, context: Context) => Promise<TResult> {
  let built: Promise<(event: TEvent, context: Context) => Promise<TResult>> | undefined;
  return async (event, context) => {
    // A failed build (a missing variable) is not cached: the next event tries again and logs again.
    built ??= Promise.resolve(build()).catch((error: unknown) => {
      built = undefined;
      throw error;
    });
    return (await built)(event, context);
  };
}
