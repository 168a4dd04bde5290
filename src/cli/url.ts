/** Database URLs in the CLI: parsing (one host or several), redaction of passwords, reachability. */
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
  const userinfo = URL_PARTS.exec(url)?.[2];
  if (userinfo === undefined) return text.split(url).join(redact(url));
  const colon = userinfo.indexOf(':');
  if (colon < 0) return text;
  let password = userinfo.slice(colon + 1, -1);
  try {
    password = decodeURIComponent(password);
  } catch {
    // Not percent-encoded as it should be: the driver gets it as written.
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

/** `SCHEME:` `//USER[:PASSWORD]@` (with its `@`) `HOST[:PORT][,HOST[:PORT]…]` and `/DATABASE?…`: a URL with one or several hosts. */
const URL_PARTS = /^([A-Za-z][A-Za-z0-9+.-]*:)\/\/((?:[^/?#]*@)?)([^/?#@]*)(.*)$/s;

/** One host of a database URL: as written, and the URL of that host alone. */
export interface HostUrl {
  readonly host: string;
  readonly url: string;
}

/**
 * Each host of `url` (`mysql://USER[:PASSWORD]@HOST1[:PORT1],HOST2[:PORT2]/DATABASE`),
 * in its order, with the URL of that host alone: the user, password,
 * database and parameters of `url`. Unchecked: see {@link databaseUrl}.
 */
export function hostUrls(url: string): HostUrl[] {
  const parts = URL_PARTS.exec(url);
  if (!parts) return [{ host: '', url }];
  const [, scheme = '', userinfo = '', hostList = '', rest = ''] = parts;
  return hostList.split(',').map((host) => ({ host, url: `${scheme}//${userinfo}${host}${rest}` }));
}

/**
 * The database URL of a command: `--url`, else MYSQL_URL. Throws a
 * {@link UsageError} when there is none, when it (or one of its hosts) does
 * not parse, when it names a host twice, or when it names no database and
 * `tableName` no schema.
 */
export function databaseUrl(flag: string | undefined, tableName: string): string {
  const source = flag === undefined ? 'MYSQL_URL' : '--url';
  const url = flag ?? process.env['MYSQL_URL'];
  if (!url) throw new UsageError('no database: pass --url mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE or set MYSQL_URL');
  const invalid = (reason: string): UsageError =>
    new UsageError(`${source} is not a valid URL: "${redact(url)}" (${reason}expected mysql://USER[:PASSWORD]@HOST[:PORT][,HOST2[:PORT2]…]/DATABASE)`);
  const hosts = hostUrls(url);
  const several = hosts.length > 1;
  const parsed = hosts.map(({ host, url: hostUrl }, index) => {
    if (several && host === '') throw invalid(`host ${index + 1} is empty; `);
    try {
      return new URL(hostUrl);
    } catch {
      throw invalid(several ? `host ${index + 1}, "${host}", is not HOST[:PORT]; ` : '');
    }
  });
  const named = parsed.map((host) => host.host.toLowerCase());
  const twice = named.find((host, index) => named.indexOf(host) !== index);
  if (twice !== undefined) throw new UsageError(`${source} names the host ${twice} twice: "${redact(url)}"`);
  const [first] = parsed as [URL, ...URL[]];
  if (first.protocol !== 'mysql:' && first.protocol !== 'mariadb:') {
    throw new UsageError(`${source} must start with mysql:// or mariadb://, received "${redact(url)}"`);
  }
  if ((first.pathname === '' || first.pathname === '/') && !tableName.includes('.')) {
    throw new UsageError(`${source} names no database: "${redact(url)}" (add /DATABASE, or pass --table SCHEMA.TABLE)`);
  }
  return url;
}
