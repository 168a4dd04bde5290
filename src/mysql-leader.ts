import { ClosedError, NotLeaderError, OptionRangeError, OptionTypeError } from './errors.js';
import { Elector } from './elector.js';
import { Driver, type Queryable, type Session } from './mysql/driver.js';
import { runFenced, type FenceHooks } from './mysql/fence.js';
import { FireLog } from './mysql/fires.js';
import { ScheduledJob, type FencedFireContext, type FireContext } from './scheduled-job.js';
import { resolveSchedule, type ScheduleOptions } from './schedule-options.js';
import { statements, type Statements } from './mysql/sql.js';
import { MysqlStore } from './mysql/store.js';
import { checkName, resolveOptions, type MysqlLeaderOptions, type ResolvedOptions } from './options.js';
import type { HoldingStore } from './store.js';
import type { TenureContext } from './tenure.js';

/**
 * The store of an election that a `Leases` engine builds (its batches), and
 * the wrapper its fenced transactions run in.
 * @internal
 */
export interface EngineStore extends HoldingStore {
  /** The engine's driver of its `db`, which the election shares. */
  readonly driver: Driver;
  /** Runs a fenced transaction of the election (`run`). */
  fence<T>(run: () => Promise<T>): Promise<T>;
}

/**
 * How a `Leases` engine makes the store of an election it builds.
 * @internal
 */
export type EngineStoreOf = (leaderName: string) => EngineStore;

/** The store source and the options of the `MysqlLeader` being built by {@link electionOfEngine}, for its constructor only. */
let buildingFor: { readonly storeOf: EngineStoreOf; readonly options: ResolvedOptions } | undefined;

/**
 * Builds an election of a `Leases` engine: a `MysqlLeader` whose store is
 * the engine's (`storeOf`), leaving the public constructor as it is.
 * @internal
 */
export function electionOfEngine<DB extends Queryable>(db: DB, leaderName: string, options: ResolvedOptions, storeOf: EngineStoreOf): MysqlLeader<DB> {
  buildingFor = { storeOf, options };
  try {
    return new MysqlLeader(db, leaderName);
  } finally {
    buildingFor = undefined;
  }
}

/**
 * The connection `withLeadership()` hands to its function for a handle of
 * type `DB`: a pool's connection (promise API), or the handle itself.
 */
export type ConnectionOf<DB> = DB extends {
  /** mysql2's callback API: its promise wrapper. */
  promise(): infer P;
}
  ? ConnectionOf<P>
  : DB extends {
        /** A pool: one of its connections. */
        getConnection(): Promise<infer C>;
      }
    ? C
    : DB;

/** Options of `withLeadership()`. */
export interface FenceOptions<D extends Queryable = Queryable> {
  /**
   * Where the transaction runs: a pool (a connection is taken from it) or a
   * connection of the same server, typically the application's own pool,
   * where the data the leader writes lives. A single connection must not be
   * used by anything else meanwhile.
   * @default the leader's own `db`
   */
  db?: D;
}

/**
 * Elects one leader among the processes that share a `leaderName`, through
 * a row of the election table in a MySQL or MariaDB database.
 *
 * ```ts
 * const leader = new MysqlLeader(pool, 'nightly-report', { age: 10_000, tick: 2_000 });
 * leader.on('elected', ({ term }) => console.log('leading, term', term));
 * leader.acquire().catch(console.error); // campaigns until close()
 * if (leader.leading) await doLeaderWork(leader.signal);
 * ```
 */
export class MysqlLeader<DB extends Queryable = Queryable> extends Elector {
  /** The election this leader campaigns in (the row's `leader_name`). */
  readonly leaderName: string;
  readonly #driver: Driver;
  readonly #fenceSql: Statements;
  /** The engine's store, for an election of a `Leases` engine. */
  readonly #engineStore: EngineStore | undefined;
  /** Drivers of the handles given to `withLeadership()`, made once each. */
  #drivers: WeakMap<object, Driver> | undefined;
  /** The jobs of `schedule()` by name, until their `stop()` has resolved. */
  #jobs: Map<string, ScheduledJob> | undefined;

