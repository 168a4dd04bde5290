/**
 * Every SQL statement of the protocol, in one place. Each is a single
 * autocommit statement that MySQL 5.7/8/9 and MariaDB 10.3+ accept alike.
 *
 * - Times come from the database clock only: `UTC_TIMESTAMP(6)`, which is
 *   constant within a statement and, unlike `NOW()`, ignores the session's
 *   `time_zone`.
 * - Writes are decided on matched rows (`affectedRows` with the FOUND_ROWS
 *   client flag, the default of mysql2 and mariadb): every write below
 *   changes the row it matches, so matched and changed agree without it too.
 * - `term = LAST_INSERT_ID(term + 1)` returns the new term as the result's
 *   `insertId` in the same round trip (both servers).
 * - The row's version is `(term, renewed_at)`: every write either gives a new
 *   term or moves `renewed_at` on by at least a microsecond ({@link NEXT}),
 *   whatever the clock of the server that runs it says. A take-over is a
 *   compare-and-set on the version a follower watched, so no database clock
 *   decides who may claim (see `Elector`, the safety rule).
 * - A released lease has `expires_at <= renewed_at`; a held one has
 *   `expires_at = renewed_at + age` (or more). Both compare two columns of
 *   one row, never a column with a clock, so a skewed or stepped server
 *   clock cannot make a held lease look released or the reverse.
 * - Single-table `UPDATE` assignments run left to right on MySQL and on
 *   MariaDB, except with MariaDB's `SIMULTANEOUS_ASSIGNMENT` SQL mode; each
 *   statement below is written to give a held or released row either way.
 */

/** Quotes a validated `table` or `schema.table` identifier. */
export function quoteTable(tableName: string): string {
  return tableName
    .split('.')
    .map((part) => `\`${part}\``)
    .join('.');
}

/** The columns the protocol needs, in table order. */
export const COLUMNS = ['leader_name', 'node_name', 'term', 'acquired_at', 'renewed_at', 'expires_at'] as const;

/** ISO 8601 in UTC with microseconds, so that no driver applies its own time zone to a DATETIME. */
const iso = (column: string): string => `DATE_FORMAT(${column}, '%Y-%m-%dT%H:%i:%s.%fZ')`;

/**
 * The columns of a lease as `read()` returns them: `expires_in_us` and
 * `renewed_us_ago` are computed by the database clock (for display and for
 * timing reads, never for safety); `version` is `renewed_at` to the
 * microsecond, the form a compare-and-set gives back.
 */
export const LEASE_COLUMNS =
  'node_name, term, expires_at <= renewed_at AS released, ' +
  'TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), expires_at) AS expires_in_us, ' +
  'TIMESTAMPDIFF(MICROSECOND, renewed_at, UTC_TIMESTAMP(6)) AS renewed_us_ago, ' +
  `DATE_FORMAT(renewed_at, '%Y-%m-%d %H:%i:%s.%f') AS version, ${iso('acquired_at')} AS acquired_at, ${iso('renewed_at')} AS renewed_at`;

/**
 * The next `renewed_at`: the database clock, but always after the current
 * value, so that the version moves on even on a server whose clock is
 * behind the one that wrote the row (another Galera node, a stepped clock).
 */
export const NEXT = 'GREATEST(UTC_TIMESTAMP(6), renewed_at + INTERVAL 1 MICROSECOND)';

/** Held: `expires_at` a full age (`ageUs` µs: a placeholder, or an integer in the text) after the new `renewed_at`, whichever order the assignments run in. */
export const heldFor = (ageUs: string): string => `renewed_at = ${NEXT}, expires_at = ${NEXT} + INTERVAL ${ageUs} MICROSECOND`;

/** {@link heldFor} the age bound to a placeholder. */
export const HELD = heldFor('?');

/** The lease is held, not released: a comparison within the row, with no clock. */
export const NOT_RELEASED = 'expires_at > renewed_at';

