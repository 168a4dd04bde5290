/** Database URLs in the CLI: parsing, redaction of passwords, reachability. */
import { createConnection } from 'mysql2/promise';
import { UsageError } from './command.js';

/** The URL with its password replaced by `***`, for every message the CLI prints. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/** Removes every occurrence of the URL's password from `text` (driver messages can quote it). */
export function scrub(text: string, url: string | undefined): string {
  if (!url) return text;
  let password: string;
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    return text.split(url).join(redact(url));
  }
  return password ? text.split(password).join('***') : text;
}

/** Whether a server answers at `url` within `timeoutMs`. */
export async function reachable(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const connection = await createConnection({ uri: url, connectTimeout: timeoutMs });
    await connection.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * The database URL of a command: `--url`, else MYSQL_URL. Throws a
 * {@link UsageError} when there is none, when it does not parse, or when it
 * names no database and `tableName` no schema.
 */
export function databaseUrl(flag: string | undefined, tableName: string): string {
  const source = flag === undefined ? 'MYSQL_URL' : '--url';
  const url = flag ?? process.env['MYSQL_URL'];
  if (!url) throw new UsageError('no database: pass --url mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE or set MYSQL_URL');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${source} is not a valid URL: "${redact(url)}" (expected mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE)`);
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new UsageError(`${source} must start with mysql:// or mariadb://, received "${redact(url)}"`);
  }
  if ((parsed.pathname === '' || parsed.pathname === '/') && !tableName.includes('.')) {
    throw new UsageError(`${source} names no database: "${redact(url)}" (add /DATABASE, or pass --table SCHEMA.TABLE)`);
  }
  return url;
}
