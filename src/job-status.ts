/**
 * What operators see of scheduled jobs (`mysql-leader jobs`, dashboards):
 * each job's latest fires, its next slot and its failures, read from the
 * fires table. Times are by the database clock.
 */
import { checkTableName } from './options.js';
import { Driver, type Queryable, type Row } from './mysql/driver.js';
import { dateOf, type FireOutcome } from './mysql/fires.js';
import { DEFAULT_FIRES_TABLE, fireStatements } from './mysql/fires-sql.js';
import { StatementRunner } from './mysql/runner.js';
import { Slots } from './slots.js';

/** Options of {@link listJobs}. */
export interface ListJobsOptions {
  /**
   * The fires table.
   * @default 'leader_election_fires'
   */
  firesTable?: string;
  /**
   * How many of the latest fires (of all jobs together) are read.
   * @default 1000
   */
  limit?: number;
  /** Abandons the statement when it aborts. */
  signal?: AbortSignal;
}

/** One fire of a job, as recorded. */
export interface FireRecord {
  /** The slot. */
  readonly slot: Date;
  /** The node that fired it last. */
  readonly nodeName: string;
  /** Its term. */
  readonly term: number;
  /** Its attempt. */
  readonly attempt: number;
  /** How it ended (`running` while it runs, or if its node died). */
  readonly outcome: FireOutcome;
  /** When its last attempt was claimed (database clock). */
  readonly startedAt: Date;
  /** When it ended, if it did. */
  readonly endedAt: Date | undefined;
  /** From the slot to its claim, in ms. */
  readonly latenessMs: number;
  /** What `fn` threw, for a `failed` fire. */
  readonly error: string | undefined;
}

/** A job, as its fires tell. */
export interface JobStatus {
  /** The election it runs in. */
  readonly leaderName: string;
  /** The job. */
  readonly jobName: string;
  /** Its cron expression and time zone, as its latest fire recorded them. */
  readonly cron: string;
  /** See `cron`. */
  readonly timezone: string;
  /** Its latest fires, newest first. */
  readonly fires: readonly FireRecord[];
  /** How many of them failed. */
  readonly failures: number;
  /** Its next slot after the database clock's now, or `undefined` when the expression names none. */
  readonly nextSlot: Date | undefined;
}

/** Every job with fires in the table, by election and name, with its latest fires (newest first). */
export async function listJobs(db: Queryable, options: ListJobsOptions = {}): Promise<JobStatus[]> {
  const table = checkTableName(options.firesTable ?? DEFAULT_FIRES_TABLE, 'options.firesTable');
  const runner = new StatementRunner(new Driver(db), table);
  const { rows } = await runner.run('reading the fires', fireStatements(table).recent, [options.limit ?? 1000], options.signal ?? new AbortController().signal);
  const jobs = new Map<string, { first: Row; fires: FireRecord[] }>();
  for (const row of rows) {
    const key = `${String(row['leader_name'])}\u0000${String(row['job_name'])}`;
    let job = jobs.get(key);
    if (!job) jobs.set(key, (job = { first: row, fires: [] }));
    job.fires.push(toFire(row));
  }
  return [...jobs.values()]
    .map(({ first, fires }) => {
      const cron = String(first['cron']);
      const timezone = String(first['timezone']);
      let nextSlot: Date | undefined;
      try {
        nextSlot = new Slots(cron, timezone).next(dateOf(first['now']) ?? new Date(NaN));
      } catch {
        nextSlot = undefined; // recorded by another version, with an expression this one does not read.
      }
      return {
        leaderName: String(first['leader_name']),
        jobName: String(first['job_name']),
        cron,
        timezone,
        fires,
        failures: fires.filter((fire) => fire.outcome === 'failed').length,
        nextSlot,
      };
    })
    .sort((a, b) => a.leaderName.localeCompare(b.leaderName) || a.jobName.localeCompare(b.jobName));
}

function toFire(row: Row): FireRecord {
  const slot = dateOf(row['slot']) ?? new Date(NaN);
  const startedAt = dateOf(row['started_at']) ?? new Date(NaN);
  return {
    slot,
    nodeName: String(row['node_name']),
    term: Number(row['term']),
    attempt: Number(row['attempt']),
    outcome: String(row['outcome']) as FireOutcome,
    startedAt,
    endedAt: dateOf(row['ended_at']),
    latenessMs: startedAt.getTime() - slot.getTime(),
    error: typeof row['error'] === 'string' ? row['error'] : undefined,
  };
}