/** The statements of one election table. */
export interface Statements {
  /**
   * `[leaderName]` → always one row: `server_id`, the answering server's,
   * and the lease's columns, all NULL when the election has no row (so that
   * a failover is noticed even on an absent row).
   */
  readonly read: string;
  /** `[leaderName, nodeName, term, ageUs]` → 1 row inserted (term 1, or more after a failover lost the row), or 0 when the row exists. */
  readonly insert: string;
  /**
   * `[nodeName, minTerm, ageUs, leaderName, term, version]` → 1 row (new
   * term, `term + 1` or `minTerm` if greater, as `insertId`) when the row
   * still has the version the claimant read.
   */
  readonly takeOver: string;
  /**
   * `[ageUs, leaderName, nodeName, term]` → 1 row when the lease is held by
   * `nodeName` under `term`. Also the fence's write on a Galera cluster.
   */
  readonly renew: string;
  /** `[leaderName, nodeName, term]` → 1 row when a lease held under `term` was released. */
  readonly release: string;
  /**
   * `[leaderName, nodeName, term]` → 1 row, share-locked until the
   * transaction ends, when the lease is held under `term`. On one server, a
   * take-over (an UPDATE) waits for that lock: writes in the transaction are
   * serialized before any change of leader. (Galera does not replicate the
   * lock: there the fence writes the row with `renew`, see fence.ts.)
   */
  readonly fence: string;
  /**
   * `[ageUs, leaderName, nodeName, term]` → 1 row when the lease is held
   * under `term` and the session replicates its writes: the fence's write on
   * a Galera node (`wsrep_on` is a Galera variable: nowhere else).
   */
  readonly fenceWrite: string;
}

/** The statements built so far, by table: elections on one table share them (1,000 elections, one copy). */
const built = new Map<string, Statements>();

/** The statements for `tableName` (already validated), built once per table. */
export function statements(tableName: string): Statements {
  let found = built.get(tableName);
  if (!found) built.set(tableName, (found = buildStatements(tableName)));
  return found;
}

function buildStatements(tableName: string): Statements {
  const table = quoteTable(tableName);
  return Object.freeze({
    // A derived table without FROM, LEFT JOINed: MySQL 5.7/8/9 and MariaDB 10.3+ alike.
    read: `SELECT answering.server_id, ${LEASE_COLUMNS} FROM (SELECT @@server_id AS server_id) AS answering LEFT JOIN ${table} ON leader_name = ?`,
    // INSERT IGNORE reports 0 rows on a duplicate key whatever the client
    // flags (INSERT … ON DUPLICATE KEY UPDATE would report 1 with FOUND_ROWS).
    insert:
      `INSERT IGNORE INTO ${table} (leader_name, node_name, term, acquired_at, renewed_at, expires_at) ` +
      'VALUES (?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)',
    // `renewed_at = ?` compares the column with the string `version` as a DATETIME(6), exactly.
    takeOver:
      `UPDATE ${table} SET node_name = ?, term = LAST_INSERT_ID(GREATEST(term + 1, ?)), acquired_at = UTC_TIMESTAMP(6), ${HELD} ` +
      'WHERE leader_name = ? AND term = ? AND renewed_at = ?',
    // A released lease is never renewed: coming back is a new tenure, with a new term.
    renew: `UPDATE ${table} SET ${HELD} WHERE leader_name = ? AND node_name = ? AND term = ? AND ${NOT_RELEASED}`,
    // Left to right, expires_at gets the new renewed_at; simultaneously, the old one: released either way.
    release: `UPDATE ${table} SET renewed_at = ${NEXT}, expires_at = renewed_at WHERE leader_name = ? AND node_name = ? AND term = ? AND ${NOT_RELEASED}`,
    // LOCK IN SHARE MODE: MySQL 5.7/8/9 and MariaDB (MySQL 8 also spells it FOR SHARE).
    fence: `SELECT term FROM ${table} WHERE leader_name = ? AND node_name = ? AND term = ? AND ${NOT_RELEASED} LOCK IN SHARE MODE`,
    fenceWrite: `UPDATE ${table} SET ${HELD} WHERE leader_name = ? AND node_name = ? AND term = ? AND ${NOT_RELEASED} AND @@session.wsrep_on = 1`,
  });
}

