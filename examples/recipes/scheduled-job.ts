// A job that runs once per slot whatever the number of replicas: each one
// schedules it; whoever leads when a slot comes due claims it in the fires
// table, in the same transaction as the job's own writes (fenced: exactly once).
import { createPool } from 'mysql2/promise';
import { MysqlLeader, createMysqlLeaderFiresTable, createMysqlLeaderTable } from 'mysql-leader';

const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const pool = createPool({ uri: url, connectionLimit: 3 }); // the leader's own
const appPool = createPool({ uri: url, connectionLimit: 5 }); // the application's
await createMysqlLeaderTable(pool);
await createMysqlLeaderFiresTable(pool); // or apply CREATE_MYSQL_LEADER_FIRES_SQL in a migration
await appPool.query('CREATE TABLE IF NOT EXISTS reports (slot VARCHAR(24) PRIMARY KEY, term BIGINT NOT NULL)');

const leader = new MysqlLeader(pool, 'reports', { age: 10_000, tick: 2_000 });
const job = leader.schedule(
  'report',
  '* * * * * *', // six fields: seconds first. Daily at 02:30 in Berlin: '30 2 * * *' with timezone 'Europe/Berlin'
  async ({ slot, term, connection }) => {
    // Written in the transaction that claims the slot: both commit, or neither.
    await connection.query('INSERT INTO reports (slot, term) VALUES (?, ?)', [slot.toISOString(), term]);
    console.log(`report for ${slot.toISOString()} written under term ${term}`);
  },
  { fenced: true, db: appPool, timezone: 'UTC', catchUp: 'latest' },
);
job.on('fire', ({ outcome, error }) => outcome === 'failed' && console.error('the report failed:', error));
const campaign = leader.acquire();

await new Promise((resolve) => setTimeout(resolve, 2_500)); // a real service would run until SIGTERM
await leader.close(); // the fire in progress (if any) ends first; the next leader resumes after the last slot recorded
await campaign;
await Promise.all([pool.end(), appPool.end()]);
