import type { ResolvedOptions } from '../options.js';
import type { Lease, LeaseStore, Observation, ObservedLease } from '../store.js';
import { abortable, toNumber, type Driver, type Row } from './driver.js';
import { MysqlHandoverLock } from './handover-lock.js';
import { StatementRunner } from './runner.js';
import { learnCoordinator, readFor, type Coordinator } from './cluster.js';
import { ER, errnoOf } from './errors.js';
import { checkSchema } from './schema.js';
import { statements, type Statements } from './sql.js';

/**
 * Schema checks in flight, by database handle and table: a thousand
 * elections started together on one pool send one information_schema query.
 */
const checksInFlight = new WeakMap<object, Map<string, Promise<void>>>();

/** What the store needs of the election's options. */
export type StoreOptions = Pick<ResolvedOptions, 'tableName' | 'age' | 'tick' | 'handoverLock'>;

/** The protocol's statements for one election, on MySQL or MariaDB. */
export class MysqlStore implements LeaseStore {
  readonly #runner: StatementRunner;
  /** The election (the row's `leader_name`). */
  readonly name: string;
  /** The lease's length, in the unit of `INTERVAL ? MICROSECOND`. */
  readonly #ageUs: number;
  readonly #sql: Statements;
  readonly handoverLock: MysqlHandoverLock | undefined;
  #checked: Promise<void> | undefined;
  /** What the handle reaches (see cluster.ts), once learnt. */
  #coordinator: Coordinator | undefined;

  /** The election `leaderName` on `options.tableName`; with `options.handoverLock`, a pooled `driver` also gets the hand-over lock. */
  constructor(driver: Driver, leaderName: string, options: StoreOptions) {
    const { tableName, age, tick, handoverLock } = options;
    this.#runner = new StatementRunner(driver, tableName);
    this.name = leaderName;
    this.#ageUs = age * 1000;
    this.#sql = statements(tableName);
    this.handoverLock = handoverLock && driver.pooled ? new MysqlHandoverLock(this.#runner, leaderName, { backoff: tick, maxBackoff: 8 * age }) : undefined;
    // A pool with no connection to spare for the election's statements (too
    // small, or stuck on a stalled server) would starve the renewals: give
    // the lock's connection back for a while (see MysqlHandoverLock.suspend).
    driver.onStarved = () => this.handoverLock?.suspend();
  }

  async read(signal: AbortSignal): Promise<Observation> {
    // Learnt once; after that, no promise or listener of its own on the hot path.
    const ask = (sql: string) => this.#runner.run('asking whether the server is a Galera node', sql, [], signal);
    const coordinator = (this.#coordinator ??= await abortable(learnCoordinator(this.#runner.driver.db, ask), signal));
    const { rows } = await this.#runner.run('reading the election row', readFor(coordinator, this.#sql.read), [this.name], signal);
    const row = rows[0] ?? {};
    const absent = (row['term'] ?? null) === null; // the LEFT JOIN found no row: its columns are NULL.
    // On Galera, the answering node is no coordinator of its own.
    return { lease: absent ? undefined : toObservedLease(row), coordinator: coordinator.galera ? '' : String(row['server_id']) };
  }

  async claim(nodeName: string, seen: ObservedLease | undefined, minTerm: number, signal: AbortSignal): Promise<number | undefined> {
    // Before the first write: a table with unsafe column types is refused (checked once).
    this.#checked ??= this.#checkSchema(signal).catch((error: unknown) => {
      this.#checked = undefined;
      throw error;
    });
    await abortable(this.#checked, signal);
    try {
      if (!seen) {
        const term = Math.max(1, minTerm);
        const result = await this.#runner.run('claiming the lease', this.#sql.insert, [this.name, nodeName, term, this.#ageUs], signal);
        return result.affectedRows === 1 ? term : undefined;
      }
      const values = [nodeName, minTerm, this.#ageUs, this.name, seen.term, seen.version];
      const result = await this.#runner.run('claiming the lease', this.#sql.takeOver, values, signal);
      return result.affectedRows === 1 ? result.insertId : undefined;
    } catch (error) {
      // On Galera, a claim that lost certification to another node's write
      // is rolled back and reported as a deadlock: a lost race, not an error.
      if (errnoOf(error) === ER.LOCK_DEADLOCK) return undefined;
      throw error;
    }
  }

  async renew(nodeName: string, term: number, signal: AbortSignal): Promise<boolean> {
    const values = [this.#ageUs, this.name, nodeName, term];
    return (await this.#runner.run('renewing the lease', this.#sql.renew, values, signal)).affectedRows === 1;
  }

  async release(nodeName: string, term: number, signal: AbortSignal): Promise<boolean> {
    const values = [this.name, nodeName, term];
    return (await this.#runner.run('releasing the lease', this.#sql.release, values, signal)).affectedRows === 1;
  }

  async close(): Promise<void> {
    this.handoverLock?.close();
  }

  /**
   * Checks the table, sharing a check of the same table on the same handle
   * already in flight (elections started together). A shared check runs
   * under the signal of the election that started it: if that one times
   * out, so does the check for all, and each checks again at its next claim.
   */
  #checkSchema(signal: AbortSignal): Promise<void> {
    const { driver, tableName } = this.#runner;
    let byTable = checksInFlight.get(driver.db);
    if (!byTable) checksInFlight.set(driver.db, (byTable = new Map<string, Promise<void>>()));
    const inFlight = byTable.get(tableName);
    if (inFlight) return inFlight;
    const check = checkSchema(driver, tableName, signal).finally(() => byTable.delete(tableName));
    byTable.set(tableName, check);
    return check;
  }
}

/** A row of `Statements.read` that found a lease, as an {@link ObservedLease}. */
export function toObservedLease(row: Row): ObservedLease {
  return {
    ...toLease(row),
    version: String(row['version']),
    renewedMsAgo: toNumber(row['renewed_us_ago']) / 1000,
  };
}

/** A row of `Statements.read` as a {@link Lease}. */
export function toLease(row: Row): Lease {
  const released = toNumber(row['released']) === 1;
  const expiresInMs = toNumber(row['expires_in_us']) / 1000;
  return {
    nodeName: String(row['node_name']),
    term: toNumber(row['term']),
    // A released lease has no life left, whatever the clock of the server that released it said.
    expiresInMs: released ? Math.min(0, expiresInMs) : expiresInMs,
    released,
    acquiredAt: new Date(String(row['acquired_at'])),
    renewedAt: new Date(String(row['renewed_at'])),
  };
}
