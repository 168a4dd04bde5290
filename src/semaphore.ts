/**
 * A counting semaphore on a `Leases` engine: up to `permits` holders at
 * once, across processes, each holding one permit as a lease of its own.
 *
 * Permit `k` of the semaphore `NAME` is the election row `NAME` + U+0000 +
 * `k` (U+0000 is refused in every election name, so these rows can belong to
 * nothing else). A holder is the leader of one of those rows: its term,
 * deadline and signal are that election's, and so are its guarantees
 * (DESIGN section 2), row by row. On top of them this file adds one rule:
 * a caller takes only a slot below its `permits`, and only while no slot
 * at or above them that it used before (a *retired* slot, after `permits`
 * was lowered) may still be held.
 *
 * The modes of the semaphore, and the fields that hold them:
 * - idle: no waiter; `#slots` holds only the slots of holders.
 * - campaigning: waiters in `#waiters` (first come, first served), and a
 *   campaign in `#slots` on every offered slot this object does not hold;
 *   the first campaign to win is handed to the first waiter, and the
 *   campaigns nobody needs any more are stopped (released if they won).
 * - blocked: waiters, but a retired slot (in `#retired`) may still be held:
 *   no campaign below `permits`; a campaign on each retired slot instead,
 *   which proves it free by winning it (and releases it at once).
 * `#pump()` moves between them after every change.
 */
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { BatchedStore } from './batched-store.js';
import { ClosedError, LeadershipEndedError, OptionRangeError, OptionTypeError, PermitTimeoutError } from './errors.js';
import type { RenewedEvent, RevokedEvent } from './events.js';
import { checkWait, type LockOptions } from './leases-options.js';
import type { MysqlLeader } from './mysql-leader.js';
import type { Queryable } from './mysql/driver.js';
import { remainingUnder, type LockContext } from './tenure.js';

/** The most permits a semaphore has: each is a row, and a waiter campaigns for every free one. */
export const MAX_PERMITS = 1000;

/** Separates a semaphore's name from its slot numbers in the rows of its permits; refused in every election name. */
export const SLOT_SEPARATOR = '\u0000';

/** The longest name of a semaphore: its rows' names (name, separator, up to 3 digits) fit in 255 characters. */
const MAX_SEMAPHORE_NAME = 255 - 1 - String(MAX_PERMITS - 1).length;

/** The reason a campaign is stopped with when no waiter needs it any more (never seen outside). */
const UNNEEDED = Symbol('unneeded');

const show = (value: unknown): string => inspect(value, { breakLength: Infinity, maxStringLength: 80 });

/**
 * A permit of a {@link Semaphore}, held from `acquire()` until `release()`
 * (or until its lease is lost: then `signal` has aborted).
 */
export interface Permit extends LockContext, AsyncDisposable {
  /** Which permit this is, from 0 to `permits - 1` (the row `NAME` + U+0000 + `slot`). */
  readonly slot: number;
  /**
   * Gives the permit back: ends its tenure (`signal` aborts, with reason
   * `closed`), releases the row, and resolves once a waiter can have it.
   * Idempotent; also after the lease was lost.
   */
  release(): Promise<void>;
}

/** Which permit an event of a {@link Semaphore} is about. */
export interface PermitEvent {
  /** The permit's slot. */
  readonly slot: number;
  /** The permit's term. */
  readonly term: number;
}

/** The events of a {@link Semaphore}: its own permits', as their elections emit them, with their slot. */
export interface SemaphoreEvents {
  /** A permit was handed to a caller of `acquire()`. */
  acquired: [PermitEvent];
  /** A permit's lease was renewed. */
  renewed: [RenewedEvent & PermitEvent];
  /** A permit's tenure ended: released, or lost (then its signal aborted with the same reason). */
  revoked: [RevokedEvent & PermitEvent];
}

/**
 * What a {@link Semaphore} needs of its engine.
 * @internal
 */
export interface SemaphoreEngine<DB extends Queryable> {
  /** An election of the engine under `name`, not campaigning yet; `undefined` once the engine closes (or when it has that name in use). */
  open(name: string): { readonly election: MysqlLeader<DB>; readonly store: BatchedStore } | undefined;
  /** Whether the engine is closing. */
  readonly closing: () => boolean;
  /** The semaphore closed: its name is free in the engine again. */
  closed(): void;
}