/** The DDL of the election table (idempotent). */
export function createTableSql(tableName: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(tableName)} (
  leader_name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  node_name   VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  term        BIGINT UNSIGNED NOT NULL,
  acquired_at DATETIME(6) NOT NULL,
  renewed_at  DATETIME(6) NOT NULL,
  expires_at  DATETIME(6) NOT NULL,
  PRIMARY KEY (leader_name)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC`;
}

/**
 * `[tableName]` → the table's columns: `name`, `type` (lower case),
 * `fsp` (fractional seconds of a DATETIME), `length` (of a VARCHAR).
 * `schema.table` is split by the caller: `[schema, table]` with
 * {@link COLUMNS_OF_QUALIFIED}.
 */
export const COLUMNS_OF =
  'SELECT COLUMN_NAME AS name, DATA_TYPE AS type, DATETIME_PRECISION AS fsp, CHARACTER_MAXIMUM_LENGTH AS length ' +
  'FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION';
/** `[schema, table]` → the table's columns, as {@link COLUMNS_OF}. */
export const COLUMNS_OF_QUALIFIED = COLUMNS_OF.replace('TABLE_SCHEMA = DATABASE()', 'TABLE_SCHEMA = ?');

/**
 * The name of an election's hand-over lock (`GET_LOCK` names are limited to
 * 64 characters, server-wide): a hash of the schema, the table and the
 * election. Placeholders: `[schema or null for the current one, table, leaderName]`.
 */
const LOCK_NAME = "CONCAT('mysql-leader:', LEFT(SHA2(CONCAT_WS(',', COALESCE(?, DATABASE()), ?, ?), 256), 48))";

/**
 * `[...lockKey, timeoutSeconds]` → `obtained` 1 (now held by this session),
 * 0 (timed out) or NULL (error). MariaDB 10.1.2+ honours fractions of a
 * second; a server that rounds them just ends the wait early or late.
 */
export const GET_LOCK = `SELECT GET_LOCK(${LOCK_NAME}, ?) AS obtained`;
/**
 * `[...lockKey, ...lockKey, timeoutSeconds]` → `obtained` -1 when the lock
 * is free (neither taken nor waited for), else as {@link GET_LOCK}: a wait
 * only on a lock that another session holds.
 */
export const GET_LOCK_IF_HELD = `SELECT IF(IS_FREE_LOCK(${LOCK_NAME}), -1, GET_LOCK(${LOCK_NAME}, ?)) AS obtained`;
/** `[...lockKey]` → frees the lock if this session holds it. */
export const RELEASE_LOCK = `DO RELEASE_LOCK(${LOCK_NAME})`;
/** `[...lockKey]` → `mine` 1 when this session holds the lock. */
export const OWNS_LOCK = `SELECT IS_USED_LOCK(${LOCK_NAME}) = CONNECTION_ID() AS mine`;

/** The placeholders of {@link LOCK_NAME} for `tableName` and `leaderName`. */
export function lockKey(tableName: string, leaderName: string): unknown[] {
  const [first, second] = tableName.split('.');
  return second === undefined ? [null, first, leaderName] : [first, second, leaderName];
}

/** The statements of the operators' functions (`listElections`, `readElection`, `forceRelease`) for one election table. */
export interface AdminStatements {
  /** `[]` → every row by `leader_name`: `leader_name` and the columns of `read`. */
  readonly list: string;
  /** `[leaderName]` → the row (or none), with the columns of `list`. */
  readonly one: string;
  /**
   * `[leaderName, term]` → 1 row when the lease under `term` was held and
   * is now released, whoever holds it; 0 when it was released already or
   * the term changed.
   */
  readonly forceRelease: string;
}

/** Builds the operators' statements for `tableName` (already validated). */
export function adminStatements(tableName: string): AdminStatements {
  const table = quoteTable(tableName);
  return Object.freeze({
    list: `SELECT leader_name, ${LEASE_COLUMNS} FROM ${table} ORDER BY leader_name`,
    one: `SELECT leader_name, ${LEASE_COLUMNS} FROM ${table} WHERE leader_name = ?`,
    forceRelease: `UPDATE ${table} SET renewed_at = ${NEXT}, expires_at = renewed_at WHERE leader_name = ? AND term = ? AND ${NOT_RELEASED}`,
  });
}
