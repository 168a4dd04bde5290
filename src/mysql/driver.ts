/**
 * Driver adapters. The library types its database handle structurally
 * (kysely's way) and works with what users already have: a `mysql2` pool or
 * connection (promise or callback API), a `mariadb` pool or connection, or
 * any object with a compatible `query`. Results are normalised here into
 * one {@link QueryResult}, whatever the driver.
 */

import { OptionTypeError } from '../errors.js';

/**
 * A database handle: a `mysql2` pool or connection (`mysql2/promise` or the
 * callback API), a `mariadb` pool or connection, or any object whose
 * `query(sql, values)` returns a promise of `[rows, fields]` (mysql2's shape)
 * or of the rows themselves (mariadb's). Handles with `getConnection()`
 * (pools) let each statement run on a connection that is destroyed if the
 * statement times out, and allow the features that need a connection of
 * their own.
 */
export interface Queryable {
  /** Runs one statement with `?` placeholders bound to `values`. */
  query(sql: string, values?: unknown[]): unknown;
}

/** A result row, by column name. */
export type Row = Readonly<Record<string, unknown>>;

/**
 * What a statement returns, whatever the driver (kysely's `QueryResult`):
 * the rows of a `SELECT`, or the header of any other statement.
 */
export interface QueryResult {
  /** The rows of a `SELECT`; empty for any other statement. */
  readonly rows: readonly Row[];
  /** Rows matched by a write (with mysql2's and mariadb's default `FOUND_ROWS` flag); 0 for a `SELECT`. */
  readonly affectedRows: number;
  /** The value passed to `LAST_INSERT_ID(expr)`, or the insert's id; 0 for a `SELECT`. */
  readonly insertId: number;
}

/** A connection of its own, taken from a pool (or the handle itself when it is a single connection). */
export interface Session {
  /** The driver's own connection object (promise API), for user code. */
  readonly raw: unknown;
  /** Runs one statement on this connection. */
  query(sql: string, values?: unknown[]): Promise<QueryResult>;
  /** Gives the connection back to the pool. */
  release(): void;
  /** Closes the connection (for one whose state is unknown); its pending statements reject at once. */
  destroy(): void;
  /** The server's id of the connection, when the driver tells it. */
  readonly threadId?: number | undefined;
}

interface PromiseHandle {
  query(sql: string, values?: unknown[]): unknown;
  getConnection?: () => Promise<RawConnection>;
}

/** How long the best-effort KILL of an abandoned statement may take (ms). */
const KILL_TIMEOUT = 5_000;
/** `[threadId, statementPrefix% or %]` → a row if that thread is our user's and runs that statement (or any, or none, with `%`). */
const STILL_OURS =
  "SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ? AND USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1) AND COALESCE(INFO, '') LIKE ?";

interface RawConnection {
  query(sql: string, values?: unknown[]): unknown;
  release(): unknown;
  destroy(): unknown;
}

/** Runs statements on a user's handle, each abandoned (and its connection destroyed) when `signal` aborts. */
export class Driver {
  readonly #handle: PromiseHandle;
  readonly #given: Queryable;
  /** The KILLs of abandoned statements, one after the other (see #kill). */
  #kills: Promise<void> = Promise.resolve();

  /** Throws an {@link OptionTypeError} naming `option` unless `db` looks like a database handle. */
  constructor(db: Queryable, option = 'db') {
    const candidate = db as Partial<PromiseHandle & { promise: () => PromiseHandle }> | null | undefined;
    if (candidate === null || typeof candidate !== 'object' || typeof candidate.query !== 'function') {
      throw new OptionTypeError(
        [option],
        `${option} must be a mysql2 or mariadb pool or connection, or an object with query(sql, values); received ${candidate === null ? 'null' : typeof candidate}`,
      );
    }
    this.#given = db;
    // mysql2's callback API (`mysql2`, not `mysql2/promise`): use its promise wrapper.
    this.#handle = typeof candidate.promise === 'function' ? candidate.promise() : (candidate as PromiseHandle);
  }

  /** The handle this driver runs on, as the user gave it. */
  get db(): Queryable {
    return this.#given;
  }

  /** Whether connections of its own can be taken (the handle is a pool). */
  get pooled(): boolean {
    return typeof this.#handle.getConnection === 'function';
  }

  /** Called when a statement is abandoned while still waiting for a pooled connection. */
  onStarved: (() => void) | undefined;

