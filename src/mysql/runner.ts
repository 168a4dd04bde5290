import { readColumns } from './columns.js';
import { abortable, type Driver, type QueryResult, type Session } from './driver.js';
import { ER, errnoOf, translateError } from './errors.js';

/**
 * Runs the statements of one election table, for the store, the hand-over
 * lock, the schema checks and the operators' functions: each through the
 * driver (or on a session of its own), with a typed result, and a driver's
 * error turned into this library's, naming the operation (`what`) and the
 * table. The reason of the caller's own signal (a time-out) passes unchanged.
 */
export class StatementRunner {
  /** The driver the statements run through. */
  readonly driver: Driver;
  /** The election table (validated), named in errors. */
  readonly tableName: string;

  /** Runs statements on `driver` for the election table `tableName` (already validated). */
  constructor(driver: Driver, tableName: string) {
    this.driver = driver;
    this.tableName = tableName;
  }

  /** Runs one statement through the driver; abandoned (its connection destroyed) when `signal` aborts. */
  async run(what: string, sql: string, values: unknown[], signal: AbortSignal): Promise<QueryResult> {
    try {
      return await this.driver.query(sql, values, signal);
    } catch (error) {
      throw await this.#translate(error, what, signal);
    }
  }

  /** Runs one statement on `session`; the caller closes the session when `signal` aborts (its state is then unknown). */
  async runOn(session: Session, what: string, sql: string, values: unknown[], signal: AbortSignal): Promise<QueryResult> {
    try {
      return await abortable(session.query(sql, values), signal);
    } catch (error) {
      throw await this.#translate(error, what, signal);
    }
  }

  /** Takes a connection of its own from the pool, for `what`. */
  async connect(what: string, signal: AbortSignal): Promise<Session> {
    try {
      return await this.driver.connect(signal);
    } catch (error) {
      throw await this.#translate(error, what, signal);
    }
  }

  async #translate(error: unknown, what: string, signal: AbortSignal): Promise<unknown> {
    if (signal.aborted && error === signal.reason) return error; // the caller's own reason (a time-out).
    // A column missing: say which columns the table has (the Go package's, say).
    const columns = errnoOf(error) === ER.BAD_FIELD ? await readColumns(this.driver, this.tableName, signal).catch(() => undefined) : undefined;
    return translateError(error, what, this.tableName, columns);
  }
}
