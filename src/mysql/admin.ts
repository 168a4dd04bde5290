/**
 * Functions for operators (the `status`, `watch` and `release` commands of
 * the CLI, dashboards, runbooks): read every election of a table, and end a
 * stuck lease by force. Times are computed by the database clock, as the
 * protocol's own statements are.
 */
import { DEFAULT_TABLE_NAME, checkName, checkTableName } from '../options.js';
import type { Lease } from '../store.js';
import { Driver, type Queryable, type Row } from './driver.js';
import { StatementRunner } from './runner.js';
import { adminStatements } from './sql.js';
import { toLease } from './store.js';

/** Options of {@link listElections}, {@link readElection} and {@link forceRelease}. */
export interface AdminOptions {
  /**
   * The election table: an identifier or `schema.table`.
   * @default 'leader_election'
   */
  tableName?: string;
  /** Abandons the statement (and destroys its connection) when it aborts. */
  signal?: AbortSignal;
}

/**
 * One election's row, as the database sees it now. The lease is live while
 * `expiresInMs` is positive; `nodeName` and `term` then name the leader.
 * Once it has lapsed (or been released), they name the last leader, and the
 * next tenure will have a higher term. (`expiresInMs` is by the clock of the
 * server that answered: on a cluster whose clocks disagree, it is only an
 * estimate; `released` is exact.)
 */
export interface ElectionStatus extends Lease {
  /** The election (the row's `leader_name`). */
  readonly leaderName: string;
}

/** The lease that {@link forceRelease} ended. */
export interface ForcedRelease {
  /** The node that held it. If it still runs, it keeps acting as leader until its own deadline (at most `remainingMs`), then steps down. */
  readonly nodeName: string;
  /** The term of the tenure that was ended. */
  readonly term: number;
  /** What was left of the lease by the database clock when it was ended, in ms. */
  readonly remainingMs: number;
}

/** Every election in the table, sorted by name, live or lapsed. */
export async function listElections(db: Queryable, options: AdminOptions = {}): Promise<ElectionStatus[]> {
  const { runner, signal } = prepare(db, options);
  const { rows } = await runner.run('listing the elections', adminStatements(runner.tableName).list, [], signal);
  return rows.map(toStatus);
}

/** One election's row, or `undefined` when it has never had a leader. */
export async function readElection(db: Queryable, leaderName: string, options: AdminOptions = {}): Promise<ElectionStatus | undefined> {
  const name = checkName('leaderName', leaderName);
  const { runner, signal } = prepare(db, options);
  const { rows } = await runner.run('reading the election row', adminStatements(runner.tableName).one, [name], signal);
  const row = rows[0];
  return row && toStatus(row);
}

/**
 * Releases the election's lease now, whoever holds it, so that another node
 * can take over at once: for a leader that is stuck (hung, partitioned, or
 * gone without releasing). Resolves to the lease it ended, or `undefined`
 * when it was released already (or it changed hands meanwhile). A lease
 * that has lapsed but was never released counts as held: followers would
 * otherwise wait a full `age` of watching it before they claim.
 *
 * This is an operator's tool, not part of the protocol: if the leader still
 * runs, it keeps believing it leads until its own deadline (at most the
 * lease's remaining life) and steps down at its next renewal, so two nodes
 * may act as leader for that long. Fence writes with the term.
 */
export async function forceRelease(db: Queryable, leaderName: string, options: AdminOptions = {}): Promise<ForcedRelease | undefined> {
  const name = checkName('leaderName', leaderName);
  const { runner, signal } = prepare(db, options);
  const sql = adminStatements(runner.tableName);
  const { rows } = await runner.run('reading the election row', sql.one, [name], signal);
  const row = rows[0];
  const lease = row && toLease(row);
  if (!lease || lease.released) return undefined;
  // Guarded by the term just read: a tenure that began meanwhile is left alone.
  const result = await runner.run('releasing the lease by force', sql.forceRelease, [name, lease.term], signal);
  if (result.affectedRows !== 1) return undefined;
  return { nodeName: lease.nodeName, term: lease.term, remainingMs: Math.max(0, lease.expiresInMs) };
}

/** The runner of `options.tableName` on `db`, and the signal of the call. */
function prepare(db: Queryable, options: AdminOptions): { runner: StatementRunner; signal: AbortSignal } {
  return {
    runner: new StatementRunner(new Driver(db), checkTableName(options.tableName ?? DEFAULT_TABLE_NAME)),
    signal: options.signal ?? new AbortController().signal,
  };
}

function toStatus(row: Row): ElectionStatus {
  return { leaderName: String(row['leader_name']), ...toLease(row) };
}
