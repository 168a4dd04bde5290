import { setMaxListeners } from 'node:events';
import type { Clock } from './clock.js';
import { QueryTimeoutError } from './errors.js';

/** The controllers an elector or a job keeps for its next statements, which come one after the other. */
export const SPARE_CONTROLLERS = 4;

/**
 * Statements started together (within {@link COHORT_SPAN} ms of the first)
 * with the same purpose and time limit, and no signal of their caller: one
 * controller and one timer for all of them. A burst of 10,000 elections
 * reading their rows at once makes a few, not 10,000 (an AbortController,
 * its signal and a timer are about 2 KB, which would all live until the
 * batches are answered). At its limit, the statements still pending all
 * reject with the same `QueryTimeoutError`.
 */
interface Cohort {
  readonly what: string;
  readonly timeoutMs: number;
  readonly startedAt: number;
  readonly controller: AbortController;
  /** The rejections of the statements not settled yet. */
  readonly waiting: Set<(error: unknown) => void>;
  timer: unknown;
}

/**
 * How long after a cohort's first statement others may join it (ms): a
 * statement that joins later than its first has its time limit cut short by
 * as much, at most.
 */
const COHORT_SPAN = 5;

/**
 * Runs the statements of one elector (or of every election of a `Leases`
 * engine, or of a scheduled job), each with a time limit: when the limit
 * passes (or the caller's signal aborts) the statement's signal aborts, so
 * that the store abandons it, and the call rejects at once.
 *
 * An AbortController costs about 1 KB of garbage: statements started
 * together share one (see {@link Cohort}), and one whose statements all
 * settled without aborting is given back for the next ones. This relies on
 * the contract of `LeaseStore` (`store.ts`): a store removes the listeners
 * it added to a statement's signal before the statement settles.
 */
export class StatementTimer {
  readonly #clock: Clock;
  /** Controllers of statements that settled without aborting, for the next statements. */
  readonly #controllers: AbortController[] = [];
  /** The most controllers kept for the next statements. */
  readonly #keep: number;
  /** The cohort that statements started now join, if any. */
  #cohort: Cohort | undefined;

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
    if (caller) return this.#runAlone(what, statement, timeoutMs, caller);
    const cohort = this.#cohortFor(what, timeoutMs);
    return new Promise<T>((resolve, reject) => {
      cohort.waiting.add(reject);
      statement(cohort.controller.signal).then(
        (value) => {
          if (this.#leave(cohort, reject)) resolve(value);
        },
        (error: unknown) => {
          if (this.#leave(cohort, reject)) reject(error);
        },
      );
    });
  }

  /** The cohort a statement started now joins: the current one if it is alike and young enough, else a new one. */
  #cohortFor(what: string, timeoutMs: number): Cohort {
    const now = this.#clock.now();
    const current = this.#cohort;
    if (current && current.what === what && current.timeoutMs === timeoutMs && now - current.startedAt <= COHORT_SPAN) return current;
    const cohort: Cohort = {
      what,
      timeoutMs,
      startedAt: now,
      controller: this.#controllers.pop() ?? newStatementController(),
      waiting: new Set(),
      timer: undefined,
    };
    cohort.timer = this.#clock.setTimeout(() => {
      if (this.#cohort === cohort) this.#cohort = undefined;
      const error = new QueryTimeoutError(what, timeoutMs);
      cohort.controller.abort(error);
      for (const reject of cohort.waiting) reject(error);
      cohort.waiting.clear();
    }, timeoutMs);
    this.#cohort = cohort;
    return cohort;
  }

  /**
   * A statement of `cohort` settled: whether its caller is still waiting
   * (not timed out). The last one to settle ends the cohort: its timer is
   * cleared and its controller kept for the next statements.
   */
  #leave(cohort: Cohort, reject: (error: unknown) => void): boolean {
    if (!cohort.waiting.delete(reject)) return false;
    if (cohort.waiting.size === 0) {
      if (this.#cohort === cohort) this.#cohort = undefined;
      this.#clock.clearTimeout(cohort.timer);
      // Every statement of it has settled: nothing listens to the signal any more.
      if (this.#controllers.length < this.#keep) this.#controllers.push(cohort.controller);
    }
    return true;
  }

  /** A statement with a caller's signal, which may abort it alone: a controller and a timer of its own. */
  #runAlone<T>(what: string, statement: (signal: AbortSignal) => Promise<T>, timeoutMs: number, caller: AbortSignal): Promise<T> {
    const controller = this.#controllers.pop() ?? newStatementController();
    return new Promise<T>((resolve, reject) => {
      const fail = (error: unknown): void => {
        controller.abort(error);
        reject(error);
      };
      const onCallerAbort = (): void => fail(caller.reason);
      const timer = this.#clock.setTimeout(() => fail(new QueryTimeoutError(what, timeoutMs)), timeoutMs);
      caller.addEventListener('abort', onCallerAbort, { once: true });
      const settle = (): void => {
        this.#clock.clearTimeout(timer);
        caller.removeEventListener('abort', onCallerAbort);
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
 * old-generation growth of 1,000 elections, measured). Any number of
 * statements of a cohort may listen to it at once, without Node's warning
 * of a leak past 10 listeners.
 */
function newStatementController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  controller.signal.addEventListener('abort', () => {});
  return controller;
}
