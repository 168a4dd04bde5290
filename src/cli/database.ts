/** The database side of the CLI's commands: the table flag, a small pool (one per host), errors explained on one line. */
import { createPool } from 'mysql2/promise';
import { createMysqlLeaderSql, MysqlLeaderError, nodeSet, type OnError, type Queryable } from '../index.js';
import { UsageError, stringFlag, type Values } from './command.js';
import { databaseUrl, hostUrls, redact } from './url.js';

/** The `--url` and `--table` flags. */
export const DATABASE_OPTIONS = { url: { type: 'string' }, table: { type: 'string' } } as const;

/** The same words in every command's `--help`. */
export const DATABASE_USAGE = `  --url URL      the database, mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE;
                 for the nodes of a Galera cluster (or several addresses of
                 one server), HOST1[:PORT1],HOST2[:PORT2],…: the first that
                 serves is used, the next when it fails
                 (default: $MYSQL_URL; prefer the variable: a password on the
                 command line is visible to other users of the host)
  --table NAME   the election table, NAME or SCHEMA.NAME (default: leader_election)`;

/** Where a command works: the table, and the URL of its database. */
export interface Target {
  /** The database URL, as given (print it with `redact`). */
  readonly url: string;
  /** The election table, checked. */
  readonly tableName: string;
}

/** Reads and checks `--table`. */
export function tableFlag(values: Values): string {
  const tableName = stringFlag(values, 'table') ?? 'leader_election';
  try {
    createMysqlLeaderSql({ tableName });
  } catch {
    throw new UsageError(`--table must be an identifier ([A-Za-z_][A-Za-z0-9_$]*, at most 64 characters) or SCHEMA.TABLE, received "${tableName}"`);
  }
  return tableName;
}

/** Reads and checks `--table` and `--url` (or MYSQL_URL). */
export function target(values: Values): Target {
  const tableName = tableFlag(values);
  return { url: databaseUrl(stringFlag(values, 'url'), tableName), tableName };
}

/** What a command works on: a pool, or a node set over a pool per host. `end()` closes it all. */
export type Database = Queryable & { end(): Promise<void> };

/**
 * A small pool of the CLI's own (a renewal never queues behind other work,
 * and the hand-over lock keeps one connection), one per host of `url`
 * (checked by {@link target}); several make a node set.
 */
export function openDatabase(url: string): Database {
  const pools = hostUrls(url).map((host) => createPool({ uri: host.url, connectionLimit: 3, connectTimeout: 5000 }));
  const [pool] = pools;
  return pool && pools.length === 1 ? pool : nodeSet(pools);
}

/** Driver error codes that mean the server could not be reached or refused the login. */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'PROTOCOL_CONNECTION_LOST',
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
]);

/** One line that explains `error`; names the server (without its password) when it could not be reached. */
export function explain(error: unknown, url: string | undefined): string {
  const message = error instanceof Error ? error.message : String(error);
  if (url && error instanceof MysqlLeaderError) {
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
    if (typeof cause?.code === 'string' && CONNECTION_CODES.has(cause.code)) return `cannot connect to ${redact(url)}: ${String(cause.message)}`;
    if (error.code === 'ERR_MYSQL_LEADER_TIMEOUT') return `no answer from ${redact(url)}: ${message}`;
  }
  return message;
}

/** An `onError` for the engine's commands: database errors go on being retried (a lease ends if they last); each different one is shown once. */
export function notingOnce(note: (line: string) => void): OnError {
  let last: string | undefined;
  return (error) => {
    if (error.message !== last) note(error.message);
    last = error.message;
  };
}
