import { performance } from 'node:perf_hooks';
import { BatchedStore, type ClaimGate, type StoreEngine } from './batched-store.js';
import { Batcher } from './batcher.js';
import { systemClock } from './clock.js';
import { ClosedError, LeadershipEndedError, LockTimeoutError, MysqlLeaderError } from './errors.js';
import {
  checkWait,
  resolveLeaseOptions,
  resolveLeasesOptions,
  type FencedLockOptions,
  type LeaseOptions,
  type LeasesOptions,
  type LockOptions,
} from './leases-options.js';
import { LocalNames } from './local-names.js';
import { electionOfEngine, type ConnectionOf, type MysqlLeader } from './mysql-leader.js';
import { MysqlBatches, type ClaimItem, type HeldItem } from './mysql/batches.js';
import { Driver, type Queryable } from './mysql/driver.js';
import { checkName, type ResolvedOptions } from './options.js';
import type { Observation } from './store.js';
import { RenewalSchedule } from './renewals.js';
import { StatementTimer } from './statement-timer.js';
import { StepGate } from './step-gate.js';
import { Semaphore, SLOT_SEPARATOR, checkPermits, checkSemaphoreName } from './semaphore.js';
import { Share, checkShare, type ShareTask } from './share.js';
import { CandidateRegistry, candidateRowName, type Candidate } from './mysql/candidates.js';
import { registerWhileCampaigning, takeCandidate, type LeaderOptions } from './candidates.js';
import { remainingUnder, type LockContext, type TenureContext } from './tenure.js';

/**
 * One lease engine per process, database handle and table: many elections
 * (one per tenant, queue, shard…) whose statements go out in batches, one
 * statement for all the leases of a kind, so that 10,000 held leases cost
 * about 20 statements a second instead of 10,000.
 *
 * ```ts
 * const leases = new Leases(pool, { age: 10_000, tick: 2_000 });
 * for (const shard of shards) leases.leader(`shard-${shard}`).runWhileLeader(({ signal }) => consume(shard, signal));
 * await leases.withLock('nightly-report', async ({ term, signal }) => buildReport(term, signal), { wait: 5_000 });
 * ```
 *
 * Each election is a {@link MysqlLeader}, with its own term, deadline,
 * signal and events, and the same guarantees: its local deadline comes from
 * the moment it asked for the renewal (before the batch was sent), and a
 * renewal counts only when the database confirmed that row. All of them run
 * under the engine's one `nodeName`, so an engine runs at most one election
 * of a name at a time. They go without the hand-over lock (`GET_LOCK` needs
 * a connection per election): another process notices a release at its next
 * read, within a `tick`.
 */
export class Leases<DB extends Queryable = Queryable> implements AsyncDisposable {
  readonly #db: DB;
  readonly #options: ResolvedOptions;
  readonly #names = new LocalNames();
  /** The open elections, by their store. */
  readonly #elections = new Map<BatchedStore, MysqlLeader<DB>>();
  readonly #batchers: readonly { idle(): Promise<void> }[];
  readonly #engine: StoreEngine;
  readonly #candidates: CandidateRegistry;
  #closing: Promise<void> | undefined;

