import type { Clock } from './clock.js';
import { QueryTimeoutError } from './errors.js';
import type { HeldItem } from './mysql/batches.js';
import type { HeldTenure } from './store.js';

/** How a {@link RenewalSchedule} paces its batches. */
export interface RenewalPacing {
  /** Least time between the sending of two batches (ms); due renewals are collected on this grid. */
  readonly window: number;
  /** Most renewals in one statement; the rest wait for the next window. */
  readonly maxBatch: number;
  /** Time limit of one batch's statement (ms). */
  readonly timeout: number;
}

/** A lease of the engine that can be held: its name, its held tenure, and whether its own fenced transaction holds its row now. */
export interface Renewable {
  readonly name: string;
  readonly fenced: boolean;
  /** The tenure to renew when this lease's slot comes. */
  readonly tenure: HeldTenure | undefined;
  /** A renewal of this lease went into a batch (`true`) or its answer came (`false`): a fence waits for the one in flight. */
  inBatch(inFlight: boolean): void;
  /** The slot the schedule holds this lease in, if any: the schedule's to set, so that {@link RenewalSchedule.forget} finds it at once. */
  slot: number | undefined;
}

/** Renews many leases in one statement: `true` for each item renewed, in order, or `true` alone when every one was. */
export type RenewBatch = (items: readonly HeldItem[], signal: AbortSignal) => Promise<readonly boolean[] | true>;

/** Renews one lease by itself. */
export type RenewOne = (item: HeldItem, signal: AbortSignal) => Promise<boolean>;

/**
 * The renewals of every lease a `Leases` engine holds, on one timer: each
 * held tenure says when its next renewal is due (`HeldTenure.due`), the
 * schedule collects the renewals due by the end of the next window into one
 * batch (a renewal comes up to a window and a half early, never late: so
 * leases spread over a tick share about one statement per two windows),
 * asks each tenure for its renewal at that moment (`ask(now)`: the tenure
 * takes its deadline from the batch's one reading of the clock, made before
 * the batch is sent) and tells each the outcome of its own row (`settle`,
 * with one reading made after the answer). No timer, promise, signal or
 * clock reading per lease and per renewal in a batch (a renewal apart reads
 * the clock once more): a held lease costs its entry, whatever the tick.
 *
 * Paced as the other batches: at most one batch in flight, at most
 * `maxBatch` renewals in it, at least a `window` between two batches, so
 * that renewals stay under one statement per window however they fall; the
 * surplus waits, oldest first. A lease whose own fenced transaction holds
 * its row (`Renewable.fenced`) is renewed apart, by itself, under the limit
 * its tenure gives: that transaction never holds up everyone's batch.
 */
export class RenewalSchedule {
  readonly #clock: Clock;
  readonly #pacing: RenewalPacing;
  readonly #renew: RenewBatch;
  readonly #renewOne: RenewOne;
  /** Held leases by the window slot their renewal is due in (`due / window`, rounded): no object per renewal. */
  readonly #slots = new Map<number, Renewable[]>();
  /** Leases due, waiting for a batch, oldest first (the surplus of a full batch). */
  #ready: Renewable[] = [];
  /** Emptied slot arrays, for the next slots: an array kept for a tick would be old-generation garbage. */
  readonly #spare: Renewable[][] = [];
  #timer: unknown;
  /** When the timer fires (monotonic ms). */
  #timerAt = Infinity;
  #inFlight: Promise<void> | undefined;
  #lastSent = -Infinity;

  /** Renews with `renew` (batches) and `renewOne` (apart), paced by `pacing`, timed on `clock`. */
  constructor(clock: Clock, pacing: RenewalPacing, renew: RenewBatch, renewOne: RenewOne) {
    this.#clock = clock;
    this.#pacing = pacing;
    this.#renew = renew;
    this.#renewOne = renewOne;
  }

