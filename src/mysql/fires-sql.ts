/**
 * The statements of the fires table, where scheduled jobs record each slot
 * (see `schedule()`). One row per slot of a job: its primary key (election,
 * job, slot) is what makes a slot claimable at most once, ever. MySQL
 * 5.7/8/9 and MariaDB 10.3+ accept each statement alike.
 *
 * - Times come from the database clock, `UTC_TIMESTAMP(6)`; a slot is passed
 *   and read as a UTC string (never a driver `Date`, which a driver would
 *   shift by its own time zone).
 * - A claim is an `INSERT IGNORE … SELECT … FROM DUAL WHERE slot <=
 *   UTC_TIMESTAMP(6)`: nothing is written for a slot that is not due by the
 *   database clock, nor for one already claimed (0 rows, whatever the client
 *   flags). It runs inside a fenced transaction (fence.ts), so it commits
 *   only while the tenure lasts.
 */
import { quoteTable } from './sql.js';

/** The default fires table. */
export const DEFAULT_FIRES_TABLE = 'leader_election_fires';

/** The columns a fire row has, in table order. */
export const FIRE_COLUMNS = [
  'leader_name',
  'job_name',
  'slot',
  'node_name',
  'term',
  'attempt',
  'outcome',
  'cron',
  'timezone',
  'started_at',
  'ended_at',
  'error',
] as const;

/** ISO 8601 in UTC with microseconds, read back without any driver time zone. */
const iso = (column: string): string => `DATE_FORMAT(${column}, '%Y-%m-%dT%H:%i:%s.%fZ')`;

/** The statements of one fires table. */
export interface FireStatements {
  /** `[leaderName, jobName]` → one row: `now`, the database clock, and `last`, the latest slot recorded for the job (or NULL). */
  readonly clock: string;
  /** `[]` → one row: `now`, the database clock. */
  readonly now: string;
  /**
   * `[leaderName, jobName, slot, nodeName, term, outcome, cron, timezone, slot]`
   * → 1 row when the slot was free and is due by the database clock.
   */
  readonly claim: string;
  /** `[leaderName, jobName, slot]` → the row of a slot, if any. */
  readonly exists: string;
  /** `[leaderName, jobName, term, oldest]` → the fires left `running` by earlier terms, from `oldest` on, oldest first. */
  readonly unfinished: string;
  /** `[nodeName, term, leaderName, jobName, slot, attempt, term]` → 1 row when this term took over an unfinished fire of an earlier one (a retry). */
  readonly retry: string;
  /** `[outcome, error, leaderName, jobName, slot, term, attempt]` → the fire's end, recorded by the attempt that ran it. */
  readonly finish: string;
  /** `[leaderName, jobName, term]` → fires left `running` by earlier terms marked `interrupted`. */
  readonly interrupt: string;
  /**
   * `[maxAttempts, atCap, tooOld, leaderName, jobName, term, maxAttempts, oldest]` → fires left
   * `running` by earlier terms that are not to run again (their attempts at the cap, or their slot
   * before `oldest`) marked `interrupted`, with `atCap` or `tooOld` as their error.
   */
  readonly abandon: string;
  /** `[leaderName, jobName, keepFrom, retentionUs]` → deletes up to 1,000 rows older than the retention, never the slot `keepFrom` or a later one. */
  readonly prune: string;
  /** `[limit]` → the latest fires of every job, newest first (for `mysql-leader jobs`). */
  readonly recent: string;
}

const built = new Map<string, FireStatements>();

/** The statements of `tableName` (already validated), built once per table. */
export function fireStatements(tableName: string): FireStatements {
  let found = built.get(tableName);
  if (!found) built.set(tableName, (found = buildFireStatements(tableName)));
  return found;
}

function buildFireStatements(tableName: string): FireStatements {
  const table = quoteTable(tableName);
  const job = 'leader_name = ? AND job_name = ?';
  return Object.freeze({
    clock: `SELECT ${iso('UTC_TIMESTAMP(6)')} AS now, (SELECT ${iso('MAX(slot)')} FROM ${table} WHERE ${job}) AS last`,
    now: `SELECT ${iso('UTC_TIMESTAMP(6)')} AS now`,
    // FROM DUAL with a WHERE: MySQL 5.7/8/9 and MariaDB 10.3+ alike.
    claim:
      `INSERT IGNORE INTO ${table} (leader_name, job_name, slot, node_name, term, attempt, outcome, cron, timezone, started_at) ` +
      'SELECT ?, ?, ?, ?, ?, 1, ?, ?, ?, UTC_TIMESTAMP(6) FROM DUAL WHERE ? <= UTC_TIMESTAMP(6)',
    exists: `SELECT outcome FROM ${table} WHERE ${job} AND slot = ?`,
    unfinished: `SELECT ${iso('slot')} AS slot, attempt FROM ${table} WHERE ${job} AND outcome = 'running' AND term < ? AND slot >= ? ORDER BY slot`,
    retry:
      `UPDATE ${table} SET node_name = ?, term = ?, attempt = attempt + 1, started_at = UTC_TIMESTAMP(6), ended_at = NULL ` +
      `WHERE ${job} AND slot = ? AND attempt = ? AND outcome = 'running' AND term < ?`,
    finish: `UPDATE ${table} SET outcome = ?, error = ?, ended_at = UTC_TIMESTAMP(6) WHERE ${job} AND slot = ? AND term = ? AND attempt = ? AND outcome = 'running'`,
    interrupt: `UPDATE ${table} SET outcome = 'interrupted', ended_at = UTC_TIMESTAMP(6) WHERE ${job} AND outcome = 'running' AND term < ?`,
    abandon:
      `UPDATE ${table} SET outcome = 'interrupted', error = IF(attempt >= ?, ?, ?), ended_at = UTC_TIMESTAMP(6) ` +
      `WHERE ${job} AND outcome = 'running' AND term < ? AND (attempt >= ? OR slot < ?)`,
    // DELETE … LIMIT: single-table deletes only, on both servers.
    prune: `DELETE FROM ${table} WHERE ${job} AND slot < ? AND slot < UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND LIMIT 1000`,
    recent:
      `SELECT leader_name, job_name, ${iso('slot')} AS slot, node_name, term, attempt, outcome, cron, timezone, ` +
      `${iso('started_at')} AS started_at, ${iso('ended_at')} AS ended_at, error, ${iso('UTC_TIMESTAMP(6)')} AS now ` +
      `FROM ${table} ORDER BY slot DESC LIMIT ?`,
  });
}

/** The DDL of the fires table (idempotent). */
export function createFiresTableSql(tableName: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(tableName)} (
  leader_name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  job_name    VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  slot        DATETIME(6) NOT NULL,
  node_name   VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  term        BIGINT UNSIGNED NOT NULL,
  attempt     INT UNSIGNED NOT NULL,
  outcome     VARCHAR(16) CHARACTER SET ascii NOT NULL,
  cron        VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL,
  timezone    VARCHAR(64) CHARACTER SET ascii NOT NULL,
  started_at  DATETIME(6) NOT NULL,
  ended_at    DATETIME(6) NULL,
  error       VARCHAR(1024) CHARACTER SET utf8mb4 NULL,
  PRIMARY KEY (leader_name, job_name, slot)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC`;
}
