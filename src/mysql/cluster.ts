/**
 * What kind of coordinator a handle reaches: one server, or a node of a
 * Galera cluster (MariaDB Galera Cluster, Percona XtraDB Cluster), found by
 * `wsrep_on`. On Galera, share locks are node-local, so a fenced transaction
 * writes the election row instead (fence.ts), and election reads wait for
 * the node to have applied every earlier commit of the cluster
 * (`wsrep_sync_wait`), so that followers do not claim on a stale read. And
 * whether a Galera node may serve now, for node sets (node-set.ts).
 */
import type { QueryResult } from './driver.js';

/** The coordinator behind a handle. */
export interface Coordinator {
  /** `wsrep_on` is ON: a node of a Galera cluster. */
  readonly galera: boolean;
  /** The server is MariaDB (it accepts `SET STATEMENT … FOR`), not MySQL or Percona. */
  readonly mariadb: boolean;
}

/** One statement that MySQL 5.7/8/9 and MariaDB 10.3+ accept alike; a server without Galera has no `wsrep_on` row. */
const COORDINATOR_SQL = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_on', 'version')";

/** The {@link Coordinator} that {@link COORDINATOR_SQL} describes. */
function coordinatorOf(result: QueryResult): Coordinator {
  const value = (name: string): string => (variable(result, name) ?? '').toLowerCase();
  return { galera: value('wsrep_on') === 'on', mariadb: value('version').includes('mariadb') };
}

/**
 * A node's Galera state, in one statement that every server accepts. A
 * server without a Galera provider has no `wsrep_local_state_comment` (a
 * MariaDB built with wsrep support still reports `wsrep_ready` OFF).
 */
export const NODE_STATE_SQL = "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state_comment')";

/**
 * Why the node that {@link NODE_STATE_SQL} describes must not be used, or
 * `undefined` when it may: a server without Galera always may; a Galera node
 * only while `wsrep_ready` is ON and it is Synced (not joining, a donor, or
 * out of the primary component).
 */
export function nodeUnready(result: QueryResult): string | undefined {
  const state = variable(result, 'wsrep_local_state_comment');
  if (state === undefined) return undefined;
  const ready = variable(result, 'wsrep_ready') ?? '';
  if (ready.toUpperCase() === 'ON' && state === 'Synced') return undefined;
  return `not ready: wsrep_ready is ${ready || 'missing'}, wsrep_local_state_comment is ${state || 'empty'}`;
}

/** The value of the variable `name` in the rows of a `SHOW … VARIABLES` or `SHOW … STATUS`, or `undefined` when it has no row. */
function variable(result: QueryResult, name: string): string | undefined {
  const row = result.rows.find((candidate) => text(candidate['Variable_name'] ?? candidate['variable_name']).toLowerCase() === name);
  return row === undefined ? undefined : text(row['Value'] ?? row['value']);
}

/**
 * The election read for `coordinator`: on a MariaDB Galera node, it first
 * waits until the node has applied every commit the cluster made before it
 * (`wsrep_sync_wait = 1`, for this statement only). Percona XtraDB Cluster
 * has no `SET STATEMENT`: set `wsrep_sync_wait = 1` on the election pool's
 * sessions there.
 */
export function readFor(coordinator: Coordinator, read: string): string {
  return coordinator.galera && coordinator.mariadb ? `SET STATEMENT wsrep_sync_wait = 1 FOR ${read}` : read;
}

/** What each database handle reaches, learnt once per handle (1,000 elections on one pool ask once). */
const learnt = new WeakMap<object, Promise<Coordinator>>();

/**
 * The coordinator behind `handle`, asked once per handle with `ask` (which
 * runs {@link COORDINATOR_SQL} on a connection of the caller's: the store's
 * pool, the fence's own session), and again after a failure. A shared
 * question runs under the signal of the caller that asked first: if that one
 * times out, each asks again at its next call.
 */
export function learnCoordinator(handle: object, ask: (sql: string) => Promise<QueryResult>): Promise<Coordinator> {
  let coordinator = learnt.get(handle);
  if (!coordinator) {
    coordinator = ask(COORDINATOR_SQL).then(coordinatorOf);
    coordinator.catch(() => learnt.delete(handle));
    learnt.set(handle, coordinator);
  }
  return coordinator;
}

/** A column of `SHOW VARIABLES` as text (drivers return a string, or a Buffer for binary collations). */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  return Buffer.isBuffer(value) ? value.toString('utf8') : '';
}