  /** Held tenures waiting for their renewal (in a slot or ready), for tests and close(). */
  get size(): number {
    let size = this.#ready.length;
    for (const slot of this.#slots.values()) size += slot.length;
    return size;
  }

  /**
   * Renews `lease.tenure` once when its `due` time comes (up to a window
   * and a half early, then paced); the tenure then holds again for the next.
   * A lease is held once at a time (see {@link forget}).
   */
  hold(lease: Renewable): void {
    const slot = Math.round((lease.tenure as HeldTenure).due / this.#pacing.window);
    lease.slot = slot;
    const leases = this.#slots.get(slot);
    if (leases) leases.push(lease);
    else {
      const fresh = this.#spare.pop() ?? [];
      fresh.push(lease);
      this.#slots.set(slot, fresh);
    }
    // Most holds fall after the slot the timer is armed for: nothing to look at then.
    if (this.#inFlight || Math.max(slot * this.#pacing.window, this.#lastSent + this.#pacing.window) >= this.#timerAt) return;
    this.#arm();
  }

  /** Drops what is held for `lease` (its election closed): no renewal of it is asked for any more. */
  forget(lease: Renewable): void {
    const at = lease.slot;
    lease.slot = undefined;
    const leases = at === undefined ? undefined : this.#slots.get(at);
    if (at !== undefined && leases) {
      const kept = leases.filter((other) => other !== lease);
      if (kept.length === 0) this.#slots.delete(at);
      else this.#slots.set(at, kept);
    }
    if (this.#ready.includes(lease)) this.#ready = this.#ready.filter((other) => other !== lease);
    if (this.size === 0 && !this.#inFlight) this.#disarm();
  }

  /** Waits for the batch in flight, if any. */
  async idle(): Promise<void> {
    while (this.#inFlight) await this.#inFlight;
  }

  #disarm(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /** Arms the one timer for the next thing to do: the next batch (paced), or the earliest slot. */
  #arm(): void {
    if (this.#inFlight) return; // its end arms the timer.
    let at: number;
    if (this.#ready.length > 0) at = this.#lastSent + this.#pacing.window;
    else {
      let first = Infinity;
      this.#slots.forEach((_, slot) => {
        if (slot < first) first = slot;
      }); // no iterator objects (a few dozen slots, once a batch)
      if (first === Infinity) return;
      at = Math.max(first * this.#pacing.window, this.#lastSent + this.#pacing.window);
    }
    if (at >= this.#timerAt) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#flush();
      },
      Math.max(0, at - this.#clock.now()),
    );
  }

  /**
   * Sends the next batch: the leases left over from the last one first, then
   * those due by the end of the next window, straight from their slots (what
   * does not fit waits in `#ready`). The clock is read once for the batch:
   * each tenure asked takes its deadline from that reading, made before the
   * statement is sent.
   */
  #flush(): void {
    const now = this.#clock.now();
    const last = Math.floor(now / this.#pacing.window) + 1; // the next window's too: one statement for both
    let due = this.#ready.length;
    this.#slots.forEach((leases, slot) => {
      if (slot <= last) due += leases.length;
    }); // no iterator objects (a few dozen slots, once a batch)
    // The tenures are the batch's items (name and term): no object per renewal. Arrays
    // of the most the batch can hold, cut to size after, rather than grown one push at a time.
    const room = Math.min(due, this.#pacing.maxBatch);
    const batch = new Array<HeldTenure>(room);
    const leases = new Array<Renewable>(room);
    let size = 0;
    const take = (lease: Renewable): void => {
      const tenure = lease.tenure;
      const limit = tenure?.ask(now);
      if (tenure === undefined || limit === undefined) return; // the tenure is over: nothing to send, and it is forgotten.
      if (lease.fenced) this.#apart(tenure, limit);
      else {
        batch[size] = tenure;
        leases[size++] = lease;
      }
    };
    let taken = 0;
    while (taken < this.#ready.length && size < room) take(this.#ready[taken++] as Renewable);
    if (taken === this.#ready.length) this.#ready.length = 0;
    else this.#ready = this.#ready.slice(taken);
    this.#slots.forEach((slotted, slot) => {
      if (slot > last) return;
      this.#slots.delete(slot);
      for (let i = 0; i < slotted.length; i++) {
        const lease = slotted[i] as Renewable;
        lease.slot = undefined;
        if (size < room) take(lease);
        else this.#ready.push(lease); // the surplus of a full batch, oldest first
      }
      slotted.length = 0; // keeps its room
      this.#spare.push(slotted);
    });
    batch.length = size;
    leases.length = size;
    if (size > 0) {
      this.#lastSent = now;
      this.#inFlight = this.#send(batch, leases).finally(() => {
        this.#inFlight = undefined;
        this.#arm();
      });
    } else this.#arm();
  }

  /** Sends one batch within its time limit and tells each tenure its own outcome, with one reading of the clock after the answer. */
  async #send(batch: readonly HeldTenure[], leases: readonly Renewable[]): Promise<void> {
    const { timeout } = this.#pacing;
    const controller = new AbortController();
    const timer = this.#clock.setTimeout(() => controller.abort(new QueryTimeoutError('renewing the leases', timeout)), timeout);
    for (let i = 0; i < leases.length; i++) (leases[i] as Renewable).inBatch(true);
    let answers: readonly boolean[] | true | undefined;
    let failure: Error | undefined;
    try {
      answers = await this.#renew(batch, controller.signal);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    } finally {
      this.#clock.clearTimeout(timer);
    }
    const now = this.#clock.now();
    for (let i = 0; i < leases.length; i++) {
      (leases[i] as Renewable).inBatch(false);
      (batch[i] as HeldTenure).settle(failure ?? (answers === true || answers?.[i] === true), now);
    }
  }

  /** Renews `tenure` by itself, within `limit` ms (asked at the batch's reading of the clock). */
  #apart(tenure: HeldTenure, limit: number): void {
    const controller = new AbortController();
    const timer = this.#clock.setTimeout(() => controller.abort(new QueryTimeoutError('renewing the lease', limit)), limit);
    const settle = (outcome: boolean | Error): void => {
      this.#clock.clearTimeout(timer);
      tenure.settle(outcome, this.#clock.now());
    };
    this.#renewOne(tenure, controller.signal).then(settle, (error: unknown) => settle(error instanceof Error ? error : new Error(String(error))));
  }
}
