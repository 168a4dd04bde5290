// A cron schedule that exists only on the leader: each tenure starts its own
// croner job and stops it the moment the tenure ends, so no other replica
// runs it meanwhile. Each run gets the tenure's term (a fencing token) and
// signal. Run: MYSQL_URL=mysql://… node --import tsx examples/cron.ts
import { Cron } from 'croner';
import { createPool } from 'mysql2/promise';
import { MysqlLeader, continueOnError } from 'mysql-leader';

const pool = createPool({ uri: process.env['MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 3 });
const leader = new MysqlLeader(pool, 'nightly-report', { age: 10_000, tick: 2_000, onError: continueOnError });

async function sendReport(term: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted(); // check before each side effect; pass `term` to systems that fence
  console.log(`${new Date().toISOString()} report sent by the leader, term ${term}`);
}

leader.runWhileLeader(
  ({ term, signal }) =>
    new Promise<void>((resolve) => {
      // protect: a run still going when the next is due is skipped, not doubled.
      const job = new Cron('*/5 * * * * *', { protect: true }, () => sendReport(term, signal).catch((error: unknown) => console.error(error)));
      signal.addEventListener(
        'abort',
        () => {
          job.stop();
          resolve();
        },
        { once: true },
      );
    }),
);
const campaign = leader.acquire();

async function shutdown(): Promise<void> {
  await leader.close(); // ends the tenure (its job stops) and hands over at once
  await campaign;
  await pool.end();
}
process.once('SIGTERM', () => void shutdown());