  /** Runs one statement; the time spent waiting for a pooled connection counts against `signal`. */
  query(sql: string, values: unknown[], signal: AbortSignal): Promise<QueryResult> {
    if (!this.pooled) return abortable(promiseOf(this.#handle.query(sql, values)), signal).then(toQueryResult);
    if (signal.aborted) return Promise.reject(signal.reason);
    // The hot path of every election (a renewal a tick): one promise and one
    // abort listener cover both waits, for a connection and for the reply.
    return new Promise((resolve, reject) => {
      let connection: RawConnection | undefined;
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        return true;
      };
      const onAbort = (): void => {
        if (!settle()) return;
        reject(signal.reason);
        // A statement abandoned mid-flight leaves its connection in an
        // unknown state (possibly hung on a dead link): never give it back,
        // and have the server end it, or a write waiting on a row lock could
        // still land. One abandoned in the pool's queue means a starved pool.
        if (connection) this.abandon(sessionOf(connection), sql);
        else this.onStarved?.();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#getConnection().then(
        (taken) => {
          if (settled) return release(taken); // we stopped waiting: it goes straight back.
          connection = taken;
          promiseOf(taken.query(sql, values)).then(
            (result) => {
              if (!settle()) return;
              release(taken);
              settleWith(result, resolve, reject);
            },
            (error: unknown) => {
              if (!settle()) return;
              if (isFatal(error)) void taken.destroy();
              else release(taken);
              reject(error);
            },
          );
        },
        (error: unknown) => {
          if (settle()) reject(error);
        },
      );
    });
  }

  /**
   * Gives up a pooled session in the middle of a statement or transaction:
   * closes it, and has the server end its thread (so that a statement
   * waiting on a row lock cannot land later, and a transaction's locks go now).
   */
  abandon(session: Session, sql?: string): void {
    session.destroy();
    if (this.pooled) this.#kill(session.threadId, sql);
  }

  /**
   * Ends a server thread of ours from another connection; best effort (the
   * server may be unreachable). Only if it still runs `sql` (when given) and
   * belongs to our user: after a server restart its id may be another
   * client's. One at a time, on one connection at a time: when the server
   * stalls and many statements are abandoned, their clean-up must not take
   * every connection of the pool (that would starve the election itself).
   */
  #kill(threadId: number | undefined, sql: string | undefined): void {
    if (threadId === undefined) return;
    const running = sql === undefined ? '%' : runningPattern(sql);
    this.#kills = this.#kills.then(() => this.#killNow(threadId, running));
  }

  /** One KILL, within {@link KILL_TIMEOUT}; never rejects (the next one waits for it). */
  async #killNow(threadId: number, running: string): Promise<void> {
    const signal = AbortSignal.timeout(KILL_TIMEOUT);
    let session: Session;
    try {
      session = await this.connect(signal);
    } catch {
      return; // unreachable: nothing more to do.
    }
    try {
      const found = await abortable(session.query(STILL_OURS, [threadId, running]), signal);
      if (found.rows.length > 0) await abortable(session.query('KILL ?', [threadId]), signal);
      session.release();
    } catch {
      session.destroy(); // already gone, or the server is still stalled.
    }
  }

  /**
   * A connection for a transaction: one of its own from a pool, or the
   * handle itself when it is a single connection (its caller must not share
   * it meanwhile; release and destroy then leave it open).
   */
  async session(signal?: AbortSignal): Promise<Session> {
    if (this.pooled) return this.connect(signal);
    const handle = this.#handle;
    return { raw: handle, query: async (sql, values) => toQueryResult(await promiseOf(handle.query(sql, values))), release: () => {}, destroy: () => {} };
  }

  /** Takes a connection of its own from the pool. */
  async connect(signal?: AbortSignal): Promise<Session> {
    const pending = this.#getConnection();
    try {
      return sessionOf(signal ? await abortable(pending, signal) : await pending);
    } catch (error) {
      // If we stopped waiting, the connection that arrives later goes straight back.
      if (signal?.aborted) pending.then(release, () => {});
      throw error;
    }
  }

  #getConnection(): Promise<RawConnection> {
    const getConnection = this.#handle.getConnection;
    if (typeof getConnection !== 'function') return Promise.reject(new TypeError('db must be a pool (with getConnection()) for this feature'));
    return promiseOf(getConnection.call(this.#handle)) as Promise<RawConnection>;
  }
}

/**
 * A pooled connection as a {@link Session}. `destroy()` rejects the
 * statements still pending on it at once: a driver need not settle the
 * command of a connection it destroyed (mysql2 does not, once the server
 * thread is also killed), and nobody may be left waiting on one.
 */
