import type { Clock } from '../../src/clock.js';
import type { LeaseStore, HandoverLock, Observation, ObservedLease } from '../../src/store.js';

/** One statement as the in-memory database executed it. */
export interface Executed {
  readonly node: string;
  readonly op: 'read' | 'claim' | 'renew' | 'release';
  readonly at: number;
  readonly ok: boolean;
}

/**
 * The election row, with the database clock being the fake clock plus
 * `clockOffset` (a test steps it to show that no decision rests on it).
 */
export class MemoryDatabase {
  row: { nodeName: string; term: number; acquiredAt: number; renewedAt: number; expiresAt: number } | undefined;
  /** The database clock's offset from the fake clock, in ms. */
  clockOffset = 0;
  /** The server's identity, as reads report it (a test fails over by changing it). */
  coordinator = 'primary';
  readonly log: Executed[] = [];
  /** The hand-over lock: its holder and the locks waiting on it, in order. */
  lockHolder: MemoryHandoverLock | undefined;
  readonly lockWaiters: { lock: MemoryHandoverLock; grant: () => void }[] = [];

  constructor(readonly clock: Clock) {}

  /** The database clock. */
  now(): number {
    return this.clock.now() + this.clockOffset;
  }

  /** The next `renewed_at`: the database clock, but always after the current one (the SQL's `NEXT`). */
  next(): number {
    return Math.max(this.now(), (this.row?.renewedAt ?? -Infinity) + 0.001);
  }

  /** Frees the lock and hands it to the first waiter (what the server does when its holder lets go or disconnects). */
  freeLock(): void {
    const holder = this.lockHolder;
    if (holder) holder.holding = false;
    this.lockHolder = undefined;
    this.lockWaiters.shift()?.grant();
  }

  /** Writes (claims, renewals, releases) executed for `node`. */
  writesBy(node: string): Executed[] {
    return this.log.filter((entry) => entry.node === node && entry.op !== 'read');
  }
}

/**
 * A {@link LeaseStore} over a {@link MemoryDatabase}, as seen by one node:
 * the same conditions as the SQL, plus faults a test can switch on.
 */
export class MemoryStore implements LeaseStore {
  /** Statements never reach the database and never answer (a partition); they fail when their signal aborts. */
  hang = false;
  /** The next statement fails with this error before reaching the database. */
  failNext: Error | undefined;
  /** Statements execute at once but their reply arrives this many fake ms later. */
  replyDelay = 0;
  /** When set, only statements of this kind have their reply delayed. */
  delayOnly: Executed['op'] | undefined;
  closed = false;
  readonly name = 'memory';
  readonly handoverLock: MemoryHandoverLock | undefined;

  constructor(
    readonly db: MemoryDatabase,
    readonly node: string,
    readonly ageMs: number,
    handoverLock = false,
  ) {
    this.handoverLock = handoverLock ? new MemoryHandoverLock(db) : undefined;
  }

  read(signal: AbortSignal): Promise<Observation> {
    return this.#execute<Observation>('read', signal, () => {
      const row = this.db.row;
      const coordinator = this.db.coordinator;
      if (!row) return { ok: true, value: { lease: undefined, coordinator } };
      const now = this.db.now();
      const released = row.expiresAt <= row.renewedAt;
      return {
        ok: true,
        value: {
          coordinator,
          lease: {
            nodeName: row.nodeName,
            term: row.term,
            expiresInMs: released ? Math.min(0, row.expiresAt - now) : row.expiresAt - now,
            released,
            version: String(row.renewedAt),
            renewedMsAgo: now - row.renewedAt,
            acquiredAt: new Date(row.acquiredAt),
            renewedAt: new Date(row.renewedAt),
          },
        },
      };
    });
  }

  claim(nodeName: string, seen: ObservedLease | undefined, minTerm: number, signal: AbortSignal): Promise<number | undefined> {
    return this.#execute('claim', signal, () => {
      const now = this.db.now();
      const row = this.db.row;
      if (!seen) {
        if (row) return { ok: false, value: undefined };
        const term = Math.max(1, minTerm);
        this.db.row = { nodeName, term, acquiredAt: now, renewedAt: now, expiresAt: now + this.ageMs };
        return { ok: true, value: term };
      }
      if (!row || row.term !== seen.term || String(row.renewedAt) !== seen.version) return { ok: false, value: undefined };
      const renewedAt = this.db.next();
      const term = Math.max(row.term + 1, minTerm);
      this.db.row = { nodeName, term, acquiredAt: now, renewedAt, expiresAt: renewedAt + this.ageMs };
      return { ok: true, value: term };
    });
  }

  renew(nodeName: string, term: number, signal: AbortSignal): Promise<boolean> {
    return this.#execute('renew', signal, () => {
      const row = this.db.row;
      if (!row || row.nodeName !== nodeName || row.term !== term || row.expiresAt <= row.renewedAt) return { ok: false, value: false };
      row.renewedAt = this.db.next();
      row.expiresAt = row.renewedAt + this.ageMs;
      return { ok: true, value: true };
    });
  }

  release(nodeName: string, term: number, signal: AbortSignal): Promise<boolean> {
    return this.#execute('release', signal, () => {
      const row = this.db.row;
      if (!row || row.nodeName !== nodeName || row.term !== term || row.expiresAt <= row.renewedAt) return { ok: false, value: false };
      row.renewedAt = this.db.next();
      row.expiresAt = row.renewedAt;
      return { ok: true, value: true };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.handoverLock?.holding) this.db.freeLock();
  }

  #execute<T>(op: Executed['op'], signal: AbortSignal, statement: () => { ok: boolean; value: T }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason); // as the driver does: nothing is sent.
      // The elector hands the signal to its next statement once this one settles: take the listener back.
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const answer = (settle: () => void): void => {
        signal.removeEventListener('abort', onAbort);
        settle();
      };
      if (this.hang) return;
      const failure = this.failNext;
      if (failure) {
        this.failNext = undefined;
        queueMicrotask(() => answer(() => reject(failure)));
        return;
      }
      const { ok, value } = statement();
      this.db.log.push({ node: this.node, op, at: this.db.clock.now(), ok });
      const delayed = this.replyDelay > 0 && (this.delayOnly === undefined || this.delayOnly === op);
      if (delayed) this.db.clock.setTimeout(() => answer(() => resolve(value)), this.replyDelay);
      else queueMicrotask(() => answer(() => resolve(value)));
    });
  }
}

