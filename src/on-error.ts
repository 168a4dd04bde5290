/**
 * Decides, for each database error met while campaigning, whether the
 * election stops (return the error to reject `acquire()` with, after stepping
 * down) or goes on at the next tick (return nothing). May be async.
 */
export type OnError = (error: Error) => Error | undefined | void | Promise<Error | undefined | void>;

/** The default strategy: the first database error stops the election and rejects `acquire()` with it. */
export const abortOnError: OnError = (error) => error;

/**
 * Keeps campaigning through database errors (each one still ends a tenure it
 * put in doubt, and is still emitted as an `error` event).
 */
export const continueOnError: OnError = () => undefined;