  /**
   * Validates everything before anything is sent: a bad option or name
   * throws a `TypeError`/`RangeError` naming it. Nothing happens until
   * `acquire()` is called.
   *
   * @param db A pool (best: a small one of its own, so that renewals never
   *   queue behind the application's queries) or connection of `mysql2` or
   *   `mariadb`, or any compatible {@link Queryable}.
   * @param leaderName The election, 1 to 255 characters.
   */
  constructor(db: DB, leaderName: string, options?: MysqlLeaderOptions) {
    const building = buildingFor;
    buildingFor = undefined; // for this election only, not for one its options' getters might build.
    // An engine's election was named by the engine, which checked the name (and may use the reserved U+0000: a semaphore's permit),
    // and its options were resolved by the engine: one frozen object for all the elections of the same options.
    const name = building ? leaderName : checkName('leaderName', leaderName);
    const resolved = building?.options ?? resolveOptions(options);
    const engineStore = building?.storeOf(name);
    const driver = engineStore?.driver ?? new Driver(db);
    super(engineStore ?? new MysqlStore(driver, name, resolved), resolved);
    this.leaderName = name;
    this.#driver = driver;
    this.#fenceSql = statements(resolved.tableName);
    this.#engineStore = engineStore;
  }

  /**
   * Runs `fn` in a transaction fenced by the lease: it begins by locking the
   * election row in share mode and checking that this node still holds a
   * live lease under the current term, so a take-over waits until the
   * transaction ends and every write in it lands before any change of
   * leader. Commits when `fn` resolves (with its value), rolls back when it
   * throws (rejecting with its error, unchanged).
   *
   * Rejects with `NotLeaderError`, nothing written, before `fn` runs when
   * this node does not lead (no query) or the database says its lease is
   * gone, and after `fn` when the tenure ended before the commit (when it
   * ends while `fn` runs, the transaction is ended at once, so that the next
   * leader need not wait for it). Rejects with `ClosedError` after
   * `close()`. `close()` and `resign()` wait for it before they release the
   * lease. While it holds the row, this leader's own renewal waits for it,
   * as long as the lease allows.
   */
  withLeadership<T>(fn: (connection: ConnectionOf<DB>, tenure: TenureContext) => Promise<T>): Promise<T>;
  withLeadership<T, D extends Queryable>(fn: (connection: ConnectionOf<D>, tenure: TenureContext) => Promise<T>, options: FenceOptions<D>): Promise<T>;
  withLeadership<T>(fn: (connection: never, tenure: TenureContext) => Promise<T>, options: FenceOptions = {}): Promise<T> {
    return this.leadWith('withLeadership', (tenure) =>
      this.#fenced(this.#fenceDriver(options.db, 'withLeadership()'), tenure, fn as (connection: unknown, tenure: TenureContext) => Promise<T>),
    );
  }

