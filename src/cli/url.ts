/** Database URLs in the CLI: parsing, redaction of passwords, reachability. */
import { createConnection } from 'mysql2/promise';

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
  let password = '';
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
