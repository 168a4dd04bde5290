import { createPool } from 'mysql2/promise';
import { MysqlLeader, createMysqlLeaderTable } from 'mysql-leader';

const pool = createPool({ uri: process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 3 });
await createMysqlLeaderTable(pool); // once, or apply CREATE_MYSQL_LEADER_SQL in a migration

const leader = new MysqlLeader(pool, 'nightly-report', { age: 10_000, tick: 2_000 });
leader.on('elected', ({ term }) => console.log(`leading (term ${term})`));
leader.on('revoked', ({ reason }) => console.log(`stepped down: ${reason}`));
const campaign = leader.acquire(); // campaigns until close(); rejects on a database error (see onError)

async function sendReport(signal: AbortSignal): Promise<void> {
  signal.throwIfAborted(); // leadership may have ended since the check
  console.log('sending the report');
}
const timer = setInterval(() => {
  if (leader.leading) sendReport(leader.signal).catch(console.error); // only on the leader
}, 1_000);

async function shutdown(): Promise<void> {
  clearInterval(timer);
  await leader.close(); // steps down and hands over at once
  await campaign;
  await pool.end();
}
process.once('SIGTERM', () => void shutdown());