/** A slot this semaphore has an election for: a campaign, or a holder's lease. */
interface Slot {
  readonly slot: number;
  readonly election: MysqlLeader;
  readonly store: BatchedStore;
  /** Ends the campaign (its lease, if it won, is released). */
  readonly stop: AbortController;
  /** The permit it was handed to, once it won. */
  permit: Permit | undefined;
  /** It won a tenure: once it is over, the row is released (as far as this process knows). */
  won: boolean;
  /** Its first attempt (a read, and the claim it leads to) has not ended yet. */
  probing: boolean;
  /** Settles once the campaign is over and the election closed: the slot is free here again. */
  done: Promise<void>;
}

/** A caller of `acquire()` waiting for a permit. */
interface Waiter {
  readonly resolve: (permit: Permit) => void;
  readonly reject: (error: unknown) => void;
  /** Its `wait` has passed: it gives up as soon as no campaign is in the middle of an attempt. */
  late: boolean;
  /** The error it gives up with. */
  readonly timeout: () => PermitTimeoutError;
  /** The caller's signal: once the permit is held, it ends its lease too. */
  readonly signal: AbortSignal | undefined;
}

/**
 * Up to `permits` holders at once, across every process that uses the
 * semaphore of that name with that many permits. Made by
 * {@link Leases.semaphore}.
 *
 * ```ts
 * const uploads = leases.semaphore('uploads', 3);
 * await uploads.using(async ({ slot, term, signal }) => upload(file, { signal }), { wait: 60_000 });
 * ```
 *
 * Each holder holds one permit, a lease of its own, renewed in the engine's
 * batches: its own `term` (the fencing token of that permit), `signal`
 * (aborted the moment the lease is in doubt) and `remainingMs`.
 *
 * `permits` is each caller's own: every process must pass the same number.
 * Two that pass different numbers hold at most the larger of them between
 * them (each takes only slots below its own). Lowering `permits` on a
 * semaphore evicts nobody: holders of the slots at or above the new number
 * keep their permits until they release them, and meanwhile it takes no
 * new holder at all; once each of those slots is free (released here, or
 * won and released at once by this semaphore, which sees holders in other
 * processes too) it takes holders below the new number again. Lower it in
 * every process: one that still has the old number goes on using the
 * higher slots.
 */
export class Semaphore<DB extends Queryable = Queryable> extends EventEmitter<SemaphoreEvents> implements AsyncDisposable {
  /** The semaphore's name (its rows are this name, U+0000, and a slot number). */
  readonly name: string;
  readonly #engine: SemaphoreEngine<DB>;
  #permits: number;
  /** Slots at or above `#permits` that this semaphore offered before, which may still be held (here or elsewhere). */
  readonly #retired = new Set<number>();
  /** The slots this semaphore has an election for, campaigning or held. */
  readonly #slots = new Map<number, Slot>();
  readonly #waiters: Waiter[] = [];
  #closing: Promise<void> | undefined;

  /** @internal Use `Leases.semaphore()`. */
  constructor(name: string, permits: number, engine: SemaphoreEngine<DB>) {
    super();
    this.name = name;
    this.#permits = permits;
    this.#engine = engine;
  }

  /**
   * How many holders the semaphore takes at once. Setting it takes effect
   * for the next holders, never evicts one: lowered, it takes no new holder
   * until those above the new number have released their permits (see the
   * class). Throws `OptionTypeError`/`OptionRangeError` naming `permits`
   * for anything but a whole number from 1 to 1000.
   */
  get permits(): number {
    return this.#permits;
  }

