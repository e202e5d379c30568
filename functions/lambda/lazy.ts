import type { Context } from 'aws-lambda';

/**
 * A Lambda handler built on its first invocation. The entries in functions/lambda/ load its code
 * during init (a top-level `await import`); building it reads the environment, so a missing variable
 * fails an event with a clear message (and the next event tries again) rather than the init.
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
