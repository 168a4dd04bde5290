/** The database side of the CLI's commands: the table flag, a small pool, errors explained on one line. */
import { createPool, type Pool } from 'mysql2/promise';
import { createMysqlLeaderSql, MysqlLeaderError } from '../index.js';
import { UsageError, stringFlag, type Values } from './command.js';
import { databaseUrl, redact } from './url.js';

/** The `--url` and `--table` flags. */
export const DATABASE_OPTIONS = { url: { type: 'string' }, table: { type: 'string' } } as const;

/** The same words in every command's `--help`. */
export const DATABASE_USAGE = `  --url URL      the database, mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE
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

/**
 * A small pool of the CLI's own: a renewal never queues behind other work,
 * and the hand-over lock keeps one connection.
 */
export function openPool(url: string): Pool {
  return createPool({ uri: url, connectionLimit: 3, connectTimeout: 5000 });
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
