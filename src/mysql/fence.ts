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
 * change of leader. Commits when `fn` resolves, rolls back when it throws (its
 * error reaches the caller unchanged); throws {@link NotLeaderError} before
 * `fn` runs when the database says the lease is gone.
 *
 * On MariaDB the transaction gets `idle_transaction_timeout` = `age`: if this
 * process freezes inside it (SIGSTOP, a long GC), the server ends it and
 * frees the row rather than block the next leader. MySQL has no such
 * setting; there a frozen holder blocks a take-over until its connection dies.
 */
export async function runFenced<T>(driver: Driver, target: FenceTarget, tenure: TenureContext, fn: (connection: unknown, tenure: TenureContext) => Promise<T>): Promise<T> {
  // Waiting for a connection ends with the tenure (an exhausted pool must not hold this forever).
  let session: Session;
  try {
    session = await driver.session(tenure.signal);
  } catch (error) {
    if (tenure.signal.aborted) throw new NotLeaderError(`term ${tenure.term} of "${target.leaderName}" ended before the fenced transaction began; nothing was written`);
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
  try {
    // Only on a pooled connection of our own: a single connection is the caller's to keep.
    idleTimeout = driver.pooled && !withoutIdleTimeout.has(driver) && (await setIdleTimeout(session, driver, Math.ceil(target.ageMs / 1000), target.tableName));
    await statement('starting the fenced transaction', 'START TRANSACTION');
    open = true;
    const [held] = rowsOf(await statement('checking the lease', target.sql, [target.leaderName, target.nodeName, tenure.term]));
    if (!held) throw new NotLeaderError(`term ${tenure.term} of "${target.leaderName}" no longer holds a live lease for ${target.nodeName} (checked in the database); nothing was written`);
    const result = await fn(session.raw, tenure);
    await statement('committing the fenced transaction', 'COMMIT');
    open = false;
    return result;
  } finally {
    // Leave the connection as it was found, or close it (the server then rolls back).
    try {
      if (open) await session.query('ROLLBACK');
      if (idleTimeout) await session.query('SET SESSION idle_transaction_timeout = DEFAULT');
      session.release();
    } catch {
      session.destroy();
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
