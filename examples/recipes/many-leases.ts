// Many leases in one process: one engine, one statement per batch for all of them.
import { createPool } from 'mysql2/promise';
import { Leases, LockTimeoutError, createMysqlLeaderTable } from 'mysql-leader';

const pool = createPool({ uri: process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 4 });
await createMysqlLeaderTable(pool);
const leases = new Leases(pool, { age: 10_000, tick: 2_000 }); // one per process, pool and table

// One owner per shard: each election is a MysqlLeader (events, signal, withLeadership, runWhileLeader).
const shards = ['eu', 'us', 'ap'].map((region) => leases.leader(`ingest-${region}`));
const elected = shards.map((shard) => new Promise((resolve) => shard.once('elected', resolve)));
for (const shard of shards) shard.acquire().catch(console.error);
await Promise.all(elected);
console.log(`leading ${shards.map((shard) => shard.leaderName).join(', ')}`);

// A one-shot critical section: renewed while it runs, released when it settles.
try {
  const sent = await leases.withLock(
    'invoice-run',
    async ({ term, signal }) => {
      signal.throwIfAborted(); // aborts the moment the lease is in doubt
      return { invoices: 3, term };
    },
    { wait: 5_000 }, // at most 5 s for another holder to let go
  );
  console.log(`invoice run: ${sent.invoices} invoices under term ${sent.term}`);
} catch (error) {
  if (error instanceof LockTimeoutError) console.log('another process is running the invoices');
  else throw error;
}

await leases.close(); // every election steps down and releases, in a few statements
await pool.end();
