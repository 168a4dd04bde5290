import type { Clock } from './clock.js';
import { QueryTimeoutError } from './errors.js';

/** How a {@link Batcher} paces its batches. */
export interface BatcherOptions {
  /** What a batch is for, in errors (`renewing the leases`). */
  readonly what: string;
  /** Least time between the sending of two batches (ms): under load, requests wait up to this long and go together. */
  readonly window: number;
  /** Most requests in one batch; the rest wait for the next. */
  readonly maxBatch: number;
  /** Time limit of one batch's statements (ms). */
  readonly timeout: number;
}

/** Sends one batch: an answer for each request, in order, or a rejection for all. */
export type SendBatch<I, R> = (items: readonly I[], signal: AbortSignal) => Promise<readonly R[]>;

/** A request waiting for its batch, or in one. */
interface Pending<I, R> {
  readonly item: I;
  readonly signal: AbortSignal;
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Coalesces the requests of many elections into batches, one kind of
 * statement per batcher. Paced: at most one batch in flight, at most
 * `maxBatch` requests in it, and after a batch of more than one request,
 * none before a `window` has passed since it was sent: under load, requests
 * wait up to a window and share a statement, so the statements of a kind
 * stay under one per window. After a batch of one (a quiet batcher, or a
 * lone caller such as a loop of `withLock()` calls), the next goes as soon
 * as nothing is in flight: a request alone waits for nothing (the renewals,
 * whose rate must stay bounded however they fall, have a schedule of their
 * own: `RenewalSchedule`). Requests made
 * in the same turn of the event loop always go together. A burst (10,000
 * elections started together) is sent `maxBatch` at a time, and only its
 * requests wait in memory.
 *
 * A request whose signal has aborted when its batch is made is dropped
 * (never sent) and rejected with the signal's reason; one that aborts once
 * sent is answered with the batch. No listener is added to the signal (an
 * `addEventListener` and its removal cost more than the rest of a request
 * here): the caller, the elector's `StatementTimer`, rejects its own
 * caller the moment the signal aborts, and ignores the late answer.
 */
export class Batcher<I, R> {
  readonly #clock: Clock;
  readonly #options: BatcherOptions;
  readonly #send: SendBatch<I, R>;
  #queue: Pending<I, R>[] = [];
  #inFlight: Promise<void> | undefined;
  #timer: unknown;
  /** A flush is due in a microtask. */
  #soon = false;
  #lastSent = -Infinity;
  /** Requests in the last batch sent: after a batch of one the next need not wait for the window. */
  #lastSize = 0;

  /** Sends batches with `send`, paced by `options`, timed on `clock`. */
  constructor(clock: Clock, options: BatcherOptions, send: SendBatch<I, R>) {
    this.#clock = clock;
    this.#options = options;
    this.#send = send;
  }

  /** Requests waiting for a batch (aborted ones not yet dropped included). */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Adds `item` to the next batch; settles with its answer, or with `signal`'s reason if it has aborted when the batch is made. */
  submit(item: I, signal: AbortSignal): Promise<R> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, signal, resolve, reject });
      this.#schedule();
    });
  }

  /** Waits for the batches of every request submitted so far. */
  async idle(): Promise<void> {
    while (this.#inFlight || this.#queue.length > 0 || this.#soon || this.#timer !== undefined) {
      await (this.#inFlight ?? new Promise((resolve) => this.#clock.setTimeout(() => resolve(undefined), this.#options.window)));
    }
  }

  /** Arranges the next flush: at once (in a microtask) once a window has passed since the last batch (or after a batch of one), else when it has. */
  #schedule(): void {
    if (this.#inFlight || this.#soon || this.#timer !== undefined || this.#queue.length === 0) return;
    const wait = this.#lastSize <= 1 ? 0 : this.#lastSent + this.#options.window - this.#clock.now();
    if (wait <= 0) {
      this.#soon = true;
      queueMicrotask(() => {
        this.#soon = false;
        this.#flush();
      });
    } else {
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, wait);
    }
  }

  /** Sends the next batch: up to `maxBatch` requests still waiting. */
  #flush(): void {
    if (this.#inFlight) return;
    const batch: Pending<I, R>[] = [];
    let taken = 0;
    while (taken < this.#queue.length && batch.length < this.#options.maxBatch) {
      const pending = this.#queue[taken++] as Pending<I, R>;
      if (pending.signal.aborted) pending.reject(pending.signal.reason);
      else batch.push(pending);
    }
    this.#queue = taken === this.#queue.length ? [] : this.#queue.slice(taken);
    if (batch.length === 0) return;
    this.#lastSent = this.#clock.now();
    this.#lastSize = batch.length;
    this.#inFlight = this.#run(batch).finally(() => {
      this.#inFlight = undefined;
      this.#schedule();
    });
  }

  /** Runs one batch within its time limit and answers each of its requests. */
  async #run(batch: readonly Pending<I, R>[]): Promise<void> {
    const { what, timeout } = this.#options;
    const controller = new AbortController();
    const timer = this.#clock.setTimeout(() => controller.abort(new QueryTimeoutError(what, timeout)), timeout);
    try {
      const answers = await this.#send(
        batch.map((pending) => pending.item),
        controller.signal,
      );
      batch.forEach((pending, i) => pending.resolve(answers[i] as R));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }
}
