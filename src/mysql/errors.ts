import { DatabaseError, MysqlLeaderError, SchemaError } from '../errors.js';
import { COLUMNS, quoteTable } from './sql.js';

/** What the drivers put on their errors. */
interface DriverError {
  code?: unknown;
  errno?: unknown;
  message?: unknown;
}

/** MySQL/MariaDB error numbers this library acts on (same on both servers unless said). */
export const ER = {
  /** "Access denied for user … to database …". */
  DBACCESS_DENIED: 1044,
  /** "Access denied for user …" (wrong password, or no such user). */
  ACCESS_DENIED: 1045,
  BAD_DB: 1049,
  BAD_FIELD: 1054,
  /** "… command denied to user … for table …". */
  TABLEACCESS_DENIED: 1142,
  /** "… command denied to user … for column …". */
  COLUMNACCESS_DENIED: 1143,
  NO_SUCH_TABLE: 1146,
  /** "Unknown system variable": MySQL has no idle_transaction_timeout. */
  UNKNOWN_SYSTEM_VARIABLE: 1193,
  /** "WSREP has not yet prepared node for application use" (Galera: the node is not synced, or not in the primary component). */
  UNKNOWN_COM_ERROR: 1047,
  /** "Got error … during COMMIT": on Galera, "not connected to Primary Component". */
  ERROR_DURING_COMMIT: 1180,
  /** "Server shutdown in progress". */
  SERVER_SHUTDOWN: 1053,
  /** A row-lock wait passed `innodb_lock_wait_timeout` (on Galera also a causal read that waited too long, `wsrep_sync_wait`). */
  LOCK_WAIT_TIMEOUT: 1205,
  /** "Query execution was interrupted" (`KILL QUERY`, or the server's own statement time limit). */
  QUERY_INTERRUPTED: 1317,
  /** MariaDB: "Connection was killed" (`KILL` of the session, by an operator or a failover tool). */
  CONNECTION_KILLED: 1927,
  /** A deadlock: InnoDB has rolled the whole transaction back. On Galera also a lost certification (a conflicting write committed first on another node). */
  LOCK_DEADLOCK: 1213,
  /** "Access denied; you need (at least one of) the … privilege(s)". */
  SPECIFIC_ACCESS_DENIED: 1227,
  /** ER_NOT_SUPPORTED_YET: Percona XtraDB Cluster refuses GET_LOCK (MariaDB Galera accepts it, node-local) ("GET_LOCK in cluster (WSREP_ON=ON)"). */
  NOT_SUPPORTED_YET: 1235,
  /** --read-only / super_read_only: "The MySQL/MariaDB server is running with the --read-only option". */
  OPTION_PREVENTS_STATEMENT: 1290,
  /** "… command denied to user … for routine …". */
  PROCACCESS_DENIED: 1370,
  READ_ONLY_TRANSACTION: 1792,
  /** MySQL 8: "Running in read-only mode" (innodb_read_only and friends). */
  READ_ONLY_MODE: 1836,
} as const;

/**
 * The server's error number of a driver error, or of the driver error that
 * a {@link DatabaseError} of this library keeps as `cause`; `undefined`
 * when there is none (a lost or refused connection, a time-out).
 */
export function errnoOf(error: unknown): number | undefined {
  const driverError = error instanceof DatabaseError ? error.cause : error;
  const errno = (driverError as DriverError | null | undefined)?.errno;
  // Node's socket errors carry a negative errno of their own (libuv's): not the server's.
  return typeof errno === 'number' && errno > 0 ? errno : undefined;
}

/** The errors that say the user lacks a privilege. */
const ACCESS_DENIED: ReadonlySet<number> = new Set([
  ER.DBACCESS_DENIED,
  ER.ACCESS_DENIED,
  ER.TABLEACCESS_DENIED,
  ER.COLUMNACCESS_DENIED,
  ER.SPECIFIC_ACCESS_DENIED,
  ER.PROCACCESS_DENIED,
]);

/** The server errors that come and go (see `DatabaseError.transient`). */
const TRANSIENT_ERRNOS: ReadonlySet<number> = new Set([
  ER.UNKNOWN_COM_ERROR,
  ER.SERVER_SHUTDOWN,
  ER.ERROR_DURING_COMMIT,
  ER.LOCK_WAIT_TIMEOUT,
  ER.LOCK_DEADLOCK,
  ER.QUERY_INTERRUPTED,
  ER.CONNECTION_KILLED,
]);

