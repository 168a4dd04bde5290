import { NotLeaderError } from '../errors.js';
import type { TenureContext } from '../tenure.js';
import { rowsOf, type Driver, type Session } from './driver.js';
import { translateError } from './errors.js';

/** The lease a fenced transaction must find live, and how long the server may let it sit idle. */
export interface FenceTarget {
  readonly tableName: string;
  readonly leaderName: string;
  readonly nodeName: string;
  /** `Statements.fence` of the table. */
  readonly sql: string;
  /** The lease's length: a transaction idle for longer is ended by the server (MariaDB). */
  readonly ageMs: number;
}

/** ER_UNKNOWN_SYSTEM_VARIABLE: MySQL has no idle_transaction_timeout. */
const UNKNOWN_VARIABLE = 1193;
/** Handles whose server refused idle_transaction_timeout (MySQL): not asked again. */
const withoutIdleTimeout = new WeakSet<Driver>();

/**
 * Runs `fn` in a transaction that first locks the election row in share
 * mode and checks that `tenure.term` still holds a live lease for this node:
 * a take-over waits until the transaction ends, so its writes land before any
 * change of leader. Commits when `fn` resolves and `stillLeads()` (the local
 * deadline) still holds; rolls back when it throws (its error reaches the
 * caller unchanged). Throws {@link NotLeaderError} when the database says the
 * lease is gone (before `fn` runs), or when the tenure ended before the
 * commit: the transaction is then rolled back, at once if the tenure ends
 * while it runs (its connection is closed and its server thread killed).
 *
 * On MariaDB the transaction gets `idle_transaction_timeout` = `age`: if this
 * process freezes inside it (SIGSTOP, a long GC), the server ends it and
 * frees the row rather than block the next leader. MySQL has no such
 * setting; there a frozen holder blocks a take-over until its connection dies.
 */
export async function runFenced<T>(
  driver: Driver,
  target: FenceTarget,
  tenure: TenureContext,
  stillLeads: () => boolean,
  fn: (connection: unknown, tenure: TenureContext) => Promise<T>,
): Promise<T> {
  const ended = (when: string, cause?: unknown): NotLeaderError =>
    new NotLeaderError(`term ${tenure.term} of "${target.leaderName}" ended ${when}; nothing was written`, cause === undefined ? undefined : { cause });
  // Waiting for a connection ends with the tenure (an exhausted pool must not hold this forever).
  let session: Session;
  try {
    session = await driver.session(tenure.signal);
  } catch (error) {
    if (tenure.signal.aborted) throw ended('before the fenced transaction began');
    throw translateError(error, 'taking a connection for the fenced transaction', target.tableName);
  }
  const statement = async (what: string, sql: string, values: unknown[] = []): Promise<unknown> => {
    try {
      return await session.query(sql, values);
    } catch (error) {
      throw translateError(error, what, target.tableName);
    }
  };
  let idleTimeout = false;
  let open = false;
  let abandoned = false;
  let abandon: (error: NotLeaderError) => void = () => {};
  const whenAbandoned = new Promise<never>((_resolve, reject) => (abandon = reject));
  whenAbandoned.catch(() => {}); // only raced with fn below.
  // When the tenure ends mid-transaction, end the transaction too: its locks
  // go at once (the next leader need not wait for it), it cannot commit, and
  // the caller is answered now, whatever fn still does with its aborted signal.
  // A single connection is the caller's: it is only rolled back, below.
  const onTenureEnd = (): void => {
    if (!open || !driver.pooled) return;
    abandoned = true;
    driver.abandon(session);
    abandon(ended('during the fenced transaction, which was rolled back'));
  };
  tenure.signal.addEventListener('abort', onTenureEnd, { once: true });
  try {
    // Only on a pooled connection of our own: a single connection is the caller's to keep.
    idleTimeout = driver.pooled && !withoutIdleTimeout.has(driver) && (await setIdleTimeout(session, driver, Math.ceil(target.ageMs / 1000), target.tableName));
    await statement('starting the fenced transaction', 'START TRANSACTION');
    open = true;
    const [held] = rowsOf(await statement('checking the lease', target.sql, [target.leaderName, target.nodeName, tenure.term]));
    if (!held) throw ended('(checked in the database)');
    const running = fn(session.raw, tenure);
    running.catch(() => {}); // when abandoned, its late failure is nobody's concern.
    let result: T;
    try {
      result = await Promise.race([running, whenAbandoned]);
    } catch (error) {
      throw abandoned && !(error instanceof NotLeaderError) ? ended('during the fenced transaction, which was rolled back', error) : error;
    }
    // Commit only while this node still leads: nothing of a tenure lands after it ended.
    if (abandoned || !stillLeads()) throw ended('before the commit; the transaction was rolled back');
    await statement('committing the fenced transaction', 'COMMIT');
    open = false;
    return result;
  } finally {
    tenure.signal.removeEventListener('abort', onTenureEnd);
    // Leave the connection as it was found, or close it (the server then rolls back).
    if (!abandoned) {
      try {
        if (open) await session.query('ROLLBACK');
        if (idleTimeout) await session.query('SET SESSION idle_transaction_timeout = DEFAULT');
        session.release();
      } catch {
        session.destroy();
      }
    }
  }
}

/** Sets the session's idle_transaction_timeout; `false` where the server has no such variable (MySQL). */
async function setIdleTimeout(session: Session, driver: Driver, seconds: number, tableName: string): Promise<boolean> {
  try {
    await session.query('SET SESSION idle_transaction_timeout = ?', [seconds]);
    return true;
  } catch (error) {
    if ((error as { errno?: unknown } | null)?.errno !== UNKNOWN_VARIABLE) throw translateError(error, 'setting idle_transaction_timeout', tableName);
    withoutIdleTimeout.add(driver);
    return false;
  }
}