function sessionOf(connection: RawConnection): Session {
  const threadId = (connection as { threadId?: unknown }).threadId;
  const pending = new Set<(error: Error) => void>();
  let destroyed = false;
  return {
    raw: connection,
    threadId: typeof threadId === 'number' ? threadId : undefined,
    query: (sql, values) => {
      if (destroyed) return Promise.reject(sessionClosed());
      return new Promise((resolve, reject) => {
        pending.add(reject);
        promiseOf(connection.query(sql, values)).then(
          (result) => {
            pending.delete(reject);
            settleWith(result, resolve, reject);
          },
          (error: unknown) => {
            pending.delete(reject);
            reject(error);
          },
        );
      });
    },
    release: () => release(connection),
    destroy: () => {
      if (destroyed) return;
      destroyed = true;
      void connection.destroy();
      for (const reject of pending) reject(sessionClosed());
      pending.clear();
    },
  };
}

/** The error of a statement whose session was destroyed before it answered (fatal, as the drivers flag a lost connection). */
function sessionClosed(): Error {
  return Object.assign(new Error('the connection was closed before the statement answered'), { fatal: true });
}

/** Gives a connection back to its pool (mariadb's `release()` returns a promise, mysql2's nothing). */
function release(connection: RawConnection): void {
  const released = connection.release();
  if (isThenable(released)) released.then(undefined, () => {});
}

/** Resolves or rejects with `promise`, or rejects with `signal.reason` as soon as `signal` aborts. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {}); // abandoned: its outcome no longer matters.
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

function promiseOf(value: unknown): Promise<unknown> {
  if (isThenable(value)) return Promise.resolve(value);
  return Promise.reject(new TypeError('db.query() did not return a promise: pass a mysql2/promise or mariadb handle, or a mysql2 callback pool'));
}

/** The rows of a statement that returns none: one frozen array for all. */
const NO_ROWS: readonly Row[] = Object.freeze([]);

/**
 * A driver's result as a {@link QueryResult}, the one object allocated per
 * statement here (the hot path of 1,000 elections). mysql2 resolves to
 * `[rows | header, fields]`, mariadb to `rows | header`.
 */
export function toQueryResult(result: unknown): QueryResult {
  let first = result;
  if (Array.isArray(result) && result.length === 2 && (result[1] === undefined || Array.isArray(result[1]))) {
    const [head] = result as [unknown, unknown];
    if (Array.isArray(head) || isHeader(head)) first = head;
  }
  if (Array.isArray(first)) return { rows: first as Row[], affectedRows: 0, insertId: 0 };
  if (isHeader(first)) return { rows: NO_ROWS, affectedRows: toNumber(first.affectedRows), insertId: toNumber(first.insertId ?? 0) };
  throw new TypeError('db.query() resolved to neither rows nor a write result (an object with affectedRows)');
}

/** Resolves with `result` as a {@link QueryResult}, or rejects when it is not one. */
function settleWith(result: unknown, resolve: (value: QueryResult) => void, reject: (error: unknown) => void): void {
  try {
    resolve(toQueryResult(result));
  } catch (error) {
    reject(error);
  }
}

/** Both drivers flag errors that leave the connection unusable with `fatal: true`. */
function isFatal(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as { fatal?: unknown }).fatal === true;
}

/** The header of a write (or any statement but a `SELECT`): mysql2's `ResultSetHeader`, mariadb's `OkPacket`. */
function isHeader(value: unknown): value is { affectedRows: unknown; insertId?: unknown } {
  return value !== null && typeof value === 'object' && 'affectedRows' in value;
}

/** BIGINT arrives as a number (mysql2), a string (mysql2 `bigNumberStrings`) or a bigint (mariadb). */
export function toNumber(value: unknown): number {
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(number)) throw new TypeError(`expected a number from the database, received ${String(value)}`);
  return number;
}

/** The most characters of a statement's text that the check before a KILL compares (the server keeps the first 65,535 of it). */
const RUNNING_PREFIX = 1000;

/**
 * The `LIKE` pattern that tells a thread still runs `sql`: its text up to
 * the first value (a `?`, or a quoted literal: a batch of 1,000 names in the
 * text is longer than the 65,535 characters the server shows of it), at most
 * {@link RUNNING_PREFIX} characters, its `LIKE` wildcards escaped.
 * @internal
 */
export function runningPattern(sql: string): string {
  const values = sql.search(/[?']/);
  const head = sql.slice(0, Math.min(values < 0 ? sql.length : values, RUNNING_PREFIX));
  return `${head.replace(/[\\%_]/g, '\\$&')}%`;
}