/**
 * The drivers' codes of a connection that failed or was lost (Node's socket
 * errors, mysql2's and mariadb's own), and the client errors of a server
 * gone away or lost during a query (2006, 2013).
 */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SOCKET_UNEXPECTED_CLOSE',
  'ER_CONNECTION_ALREADY_CLOSED',
  'ER_GET_CONNECTION_TIMEOUT',
  'ER_CONN_CLOSED',
  'CR_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
]);

/**
 * Whether a driver's error says that its node cannot serve now: a connection
 * refused, reset or lost (the codes above), or a Galera node not ready
 * (1047) or out of the primary component (1180). A node set moves on after
 * one; a lock wait or a lost deadlock says nothing of the node.
 */
export function isNodeFailure(error: unknown): boolean {
  const errno = errnoOf(error);
  if (errno === ER.UNKNOWN_COM_ERROR || errno === ER.ERROR_DURING_COMMIT) return true;
  const { code, message } = (error ?? {}) as DriverError;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  // mysql2 gives a command on a connection it already saw close no code at all.
  return code === undefined && typeof message === 'string' && message.includes('connection is in closed state');
}

/** Whether a driver's error is one that comes and goes (see `DatabaseError.transient`). */
export function isTransient(error: unknown): boolean {
  const errno = errnoOf(error);
  if (errno !== undefined && TRANSIENT_ERRNOS.has(errno)) return true;
  const { code, message } = (error ?? {}) as DriverError;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  // mysql2 gives a command on a connection it already saw close no code at all.
  return code === undefined && typeof message === 'string' && message.includes('connection is in closed state');
}

/**
 * Turns a driver's error into this library's: {@link SchemaError} for a
 * missing table or missing columns, {@link DatabaseError} (with a hint for
 * permissions and read-only servers) for everything else. The driver's error
 * is kept as `cause`. Errors of this library pass through.
 */
export function translateError(error: unknown, what: string, tableName: string, columns?: readonly string[]): MysqlLeaderError {
  if (error instanceof MysqlLeaderError) return error;
  const driver = (error ?? {}) as DriverError;
  const errno = errnoOf(error);
  const sqlCode = typeof driver.code === 'string' ? driver.code : undefined;
  const message = typeof driver.message === 'string' ? driver.message : String(error);
  const table = quoteTable(tableName);
  if (errno === ER.NO_SUCH_TABLE) {
    return new SchemaError(
      `${what} failed: the election table ${table} does not exist. Create it with createMysqlLeaderTable(db) or apply CREATE_MYSQL_LEADER_SQL in a migration (\`npx mysql-leader schema\` prints it).`,
      { cause: error },
    );
  }
  if (errno === ER.BAD_FIELD) return wrongColumnsError(what, tableName, columns, error);
  let hint = '';
  if (errno !== undefined && ACCESS_DENIED.has(errno)) hint = ' (permission denied: the user needs SELECT, INSERT and UPDATE on the election table)';
  else if (errno === ER.OPTION_PREVENTS_STATEMENT || errno === ER.READ_ONLY_TRANSACTION || errno === ER.READ_ONLY_MODE) {
    hint = ' (the server is read-only: point every participant at the primary)';
  } else if (errno === ER.BAD_DB) hint = ' (unknown database)';
  return new DatabaseError(`${what} failed: ${message}${hint}`, { cause: error, sqlCode, transient: isTransient(error), errno });
}

/** The table lacks some of {@link COLUMNS}; says which table it looks like (the Go package's, say). */
export function wrongColumnsError(what: string, tableName: string, columns: readonly string[] | undefined, cause?: unknown): SchemaError {
  const table = quoteTable(tableName);
  const expected = COLUMNS.join(', ');
  const found = columns?.join(', ');
  let message = `${what} failed: the election table ${table} has columns (${found}) but this library needs (${expected}).`;
  if (!columns) message = `${what} failed: the election table ${table} lacks columns this library needs (${expected}).`;
  else if (columns.includes('last_update') && !columns.includes('term')) {
    message =
      `${what} failed: the election table ${table} has the Go package's columns (${found}), not this library's (${expected}). ` +
      'Use another table (the tableName option) or migrate this one: the two protocols must not share a table.';
  }
  return new SchemaError(message, cause === undefined ? undefined : { cause });
}
