/** `mysql-leader jobs`: the scheduled jobs, their latest fires and next slots, from the fires table. */
import { listJobs, type JobStatus } from '../index.js';
import { UsageError, write, type Command } from './command.js';
import { DATABASE_OPTIONS, DATABASE_USAGE, openDatabase, target } from './database.js';
import { columns, duration } from './format.js';
import { FIRES_TABLE_USAGE, firesTableFlag } from './schema.js';

/** `mysql-leader jobs`. */
export const jobsCommand: Command = {
  summary: 'show the scheduled jobs: last fires, next slot, lateness, failures',
  usage: `mysql-leader jobs [--json] [options]

Shows every scheduled job with fires in the fires table: its election, name and
schedule, its last fire (slot, node, outcome, lateness: from the slot to its
claim, by the database clock), its next slot, and how many of its latest fires
failed.

Options:
  --json         print JSON: an array of { leaderName, jobName, cron, timezone,
                 nextSlot, failures, fires: [{ slot, nodeName, term, attempt,
                 outcome, startedAt, endedAt, latenessMs, error }] }, fires newest first
${DATABASE_USAGE}
${FIRES_TABLE_USAGE}

Exit codes: 0 success, 1 error (database unreachable, missing table…), 2 usage error.`,
  options: { json: { type: 'boolean' }, 'fires-table': { type: 'string' }, ...DATABASE_OPTIONS },
  async run(input) {
    if (input.positionals[0] !== undefined) throw new UsageError(`unexpected argument "${input.positionals[0]}"`);
    const firesTable = firesTableFlag(input.values);
    const { url } = target(input.values);
    const db = openDatabase(url);
    try {
      const jobs = await listJobs(db, { firesTable });
      if (input.values['json']) write(JSON.stringify(jobs, null, 2));
      else write(jobs.length > 0 ? table(jobs) : `no fires in table ${firesTable} yet`);
      return 0;
    } finally {
      await db.end();
    }
  },
};

/** Aligned columns, one row per job. */
function table(jobs: readonly JobStatus[]): string {
  const rows = [
    ['ELECTION', 'JOB', 'SCHEDULE', 'LAST SLOT', 'NODE', 'OUTCOME', 'LATE', 'NEXT SLOT', 'FAILURES'],
    ...jobs.map((job) => {
      const last = job.fires[0];
      return [
        job.leaderName,
        job.jobName,
        `${job.cron} (${job.timezone})`,
        last?.slot.toISOString() ?? '-',
        last?.nodeName ?? '-',
        last?.outcome ?? '-',
        last ? duration(last.latenessMs) : '-',
        job.nextSlot?.toISOString() ?? '-',
        `${job.failures}/${job.fires.length}`,
      ];
    }),
  ];
  return columns(rows);
}
