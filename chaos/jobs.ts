/**
 * The jobs workload (`npm run chaos -- --jobs`): every participant schedules
 * the same three jobs, each due every second, one per crash policy, and
 * reports each fire into the run log. The fenced job writes one row per
 * slot into `chaos_job_rows` in its fenced transaction; the checker
 * (chaos/job-checker.ts) counts those rows against the fires table.
 *
 * Reports (JSON lines, see records.ts): `fire-start` and `fire-end` (`job`,
 * `slot`, `term`, `attempt`; `fire-end` with `ok`: false when the work was
 * abandoned because the tenure ended) from inside `fn`; `fire` (`outcome`:
 * the job's own event, `skipped` included), `missed` (`count`, `latest`)
 * and `job-error` (`message`) from the job's events.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'mysql2/promise';
import type { CatchUp, FireContext, MysqlLeader, ScheduledJob } from '../src/index.js';

/** A slot every second (croner's six fields, seconds first). */
export const JOB_CRON = '* * * * * *';

/** How long the work of one fire takes (abandoned when its tenure ends): long enough for a kill to land in the middle of some. */
export const FIRE_WORK_MS = 250;

/** One job of the workload: its crash policy and its `catchUp`. */
export interface ChaosJob {
  readonly name: string;
  readonly mode: 'fenced' | 'at-most-once' | 'at-least-once';
  readonly catchUp: CatchUp;
}

/**
 * The jobs every participant schedules. The fenced one catches up every
 * missed slot (up to the default ten), the others only the latest: two of
 * the three `catchUp` policies in one run.
 */
export const CHAOS_JOBS: readonly ChaosJob[] = [
  { name: 'fenced', mode: 'fenced', catchUp: 'all' },
  { name: 'at-most-once', mode: 'at-most-once', catchUp: 'latest' },
  { name: 'at-least-once', mode: 'at-least-once', catchUp: 'latest' },
];

/** The table the fenced job writes to: one row per fire, and no unique key, so that a doubled slot shows as two rows. */
export const JOB_ROWS_TABLE_SQL = `CREATE TABLE IF NOT EXISTS chaos_job_rows (
  id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  job VARCHAR(64) NOT NULL,
  slot VARCHAR(32) NOT NULL,
  term BIGINT UNSIGNED NOT NULL,
  node VARCHAR(64) NOT NULL
) ENGINE=InnoDB`;

const INSERT_ROW = 'INSERT INTO chaos_job_rows (job, slot, term, node) VALUES (?, ?, ?, ?)';

/** Schedules the jobs on `leader` (fenced transactions on `pool`); `report` prints a line of the run log. */
export function scheduleJobs(leader: MysqlLeader, pool: Pool, node: string, report: (fields: Record<string, unknown>) => void): ScheduledJob[] {
  return CHAOS_JOBS.map((job) => {
    const fields = (fire: FireContext): Record<string, unknown> => ({ job: job.name, slot: fire.slot.toISOString(), term: fire.term, attempt: fire.attempt });
    /** The work of a fire: reported as it starts and ends; it ends early, and says so, when its tenure does. */
    const work = async (fire: FireContext): Promise<void> => {
      report({ event: 'fire-start', ...fields(fire) });
      try {
        await sleep(FIRE_WORK_MS, undefined, { signal: fire.signal });
      } catch (error) {
        report({ event: 'fire-end', ...fields(fire), ok: false });
        throw error;
      }
      report({ event: 'fire-end', ...fields(fire), ok: true });
    };
    const scheduled =
      job.mode === 'fenced'
        ? leader.schedule(
            job.name,
            JOB_CRON,
            async (fire) => {
              await fire.connection.query(INSERT_ROW, [job.name, fire.slot.toISOString(), fire.term, node]);
              await work(fire);
            },
            { fenced: true, db: pool, catchUp: job.catchUp },
          )
        : leader.schedule(job.name, JOB_CRON, work, { mode: job.mode, catchUp: job.catchUp, db: pool });
    scheduled.on('fire', (event) =>
      report({ event: 'fire', job: job.name, slot: event.slot.toISOString(), term: event.term, attempt: event.attempt, outcome: event.outcome }),
    );
    scheduled.on('missed', (event) => report({ event: 'missed', job: job.name, count: event.count, latest: event.latest.toISOString() }));
    scheduled.on('error', (error) => report({ event: 'job-error', job: job.name, message: error.message }));
    return scheduled;
  });
}
