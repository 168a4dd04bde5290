/**
 * The fires table as a scheduled job sees it: the database clock, claims
 * (inside a fenced transaction, on its session), retries, the end of each
 * fire and pruning. The timing around them lives in scheduled-job.ts.
 */
import type { Driver, Row, Session } from './driver.js';
import { fireStatements, type FireStatements } from './fires-sql.js';
import { StatementRunner } from './runner.js';

/** How a fire ended, as the history records it. */
export type FireOutcome =
  /** Claimed, `fn` has not settled (or its node died: see `interrupted`). */
  | 'running'
  /** `fn` resolved. */
  | 'done'
  /** `fn` threw (or, fenced, its transaction failed). */
  | 'failed'
  /** The slot came due while the job's previous fire still ran: claimed, not run. */
  | 'skipped'
  /** An at-most-once fire whose node stopped leading before it ended: never run again. */
  | 'interrupted';

/** What a claim found. */
export type ClaimResult = 'claimed' | 'taken' | 'early';

/** The longest error message a fire row keeps (its column is VARCHAR(1024)). */
const MAX_ERROR = 1000;

/** The database clock and the job's latest recorded slot. */
export interface JobClock {
  /** `UTC_TIMESTAMP(6)`, to the millisecond. */
  readonly now: Date;
  /** The latest slot of the job in the table, if any. */
  readonly last: Date | undefined;
}

/** One job's rows of the fires table. */
export class FireLog {
  readonly #runner: StatementRunner;
  readonly #sql: FireStatements;
  readonly #leaderName: string;
  readonly #jobName: string;

  /** The rows of `jobName` in `leaderName`'s election, in `tableName`, through the leader's `driver`. */
  constructor(driver: Driver, tableName: string, leaderName: string, jobName: string) {
    this.#runner = new StatementRunner(driver, tableName);
    this.#sql = fireStatements(tableName);
    this.#leaderName = leaderName;
    this.#jobName = jobName;
  }

  /** The database clock, with the job's latest slot. */
  async clock(signal: AbortSignal): Promise<JobClock> {
    const { rows } = await this.#runner.run('reading the database clock', this.#sql.clock, [this.#leaderName, this.#jobName], signal);
    const row = rows[0] ?? {};
    return { now: dateOf(row['now']) ?? new Date(NaN), last: dateOf(row['last']) };
  }

  /** The database clock alone. */
  async now(signal: AbortSignal): Promise<Date> {
    const { rows } = await this.#runner.run('reading the database clock', this.#sql.now, [], signal);
    return dateOf(rows[0]?.['now']) ?? new Date(NaN);
  }

  /** The database clock, read on `session` (inside a fenced transaction: `UTC_TIMESTAMP` is not part of its snapshot). */
  async nowOn(session: Session): Promise<Date> {
    return dateOf((await session.query(this.#sql.now)).rows[0]?.['now']) ?? new Date(NaN);
  }

  /**
   * Claims `slot` on `session`, inside a fenced transaction: `claimed` when
   * the row was written, `taken` when the slot already has one, `early` when
   * the slot is not due by the database clock.
   */
  async claim(
    session: Session,
    slot: Date,
    fire: { nodeName: string; term: number; outcome: FireOutcome; cron: string; timezone: string },
  ): Promise<ClaimResult> {
    const at = sqlTime(slot);
    const values = [this.#leaderName, this.#jobName, at, fire.nodeName, fire.term, fire.outcome, fire.cron, fire.timezone, at];
    if ((await session.query(this.#sql.claim, values)).affectedRows === 1) return 'claimed';
    return (await session.query(this.#sql.exists, [this.#leaderName, this.#jobName, at])).rows.length > 0 ? 'taken' : 'early';
  }

  /** Takes over, on `session` inside a fenced transaction, a fire that an earlier term left running; `true` when this term now runs it. */
  async retry(session: Session, slot: Date, attempt: number, nodeName: string, term: number): Promise<boolean> {
    const values = [nodeName, term, this.#leaderName, this.#jobName, sqlTime(slot), attempt, term];
    return (await session.query(this.#sql.retry, values)).affectedRows === 1;
  }

  /** Fires that terms before `term` left running, with slots from `oldest` on, oldest first. */
  async unfinished(term: number, oldest: Date, signal: AbortSignal): Promise<{ slot: Date; attempt: number }[]> {
    const values = [this.#leaderName, this.#jobName, term, sqlTime(oldest)];
    const { rows } = await this.#runner.run('reading unfinished fires', this.#sql.unfinished, values, signal);
    return rows.map((row: Row) => ({ slot: dateOf(row['slot']) ?? new Date(NaN), attempt: Number(row['attempt']) }));
  }

  /** Marks the fires that terms before `term` left running as `interrupted`. */
  async interrupt(term: number, signal: AbortSignal): Promise<number> {
    const result = await this.#runner.run('marking interrupted fires', this.#sql.interrupt, [this.#leaderName, this.#jobName, term], signal);
    return result.affectedRows;
  }

  /**
   * Marks `interrupted` the fires that terms before `term` left running and
   * that are not to run again: attempted `maxAttempts` times, or with a
   * slot before `oldest`. Returns how many.
   */
  async abandon(term: number, maxAttempts: number, oldest: Date, signal: AbortSignal): Promise<number> {
    const atCap = `not run again: its attempt ${maxAttempts} of maxAttempts ${maxAttempts} was cut short`;
    const tooOld = 'not run again: its slot is older than catchUpMaxAge';
    const values = [maxAttempts, atCap, tooOld, this.#leaderName, this.#jobName, term, maxAttempts, sqlTime(oldest)];
    return (await this.#runner.run('marking fires not to run again', this.#sql.abandon, values, signal)).affectedRows;
  }

  /** Records the end of the fire of `slot` run under `term` and `attempt` (on `session` when inside a fenced transaction). */
  async finish(slot: Date, term: number, attempt: number, outcome: FireOutcome, error: string | undefined, on: Session | AbortSignal): Promise<void> {
    const values = [outcome, error?.slice(0, MAX_ERROR) ?? null, this.#leaderName, this.#jobName, sqlTime(slot), term, attempt];
    if (on instanceof AbortSignal) await this.#runner.run('recording the end of a fire', this.#sql.finish, values, on);
    else await on.query(this.#sql.finish, values);
  }

  /** Deletes history older than `retentionMs`, never the slot `keepFrom` or later. */
  async prune(keepFrom: Date, retentionMs: number, signal: AbortSignal): Promise<void> {
    await this.#runner.run('pruning the history of fires', this.#sql.prune, [this.#leaderName, this.#jobName, sqlTime(keepFrom), retentionMs * 1000], signal);
  }
}

/** A slot as a DATETIME(6) literal in UTC. */
export function sqlTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** A time the statements format as ISO 8601 in UTC, or `undefined` for NULL. */
export function dateOf(value: unknown): Date | undefined {
  return typeof value === 'string' ? new Date(value) : undefined;
}
