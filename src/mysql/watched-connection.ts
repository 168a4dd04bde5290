/**
 * A connection that a node set hands out: the driver's own object, seen
 * through a Proxy that tells the node set when a call on it fails because
 * the node cannot serve (see `isNodeFailure`). Every property and method is
 * the driver's; methods run on the driver's object itself, so that the
 * drivers' private fields (mariadb's `#conn`) still work, and `instanceof`
 * still holds.
 */
import { isNodeFailure } from './errors.js';

/** Calls after which what fails says nothing of the node: the connection was given back or closed on purpose. */
const ENDINGS: ReadonlySet<PropertyKey> = new Set(['release', 'destroy', 'end', 'close']);

type Method = (...args: unknown[]) => unknown;

/**
 * `connection`, watched: `onNodeFailure` is called when a promise returned
 * by one of its methods rejects with a node failure, until the connection
 * is released, destroyed or ended. The promise itself is returned unchanged.
 */
export function watchConnection<C extends object>(connection: C, onNodeFailure: () => void): C {
  let watching = true;
  const onRejected = (error: unknown): void => {
    if (watching && isNodeFailure(error)) onNodeFailure();
  };
  /** Each method's watched version, made once per name (and again if the driver's method changed). */
  const methods = new Map<PropertyKey, { readonly original: Method; readonly watched: Method }>();
  const watchedMethod = (target: C, key: PropertyKey, original: Method): Method => {
    const known = methods.get(key);
    if (known?.original === original) return known.watched;
    const watched: Method = (...args) => {
      if (ENDINGS.has(key)) watching = false;
      const result = Reflect.apply(original, target, args);
      if (watching && isThenable(result)) void result.then(undefined, onRejected);
      return result;
    };
    methods.set(key, { original, watched });
    return watched;
  };
  return new Proxy(connection, {
    get(target, key) {
      // The driver's getters read its private fields: run them on the driver's object.
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? watchedMethod(target, key, value as Method) : value;
    },
    set(target, key, value) {
      return Reflect.set(target, key, value, target);
    },
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}