  /**
   * Validates everything before anything is sent: a bad option throws a
   * `TypeError`/`RangeError` naming it. Nothing happens until an election
   * campaigns.
   *
   * @param db A pool (best: a small one of its own) or connection of
   *   `mysql2` or `mariadb`, or any compatible {@link Queryable}.
   */
  constructor(db: DB, options?: LeasesOptions) {
    const { election, batchWindow, maxBatch } = resolveLeasesOptions(options);
    const driver = new Driver(db);
    const batches = new MysqlBatches(driver, election.tableName, election.age);
    const nodeName = election.nodeName;
    this.#db = db;
    this.#options = election;
    this.#candidates = new CandidateRegistry(driver, election.tableName);
    const pacing = { window: batchWindow, maxBatch, timeout: election.queryTimeout };
    const reads = new Batcher<string, Observation>(systemClock, { ...pacing, what: 'reading the election rows' }, (names, signal) =>
      batches.read(names, signal),
    );
    const claims = new Batcher<ClaimItem, number | undefined>(systemClock, { ...pacing, what: 'claiming the leases' }, (items, signal) =>
      batches.claim(nodeName, items, signal),
    );
    // Every held lease on one schedule: one timer, one statement per window at most, however they fall.
    const renewals = new RenewalSchedule(
      systemClock,
      pacing,
      (items, signal) => batches.renew(nodeName, items, signal),
      // A lease whose own fenced transaction holds its row waits for it: by itself, not in everyone's batch.
      (item, signal) => batches.renewOne(nodeName, item, signal),
    );
    const releases = new Batcher<HeldItem, boolean>(systemClock, { ...pacing, what: 'releasing the leases' }, (items, signal) =>
      batches.release(nodeName, items, signal),
    );
    this.#batchers = [reads, claims, renewals, releases];
    this.#engine = {
      driver,
      // One free list of statement controllers for every election, up to a batch of them.
      statements: new StatementTimer(systemClock, pacing.maxBatch),
      // Follower steps a batch's worth at a time: a start-up burst of 10,000 is paced (10,000 leases: RSS max
      // 124-130 MB instead of 134-142, all elected as soon; 300 at a time: 125 MB, but elected 1.8 s after the start, not 0.65).
      steps: new StepGate(pacing.maxBatch),
      reads,
      claims,
      renewals,
      releases,
      claimOne: (item, signal) => batches.claimOne(nodeName, item, signal),
      closed: (store) => {
        renewals.forget(store);
        this.#elections.delete(store);
        this.#names.free(store.name);
      },
    };
  }

  /** This process's name in every lease of the engine (the `nodeName` option). */
  get nodeName(): string {
    return this.#options.nodeName;
  }

  /** The options every election of the engine runs with, defaults included. */
  get options(): ResolvedOptions {
    return this.#options;
  }

  /**
   * An election of this engine: a {@link MysqlLeader} with the same events,
   * `signal`, `withLeadership` and `runWhileLeader`, whose statements share
   * the engine's batches. Nothing happens until its `acquire()` is called;
   * its `close()` frees the name in the engine again.
   *
   * With `options.candidate`, each campaign registers this node as a
   * candidate of the election while it runs (see {@link listCandidates}).
   *
   * Throws a `MysqlLeaderError` with code `ERR_MYSQL_LEADER_BUSY` when this
   * engine has an open election (or a lock) of that name, and `ClosedError`
   * after `close()`.
   *
   * @param name The election, 1 to 255 characters.
   */
  leader(name: string, options?: LeaderOptions): MysqlLeader<DB> {
    if (this.#closing) throw new ClosedError('leader', 'Leases');
    const leaderName = checkName('name', name);
    const { candidate, rest } = takeCandidate(leaderName, this.#options.nodeName, options);
    const resolved = resolveLeaseOptions(this.#options, rest);
    if (this.#names.has(leaderName)) {
      throw new MysqlLeaderError('ERR_MYSQL_LEADER_BUSY', `this Leases engine already has an open election or lock "${leaderName}": close it first`);
    }
    this.#names.take(leaderName);
    const election = this.#build(leaderName, resolved, { paced: true }).election;
    if (candidate) {
      const row = candidateRowName(leaderName, this.#options.nodeName);
      registerWhileCampaigning(election, () => {
        if (this.#closing || this.#names.has(row)) return undefined;
        this.#names.take(row);
        return this.#build(row, resolved, { paced: true }).election;
      });
    }
    return election;
  }

  /**
   * Runs `fn` once under the lock `name`: takes the lease (waiting at most
   * `options.wait` ms for another holder to let go), runs
   * `fn({ term, signal, remainingMs })` while renewing the lease, then
   * releases it and returns what `fn` returned (or rejects with what it
   * threw).
   *
   * `signal` aborts the moment the lease is in doubt (a renewal failed or
   * found it taken, the local deadline passed, `options.signal` aborted):
   * `fn` must stop writing then. `term` is the fencing token: writes that
   * carry it can be refused by whoever sees a newer one.
   *
   * Rejects with {@link LockTimeoutError} when the lock was not obtained
   * within `wait` (nothing ran), with `options.signal`'s reason when it
   * aborts while waiting, and with a database error the engine's `onError`
   * stops on.
   */
  withLock<T>(name: string, fn: (lock: LockContext) => Promise<T>, options?: LockOptions): Promise<T> {
    return this.#locked('withLock', name, options, (election) => fn(lockContext(election, { term: election.term as number, signal: election.signal })));
  }

  /**
   * {@link withLock}, with `fn` run inside a transaction fenced by the lease,
   * on `options.db` (default: the engine's `db`), as
   * {@link MysqlLeader.withLeadership} runs it: a take-over waits until it
   * ends, so its writes land before anyone else can hold the lock, and it
   * rejects with `NotLeaderError`, nothing written, when the lease ended
   * before the commit.
   */
  withFencedLock<T>(name: string, fn: (connection: ConnectionOf<DB>, lock: LockContext) => Promise<T>, options?: LockOptions): Promise<T>;
  withFencedLock<T, D extends Queryable>(
    name: string,
    fn: (connection: ConnectionOf<D>, lock: LockContext) => Promise<T>,
    options: FencedLockOptions<D>,
  ): Promise<T>;
  withFencedLock<T>(name: string, fn: (connection: never, lock: LockContext) => Promise<T>, options?: FencedLockOptions): Promise<T> {
    const db = options?.db;
    return this.#locked('withFencedLock', name, options, (election) => {
      const locked = (connection: unknown, tenure: TenureContext): Promise<T> =>
        (fn as (connection: unknown, lock: LockContext) => Promise<T>)(connection, lockContext(election, tenure));
      return db === undefined ? election.withLeadership(locked) : election.withLeadership(locked, { db });
    });
  }

  /**
   * A semaphore of this engine: up to `permits` holders at once, across
   * every process that uses `name` with as many permits, each holder a
   * lease of its own with its own term and signal (see {@link Semaphore}).
   * Its permits are the rows `name` + U+0000 + `0`…`permits - 1`, which no
   * election name can be.
   *
   * Throws `OptionTypeError`/`OptionRangeError` naming `name` or `permits`
   * (a whole number from 1 to 1000), a `MysqlLeaderError` with code
   * `ERR_MYSQL_LEADER_BUSY` when this engine has an open semaphore of that
   * name, and `ClosedError` after `close()`.
   *
   * @param name The semaphore, 1 to 251 characters.
   */
  semaphore(name: string, permits: number): Semaphore<DB> {
    if (this.#closing) throw new ClosedError('semaphore', 'Leases');
    const semaphoreName = checkSemaphoreName(name);
    const count = checkPermits(permits);
    const own = `${semaphoreName}${SLOT_SEPARATOR}`; // taken while the semaphore is open: one per name per engine.
    if (this.#names.has(own))
      throw new MysqlLeaderError('ERR_MYSQL_LEADER_BUSY', `this Leases engine already has an open semaphore "${semaphoreName}": close it first`);
    this.#names.take(own);
    return new Semaphore<DB>(semaphoreName, count, {
      open: (slot) => {
        if (this.#closing || this.#names.has(slot)) return undefined;
        this.#names.take(slot);
        return this.#build(slot, this.#options);
      },
      closing: () => this.#closing !== undefined,
      closed: () => this.#names.free(own),
    });
  }

  /**
   * Shares `keys` among the live members of `group`: every process (engine)
   * that calls `share()` with the same group and keys is a member, each key
   * is owned by one member at a time, and `task({ key, term, signal })` runs
   * on its owner for each tenure of the key (see {@link Share}). Each member
   * holds ⌊M/N⌋ or ⌈M/N⌉ of the M keys once the N live members agree on who
   * is alive; after a join, a leave or a crash, within about `age` +
   * 2 × `tick`. A member over its share gives keys up gracefully: the
   * tenure ends (`signal` aborts), the task settles, then the key is
   * released, so the next owner never overlaps it.
   *
   * The member registers as the row `group` + U+0000 + `@` + `nodeName`
   * (see {@link listCandidates}); key `K` is the row `group` + U+0000 +
   * `k:` + `K`. Every member must pass the same keys.
   *
   * Throws `OptionTypeError`/`OptionRangeError` naming `group`, `keys` (a
   * non-empty array of distinct strings, or a whole number of shards
   * `'0'`…`String(keys - 1)`, at most 10,000), `keys[i]`, `task` or an
   * option (`drainTimeout`, `onError`, `logger`), a `MysqlLeaderError` with code
   * `ERR_MYSQL_LEADER_BUSY` when this engine has an open share of `group`,
   * and `ClosedError` after `close()`; nothing is written then.
   */
  share(group: string, keys: readonly string[] | number, task: ShareTask, options?: LeaseOptions): Share<DB> {
    if (this.#closing) throw new ClosedError('share', 'Leases');
    const checked = checkShare(group, keys, task, this.#options.nodeName);
    const resolved = resolveLeaseOptions(this.#options, options);
    const own = `${checked.group}\u0000share`; // taken while the share is open: one per group per engine (no row has this name).
    if (this.#names.has(own))
      throw new MysqlLeaderError('ERR_MYSQL_LEADER_BUSY', `this Leases engine already has an open share of "${checked.group}": close it first`);
    this.#names.take(own);
    return new Share<DB>(checked.group, checked.keys, task, {
      options: resolved,
      open: (name, gate) => {
        if (this.#closing || this.#names.has(name)) return undefined;
        this.#names.take(name);
        return this.#build(name, resolved, { gate });
      },
      candidates: (name, signal) => this.#candidates.live(name, signal),
      closing: () => this.#closing !== undefined,
      closed: () => this.#names.free(own),
    });
  }

  /**
   * The live candidates of the election (or share group) `name`: the nodes
   * registered as its participants whose registration has not run out by
   * the database clock, by node name, each with when it was last seen. A
   * member of a share registers as one of `group`'s candidates, an election
   * of `leader(name, { candidate: true })` while it campaigns; a node that
   * crashed drops out once its registration's lease has run out (about
   * `age`), one that left at once. One statement, limited by `queryTimeout`.
   *
   * Throws `OptionTypeError`/`OptionRangeError` naming `name`.
   */
  async listCandidates(name: string, signal?: AbortSignal): Promise<Candidate[]> {
    if (this.#closing) throw new ClosedError('listCandidates', 'Leases');
    const checked = checkName('name', name);
    signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(this.#options.queryTimeout);
    return this.#candidates.live(checked, signal ? AbortSignal.any([signal, timeout]) : timeout);
  }

  /**
   * Closes every election of the engine (each steps down and releases its
   * lease, as `MysqlLeader.close()` does) and waits for the last batches.
   * Idempotent. The database handle stays the caller's.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#elections.values()].map((election) => election.close()));
      await Promise.all(this.#batchers.map((batcher) => batcher.idle()));
    })();
    return this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * An election of the engine under `name` (already taken in `#names`), its
   * claims through `gate` if given, its follower steps in the engine's line
   * if `paced` (a `leader()`'s). The others go straight through: a lock's or
   * a semaphore's permit, which a caller waits for up to its `wait` (`wait:
   * 0` tries once, at once), and a share's, whose claims may wait for the
   * share's balance (not while holding a place in the line).
   */
  #build(
    name: string,
    options: ResolvedOptions,
    { gate, paced = false }: { gate?: ClaimGate | undefined; paced?: boolean } = {},
  ): { election: MysqlLeader<DB>; store: BatchedStore } {
    let store: BatchedStore | undefined;
    const election = electionOfEngine(this.#db, name, options, (leaderName) => {
      store = new BatchedStore(this.#engine, leaderName, paced);
      store.claimGate = gate;
      return store;
    });
    const built = store as unknown as BatchedStore;
    this.#elections.set(built, election);
    return { election, store: built };
  }

  /** Takes the lock `name` as an election of its own, runs `run` while it leads, then closes it. */
  async #locked<T>(method: string, name: string, options: LockOptions | undefined, run: (election: MysqlLeader<DB>) => Promise<T>): Promise<T> {
    if (this.#closing) throw new ClosedError(method, 'Leases');
    const lockName = checkName('name', name);
    const wait = checkWait(options);
    const signal = options?.signal;
    signal?.throwIfAborted();
    const started = performance.now();
    // 1. A holder in this process: wait for it to let go (it wakes this waiter at once).
    if (!(await this.#names.takeWithin(lockName, wait, signal))) {
      signal?.throwIfAborted();
      throw new LockTimeoutError(lockName, wait);
    }
    if (this.#closing) {
      this.#names.free(lockName); // closed while this call waited: the next waiter learns it too.
      throw new ClosedError(method, 'Leases');
    }
    // 2. The lease itself, through an election that campaigns until `fn` is done.
    const { election, store } = this.#build(lockName, this.#options);
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    // The tenure over: stop campaigning, so that no new tenure starts under a lock whose `fn` is still running.
    election.once('revoked', ({ term, reason }) => stop.abort(new LeadershipEndedError(term, reason)));
    const campaign = election.acquire(stop.signal);
    campaign.catch(() => {}); // raced with the election below; its end is awaited in `finally`.
    try {
      await elected(election, store, campaign, lockName, wait, wait - (performance.now() - started));
      // 3. The caller's work, while the lease is renewed.
      return await run(election);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await election.close();
    }
  }
}

/** The lock's tenure, with its remaining time read from `election` while that tenure lasts. */
function lockContext(election: MysqlLeader, { term, signal }: TenureContext): LockContext {
  return {
    term,
    signal,
    get remainingMs() {
      return remainingUnder(election, term);
    },
  };
}

/**
 * Resolves once `election` leads; rejects with {@link LockTimeoutError}
 * when it does not within `ms` (after the attempt in progress then, so that
 * `wait: 0` tries once), or with the campaign's error.
 */
function elected(election: MysqlLeader, store: BatchedStore, campaign: Promise<void>, lockName: string, wait: number, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let late = false;
    const finish = (error?: Error, failed?: Promise<void>): void => {
      clearTimeout(timer);
      store.onAttempt = undefined;
      election.off('elected', onElected);
      if (failed)
        resolve(failed); // settles as the failed campaign did: its error, or the reason of the caller's signal, as given.
      else if (error) reject(error);
      else resolve();
    };
    const onElected = (): void => finish();
    election.once('elected', onElected);
    store.onAttempt = () => {
      if (late) finish(new LockTimeoutError(lockName, wait));
    };
    campaign.then(
      () => finish(new ClosedError('withLock', 'Leases')),
      () => finish(undefined, campaign),
    );
    const timer = setTimeout(
      () => {
        late = true;
        if (!store.attempting) finish(new LockTimeoutError(lockName, wait));
      },
      Math.max(0, ms),
    );
  });
}
