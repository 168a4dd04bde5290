import type { Clock } from './clock.js';
import { QueryTimeoutError } from './errors.js';

/** The controllers an elector or a job keeps for its next statements, which come one after the other. */
export const SPARE_CONTROLLERS = 4;

/**
 * Runs the statements of one elector (or of every election of a `Leases`
 * engine, or of a scheduled job), each with a time limit: when the limit
 * passes (or the caller's signal aborts) the statement's signal aborts, so
 * that the store abandons it, and the call rejects at once.
 *
 * An AbortController costs about 1 KB of garbage: a statement that settles
 * without aborting gives its controller back for the next one. This relies
 * on the contract of `LeaseStore` (`store.ts`): a store removes the listeners
 * it added to a statement's signal before the statement settles.
 */
export class StatementTimer {
  readonly #clock: Clock;
  /** Controllers of statements that settled without aborting, for the next statements. */
  readonly #controllers: AbortController[] = [];
  /** The most controllers kept for the next statements. */
  readonly #keep: number;

  /**
   * Times statements on `clock`, keeping up to `keep` controllers for the
   * next statements: a few for one elector or job (its statements come one
   * after the other); a batch's worth for a `Leases` engine, whose
   * elections share one timer (one free list for 10,000 elections, rather
   * than one controller kept per election, or a new one per statement).
   */
  constructor(clock: Clock, keep: number) {
    this.#clock = clock;
    this.#keep = keep;
  }

  /**
   * Runs `statement` with a signal that aborts after `timeoutMs` (with a
   * `QueryTimeoutError` naming `what`) or when `caller` aborts (with its
   * reason); settles as the statement does, or with that reason if first.
   */
  run<T>(what: string, statement: (signal: AbortSignal) => Promise<T>, timeoutMs: number, caller?: AbortSignal): Promise<T> {
    const controller = this.#controllers.pop() ?? newStatementController();
    return new Promise<T>((resolve, reject) => {
      const fail = (error: unknown): void => {
        controller.abort(error);
        reject(error);
      };
      const onCallerAbort = (): void => fail(caller?.reason);
      const timer = this.#clock.setTimeout(() => fail(new QueryTimeoutError(what, timeoutMs)), timeoutMs);
      caller?.addEventListener('abort', onCallerAbort, { once: true });
      const settle = (): void => {
        this.#clock.clearTimeout(timer);
        caller?.removeEventListener('abort', onCallerAbort);
        // The store has settled too: nothing of this statement listens to the signal any more.
        if (!controller.signal.aborted && this.#controllers.length < this.#keep) this.#controllers.push(controller);
      };
      statement(controller.signal).then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }
}

/**
 * A controller for statements, reused from one statement to the next. Its
 * signal keeps a listener of its own: without it, Node deletes and re-creates
 * the signal's listener list whenever a statement's listener is removed,
 * which allocates in V8's old generation each time (a third of the
 * old-generation growth of 1,000 elections, measured).
 */
function newStatementController(): AbortController {
  const controller = new AbortController();
  controller.signal.addEventListener('abort', () => {});
  return controller;
}
