// A cron job that runs only on the leader: every replica schedules it, and
// each run checks leadership first and hands the tenure's signal to the work.
import { Cron } from 'croner';
import { createPool } from 'mysql2/promise';
import { MysqlLeader, createMysqlLeaderTable } from 'mysql-leader';

const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const pool = createPool({ uri: url, connectionLimit: 3 });
await createMysqlLeaderTable(pool);
const leader = new MysqlLeader(pool, 'cleanup-cron', { age: 10_000, tick: 2_000 });
const campaign = leader.acquire();

async function cleanUp(signal: AbortSignal): Promise<void> {
  signal.throwIfAborted(); // check again before each side effect
  console.log(`cleaning up as the leader (term ${leader.term})`);
}

const job = new Cron('* * * * * *', { protect: true }, async () => {
  if (!leader.leading) return; // followers skip the run
  await cleanUp(leader.signal);
});

await new Promise((resolve) => setTimeout(resolve, 3_500)); // a real service would run until SIGTERM
job.stop();
await leader.close();
await campaign;
await pool.end();
