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

/** The columns of a lease as `read()` returns them; `expires_in_us` is computed by the database. */
const LEASE_COLUMNS = `node_name, term, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), expires_at) AS expires_in_us, ${iso('acquired_at')} AS acquired_at, ${iso('renewed_at')} AS renewed_at`;

/** The statements of one election table. */
export interface Statements {
  /** `[leaderName]` → the row (or none). */
  readonly read: string;
  /** `[leaderName, nodeName, ageUs]` → 1 row inserted (term 1), or 0 when the row exists. */
  readonly insert: string;
  /** `[nodeName, ageUs, leaderName]` → 1 row (new term as `insertId`) when the lease had lapsed. */
  readonly takeOver: string;
  /** `[ageUs, leaderName, nodeName, term]` → 1 row when the lease was live and held under `term`. */
  readonly renew: string;
  /** `[leaderName, nodeName, term]` → 1 row when a live lease held under `term` was ended. */
  readonly release: string;
  /**
   * `[leaderName, nodeName, term]` → 1 row, share-locked until the
   * transaction ends, when the lease is live and held under `term`. A
   * take-over (an UPDATE) waits for that lock: writes in the transaction are
   * serialized before any change of leader.
   */
  readonly fence: string;
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
    read: `SELECT ${LEASE_COLUMNS} FROM ${table} WHERE leader_name = ?`,
    // INSERT IGNORE reports 0 rows on a duplicate key whatever the client
    // flags (INSERT … ON DUPLICATE KEY UPDATE would report 1 with FOUND_ROWS).
    insert:
      `INSERT IGNORE INTO ${table} (leader_name, node_name, term, acquired_at, renewed_at, expires_at) ` +
      'VALUES (?, ?, 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)',
    takeOver:
      `UPDATE ${table} SET node_name = ?, term = LAST_INSERT_ID(term + 1), acquired_at = UTC_TIMESTAMP(6), ` +
      'renewed_at = UTC_TIMESTAMP(6), expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND ' +
      'WHERE leader_name = ? AND expires_at <= UTC_TIMESTAMP(6)',
    // A lapsed lease is never renewed: coming back is a new tenure, with a new term.
    renew:
      `UPDATE ${table} SET renewed_at = UTC_TIMESTAMP(6), expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND ` +
      'WHERE leader_name = ? AND node_name = ? AND term = ? AND expires_at > UTC_TIMESTAMP(6)',
    release: `UPDATE ${table} SET expires_at = UTC_TIMESTAMP(6) ` + 'WHERE leader_name = ? AND node_name = ? AND term = ? AND expires_at > UTC_TIMESTAMP(6)',
    // LOCK IN SHARE MODE: MySQL 5.7/8/9 and MariaDB (MySQL 8 also spells it FOR SHARE).
    fence: `SELECT term FROM ${table} WHERE leader_name = ? AND node_name = ? AND term = ? AND expires_at > UTC_TIMESTAMP(6) LOCK IN SHARE MODE`,
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
   * `[leaderName, term]` → 1 row when the lease under `term` was live and
   * now ends, whoever holds it; 0 when it had lapsed or the term changed.
   */
  readonly forceRelease: string;
}

/** Builds the operators' statements for `tableName` (already validated). */
export function adminStatements(tableName: string): AdminStatements {
  const table = quoteTable(tableName);
  return Object.freeze({
    list: `SELECT leader_name, ${LEASE_COLUMNS} FROM ${table} ORDER BY leader_name`,
    one: `SELECT leader_name, ${LEASE_COLUMNS} FROM ${table} WHERE leader_name = ?`,
    forceRelease: `UPDATE ${table} SET expires_at = UTC_TIMESTAMP(6) WHERE leader_name = ? AND term = ? AND expires_at > UTC_TIMESTAMP(6)`,
  });
}