  /**
   * Schedules `fn` to run once per slot of the cron expression `cron` (5 or
   * 6 fields, seconds first when 6; read in `options.timezone`), on
   * whichever node leads this election when the slot comes due. Every node
   * schedules the same job; the slot is claimed in a row of the fires table
   * (job name and slot as primary key: at most once, ever), in a
   * transaction fenced by the tenure, so no claim commits after the tenure
   * ended. A slot is due by the database clock (`UTC_TIMESTAMP(6)`), never
   * by this host's wall clock.
   *
   * - `fenced: true`: the claim and `fn`'s writes (through
   *   `fire.connection`) commit together, so work in the same database is
   *   done exactly once, across crashes and hand-overs.
   * - otherwise `mode` says what a crash while `fn` runs means:
   *   `'at-most-once'` (the default: the fire is lost, recorded
   *   `interrupted`) or `'at-least-once'` (the next leader runs it again,
   *   with `attempt` one more).
   *
   * Slots missed while nobody led fire as `catchUp` says. A slot that comes
   * due while the job's previous fire still runs is recorded `skipped`, or
   * with `overlap: 'queue'` fired once it is over (one at most queued).
   * Throws an `OptionTypeError`/`OptionRangeError` naming a bad argument
   * (an invalid expression or time zone too), an `OptionRangeError` naming
   * `name` when a job of that name is scheduled on this leader and not yet
   * stopped (nothing changes), `ClosedError` after `close()`.
   * The fires table must exist: see `createMysqlLeaderFiresTable()`.
   */
  schedule(name: string, cron: string, fn: (fire: FireContext) => unknown, options?: ScheduleOptions & { fenced?: false }): ScheduledJob;
  schedule<D extends Queryable = DB>(
    name: string,
    cron: string,
    fn: (fire: FencedFireContext<ConnectionOf<D>>) => unknown,
    options: ScheduleOptions<D> & { fenced: true },
  ): ScheduledJob;
  schedule(name: string, cron: string, fn: (fire: FencedFireContext<never>) => unknown, options?: ScheduleOptions): ScheduledJob {
    const job = resolveSchedule(name, cron, fn, options);
    const jobs = (this.#jobs ??= new Map());
    if (jobs.has(job.name)) {
      throw new OptionRangeError(['name'], `name: a job "${job.name}" is already scheduled on this MysqlLeader of "${this.leaderName}"; stop() it first`);
    }
    const driver = this.#fenceDriver(job.options.db, 'schedule()');
    const log = new FireLog(this.#driver, job.options.firesTable, this.leaderName, job.name);
    const scheduled: ScheduledJob = new ScheduledJob(job, fn as (fire: FencedFireContext) => unknown, log, {
      leaderName: this.leaderName,
      nodeName: this.nodeName,
      queryTimeout: this.options.queryTimeout,
      runWhileLeader: (task) => {
        try {
          return this.runWhileLeader(task);
        } catch (error) {
          throw error instanceof ClosedError ? new ClosedError('schedule') : error;
        }
      },
      fence: (term, work, hooks) =>
        this.leadWith('schedule', (tenure) => {
          if (tenure.term !== term) throw new NotLeaderError(`term ${term} of "${this.leaderName}" has ended; nothing was written`);
          return this.#fenced(driver, tenure, work, hooks);
        }),
      stopped: () => {
        if (jobs.get(job.name) === scheduled) jobs.delete(job.name);
      },
    });
    jobs.set(job.name, scheduled);
    return scheduled;
  }

  /** The driver fenced transactions run on, for `db` (the leader's own when absent), which must give connections of their own. */
  #fenceDriver(db: Queryable | undefined, method: string): Driver {
    const driver = db === undefined ? this.#driver : this.#driverFor(db);
    if (!driver.pooled && (db === undefined || db === this.#driver.db)) {
      // On the leader's only connection, its renewals would run inside the transaction (and be rolled back with it).
      throw new OptionTypeError(['options.db'], `${method} on a MysqlLeader built on a single connection needs options.db: a pool, or another connection`);
    }
    return driver;
  }

  /** Runs `fn` in a transaction on `driver` fenced by `tenure` (with a scheduled job's `hooks`). */
  #fenced<T>(
    driver: Driver,
    tenure: TenureContext,
    fn: (connection: unknown, tenure: TenureContext, session: Session) => Promise<T>,
    hooks?: FenceHooks,
  ): Promise<T> {
    const target = {
      tableName: this.options.tableName,
      leaderName: this.leaderName,
      nodeName: this.nodeName,
      sql: this.#fenceSql,
      ageMs: this.options.age,
      statementMs: this.options.queryTimeout,
    };
    const run = (): Promise<T> => runFenced(driver, target, tenure, () => this.term === tenure.term, fn, hooks);
    // An engine's election: its renewals leave the shared batches while the transaction holds the row.
    return this.#engineStore ? this.#engineStore.fence(run) : run();
  }

  #driverFor(db: Queryable): Driver {
    const drivers = (this.#drivers ??= new WeakMap());
    let driver = drivers.get(db);
    if (!driver) {
      driver = new Driver(db, 'options.db');
      drivers.set(db, driver);
    }
    return driver;
  }
}