  /** Changes the permits in force (see the getter). */
  set permits(value: number) {
    const permits = checkPermits(value);
    const previous = this.#permits;
    this.#permits = permits;
    for (let slot = permits; slot < previous; slot++) this.#retired.add(slot);
    for (const slot of [...this.#retired]) if (slot < permits) this.#retired.delete(slot);
    this.#pump();
  }

  /** How many permits this semaphore (in this process) holds now. */
  get held(): number {
    let held = 0;
    for (const slot of this.#slots.values()) if (slot.permit && !slot.permit.signal.aborted) held++;
    return held;
  }

  /**
   * Takes a permit, waiting at most `options.wait` ms (`0`, the default:
   * tries once, one read of each free slot and a claim) for a holder to
   * let go. A release in this process is seen at once, one in another
   * process at the next read (within a `tick`), a crashed holder's permit
   * once its lease has run out (about `age`).
   *
   * Rejects with {@link PermitTimeoutError} when none was free in time, with
   * `options.signal`'s reason when it aborts first, with `ClosedError` once
   * the semaphore or its engine closes, and with a database error the
   * engine's `onError` stops on. The permit's `signal` aborts (and
   * `options.signal` aborts it too) the moment its lease is in doubt:
   * release it then, after the work stopped.
   */
  acquire(options?: LockOptions): Promise<Permit> {
    if (this.#closing || this.#engine.closing()) return Promise.reject(new ClosedError('acquire', 'Semaphore'));
    let wait: number;
    try {
      wait = checkWait(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Permit>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        this.#pump();
      };
      const waiter: Waiter = {
        resolve: (permit) => {
          settle();
          resolve(permit);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        late: false,
        timeout: () => new PermitTimeoutError(this.name, this.#permits, wait),
        signal,
      };
      const onAbort = (): void => waiter.reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        waiter.late = true;
        this.#giveUpLate();
      }, wait);
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  /**
   * Runs `fn` under a permit: takes one as `acquire(options)` does, runs
   * `fn({ slot, term, signal, remainingMs })` while its lease is renewed,
   * then releases it and returns what `fn` returned (or rejects with what
   * it threw). `fn` must stop when `signal` aborts: the permit is no longer
   * sure to be this holder's.
   */
  async using<T>(fn: (permit: Permit) => Promise<T>, options?: LockOptions): Promise<T> {
    const permit = await this.acquire(options);
    try {
      return await fn(permit);
    } finally {
      await permit.release();
    }
  }

  /**
   * Closes the semaphore: waiters reject with `ClosedError`, every permit
   * it holds ends (its signal aborts with reason `closed`) and is released.
   * Idempotent. `Leases.close()` ends the permits and waiters as well.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.resolve(); // #closing is set before the waiters learn it (their settling runs #pump).
      for (const waiter of [...this.#waiters]) waiter.reject(new ClosedError('acquire', 'Semaphore'));
      await Promise.all([...this.#slots.values()].map((slot) => slot.election.close().then(() => slot.done)));
      this.#engine.closed();
    })();
    return this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Starts and stops campaigns for the waiters there are, the permits in
   * force, and the retired slots: while one may be held, its slot is
   * campaigned for instead (a campaign that wins it proves it free, by the
   * protocol's own rules, and releases it at once).
   */
  #pump(): void {
    if (this.#closing) return;
    if (this.#engine.closing()) {
      for (const waiter of [...this.#waiters]) waiter.reject(new ClosedError('acquire', 'Semaphore'));
      return;
    }
    const waiting = this.#waiters.length > 0;
    const blocked = this.#blocked();
    for (const slot of this.#slots.values()) {
      if (slot.permit) continue;
      const wanted = waiting && (slot.slot < this.#permits ? !blocked : this.#retired.has(slot.slot));
      if (!wanted) slot.stop.abort(UNNEEDED);
    }
    if (!waiting) return;
    if (blocked) {
      for (const number of this.#retired) if (!this.#slots.has(number)) this.#campaign(number);
      return;
    }
    // No more first attempts at once than there are waiters (a waiter alone claims one free slot, not all of
    // them); a slot found held is watched on, and the next slot tried.
    let probing = 0;
    for (const slot of this.#slots.values()) if (slot.probing && !slot.stop.signal.aborted) probing++;
    for (let slot = 0; slot < this.#permits && probing < this.#waiters.length; slot++) {
      if (!this.#slots.has(slot) && this.#campaign(slot)) probing++;
    }
  }

  /** Whether a retired slot may still be held: then no new holder is taken. */
  #blocked(): boolean {
    return this.#retired.size > 0;
  }

  /** Campaigns for `slot`, for whichever waiter is first when it wins; `false` when the engine is closing. */
  #campaign(number: number): boolean {
    const opened = this.#engine.open(slotName(this.name, number));
    if (!opened) return false; // the engine's close ends the other campaigns too, and #pump then rejects the waiters.
    const { election, store } = opened;
    const slot: Slot = { slot: number, election, store, stop: new AbortController(), permit: undefined, won: false, probing: true, done: Promise.resolve() };
    this.#slots.set(number, slot);
    election.once('elected', ({ term }) => this.#won(slot, term));
    // The permit's tenure over: no second tenure under it, whose holder nobody would be.
    election.once('revoked', ({ term, reason }) => slot.stop.abort(new LeadershipEndedError(term, reason)));
    store.onAttempt = () => {
      if (slot.probing) {
        slot.probing = false;
        this.#pump(); // the next slot's turn
      }
      this.#giveUpLate();
    };
    const campaign = election.acquire(slot.stop.signal);
    slot.done = campaign
      .then(
        () => undefined, // closed (this semaphore's release or close, or the engine's close)
        (error: unknown) => (slot.stop.signal.aborted && error === slot.stop.signal.reason ? undefined : error),
      )
      .then(async (failure) => {
        await election.close();
        this.#slots.delete(number);
        // Won and released here: a retired slot is vacant now, as far as this process knows.
        if (slot.won) this.#retired.delete(number);
        // A database error the engine's onError stopped on: the waiters learn it.
        if (failure !== undefined) for (const waiter of [...this.#waiters]) waiter.reject(failure);
        this.#pump();
        this.#giveUpLate(); // a late waiter that waited for this campaign's end, if no other follows it.
      });
    return true;
  }

  /** `slot` won a tenure under `term`: the first waiter's permit, or released when nobody waits any more. */
  #won(slot: Slot, term: number): void {
    slot.probing = false;
    slot.won = true;
    const waiter = this.#waiters[0];
    if (!waiter || this.#closing || slot.slot >= this.#permits || this.#blocked()) {
      slot.stop.abort(UNNEEDED);
      return;
    }
    const { election } = slot;
    const signal = election.signal;
    let released: Promise<void> | undefined;
    const release = (): Promise<void> => {
      released ??= election.close().then(() => slot.done);
      return released;
    };
    const permit: Permit = {
      slot: slot.slot,
      term,
      signal,
      get remainingMs() {
        return remainingUnder(election, term);
      },
      release,
      [Symbol.asyncDispose]: release,
    };
    slot.permit = permit;
    const caller = waiter.signal;
    if (caller) {
      // The caller's signal aborting ends the permit's lease (reason `aborted`), as withLock's does.
      const onAbort = (): void => slot.stop.abort(caller.reason);
      caller.addEventListener('abort', onAbort, { once: true });
      void slot.done.then(() => caller.removeEventListener('abort', onAbort));
    }
    const number = slot.slot;
    election.on('renewed', (event) => this.#emit('renewed', { ...event, slot: number }));
    election.once('revoked', (event) => this.#emit('revoked', { ...event, slot: number }));
    waiter.resolve(permit);
    this.#emit('acquired', { slot: number, term });
  }

  /** Emits without letting a throwing listener break the semaphore: its error is rethrown on its own. */
  #emit<K extends keyof SemaphoreEvents>(event: K, ...args: SemaphoreEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: SemaphoreEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  }

  /**
   * Rejects the late waiters (their `wait` has passed) with a
   * `PermitTimeoutError`, unless a campaign is in the middle of an attempt
   * (a read, and the claim it leads to): `wait: 0` tries once. A turn of the
   * event loop first, so that a claim just won is handed out before.
   */
  #giveUpLate(): void {
    setImmediate(() => {
      // A campaign being stopped counts as an attempt to come: a new one starts on its slot once it is over.
      if ([...this.#slots.values()].some((slot) => !slot.permit && (slot.store.attempting || slot.stop.signal.aborted))) return;
      for (const waiter of this.#waiters.filter((waiter) => waiter.late)) {
        waiter.reject(waiter.timeout());
      }
    });
  }
}

/** The row of permit `slot` of the semaphore `name`. */
export function slotName(name: string, slot: number): string {
  return `${name}${SLOT_SEPARATOR}${slot}`;
}

/** `name` of a semaphore, validated: 1 to 251 characters, no U+0000, no white space at the end. */
export function checkSemaphoreName(name: unknown): string {
  if (typeof name !== 'string') throw new OptionTypeError(['name'], `name must be a string, received ${show(name)}`);
  const length = [...name].length;
  if (length === 0 || length > MAX_SEMAPHORE_NAME) {
    throw new OptionRangeError(['name'], `name must be 1 to ${MAX_SEMAPHORE_NAME} characters long, received ${length} characters: ${show(name)}`);
  }
  if (name.includes(SLOT_SEPARATOR)) throw new OptionRangeError(['name'], `name must not contain U+0000, received ${show(name)}`);
  if (/\s$/u.test(name)) throw new OptionRangeError(['name'], `name must not end with white space, received ${show(name)}`);
  return name;
}

/** `permits`, validated: a whole number from 1 to {@link MAX_PERMITS}. */
export function checkPermits(permits: unknown): number {
  if (typeof permits !== 'number' || !Number.isInteger(permits)) {
    throw new OptionTypeError(['permits'], `permits must be a whole number, received ${show(permits)}`);
  }
  if (permits < 1 || permits > MAX_PERMITS) {
    throw new OptionRangeError(['permits'], `permits must be between 1 and ${MAX_PERMITS}, received ${show(permits)}`);
  }
  return permits;
}