/** The hand-over lock of one node over {@link MemoryDatabase}: GET_LOCK's semantics, in fake time. */
export class MemoryHandoverLock implements HandoverLock {
  readonly available = true;
  holding = false;
  /** Lock statements this node ran. */
  statements = 0;
  /** `hold`, `check` and `drop` execute at once but answer this many fake ms later. */
  replyDelay = 0;
  /** After a {@link kill}, the statement that finds the session gone is followed by a new connection, which takes this many fake ms. */
  connectDelay = 0;
  /** The session was killed: the next statement fails (see {@link kill}). */
  #killed = false;
  /** The next statement first connects anew (after a kill). */
  #reconnect = false;

  constructor(readonly db: MemoryDatabase) {}

  /**
   * What `KILL CONNECTION` does to this node's lock session: the server
   * frees the lock (its first waiter gets it), but the node does not know:
   * `holding` stays true until its next statement fails with the closed
   * connection, and the statement after that connects anew.
   */
  kill(): void {
    this.#killed = true;
    if (this.db.lockHolder !== this) return;
    this.db.lockHolder = undefined;
    this.db.lockWaiters.shift()?.grant();
  }

  async hold(): Promise<void> {
    await this.#session();
    if (!this.db.lockHolder) this.#take();
    await this.#reply();
  }

  async waitIfHeld(ms: number, signal: AbortSignal): Promise<'obtained' | 'held' | 'free'> {
    await this.#session();
    if (this.holding) return 'obtained';
    if (!this.db.lockHolder) return 'free';
    return (await this.#wait(ms, signal)) ? 'obtained' : 'held';
  }

  async wait(ms: number, signal: AbortSignal): Promise<boolean> {
    await this.#session();
    if (this.holding) return true;
    if (!this.db.lockHolder) {
      this.#take();
      return true;
    }
    return await this.#wait(ms, signal);
  }

  #wait(ms: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const entry = {
        lock: this as MemoryHandoverLock,
        grant: () => {
          this.db.clock.clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.#take();
          resolve(true);
        },
      };
      const leave = (): void => {
        const index = this.db.lockWaiters.indexOf(entry);
        if (index >= 0) this.db.lockWaiters.splice(index, 1);
      };
      const timer = this.db.clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        leave();
        resolve(false);
      }, ms);
      const onAbort = (): void => {
        this.db.clock.clearTimeout(timer);
        leave();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.db.lockWaiters.push(entry);
    });
  }

  async check(): Promise<void> {
    await this.#session();
    if (this.db.lockHolder !== this) this.holding = false;
    await this.#reply();
  }

  async drop(): Promise<void> {
    await this.#session();
    if (this.holding) this.db.freeLock();
    await this.#reply();
  }

  /** Counts a statement; fails it if the session was killed (the lock is then forgotten), or connects anew first after that. */
  async #session(): Promise<void> {
    this.statements++;
    if (this.#killed) {
      this.#killed = false;
      this.#reconnect = true;
      this.holding = false;
      throw new Error('connection is in closed state');
    }
    if (!this.#reconnect) return;
    this.#reconnect = false;
    if (this.connectDelay > 0) await new Promise<void>((resolve) => this.db.clock.setTimeout(resolve, this.connectDelay));
  }

  #reply(): Promise<void> {
    if (this.replyDelay === 0) return Promise.resolve();
    return new Promise((resolve) => this.db.clock.setTimeout(resolve, this.replyDelay));
  }

  #take(): void {
    this.db.lockHolder = this;
    this.holding = true;
  }
}
