// A nightly report on exactly one replica: every replica runs this service;
// whoever leads at 02:30 Berlin time claims the slot and runs the report
// (at-least-once: if its node dies meanwhile, the next leader runs it again,
// with attempt 2; the report must then be idempotent). A slot missed while
// no replica led (a deploy that restarted them all) is caught up once.
// Run: MYSQL_URL=mysql://… node --import tsx examples/cron.ts
import { createPool } from 'mysql2/promise';
import { MysqlLeader, continueOnError, type FireContext } from 'mysql-leader';

const pool = createPool({ uri: process.env['MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 3 });
const leader = new MysqlLeader(pool, 'nightly-report', { age: 10_000, tick: 2_000, onError: continueOnError });

async function sendReport({ slot, term, attempt, signal }: FireContext): Promise<void> {
  signal.throwIfAborted(); // check before each side effect; pass `term` to systems that fence
  console.log(`report for ${slot.toISOString()} sent by the leader, term ${term}, attempt ${attempt}`);
}

const job = leader.schedule('nightly-report', '30 2 * * *', sendReport, {
  timezone: 'Europe/Berlin',
  mode: 'at-least-once',
  catchUp: 'latest',
  catchUpMaxAge: 6 * 3600_000, // a report more than 6 hours late is not sent
});
job.on('fire', ({ slot, outcome, latenessMs }) => console.log(`${slot.toISOString()}: ${outcome} (${Math.round(latenessMs)} ms late)`));
job.on('missed', ({ count }) => console.warn(`${count} slot(s) missed`));
const campaign = leader.acquire();

async function shutdown(): Promise<void> {
  await leader.close(); // ends the tenure (the fire's signal aborts), waits for it, hands over at once
  await campaign;
  await pool.end();
}
process.once('SIGTERM', () => void shutdown());
