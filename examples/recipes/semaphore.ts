// At most 2 holders at once, across every process: a semaphore of the lease engine.
import { createPool } from 'mysql2/promise';
import { Leases, PermitTimeoutError, createMysqlLeaderTable } from 'mysql-leader';

const pool = createPool({ uri: process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 4 });
await createMysqlLeaderTable(pool);
const leases = new Leases(pool, { age: 10_000, tick: 2_000 });
const exportSlots = leases.semaphore('exports', 2); // every process passes the same number

// using(): takes a permit (waiting at most 5 s), runs fn while its lease is renewed, then gives it back.
const runs = ['eu', 'us', 'ap'].map((region) =>
  exportSlots.using(
    async ({ slot, signal }) => {
      signal.throwIfAborted(); // aborts the moment this permit's lease is in doubt
      console.log(`exporting ${region} on permit ${slot}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    },
    { wait: 5_000 },
  ),
);
await Promise.all(runs); // two at once; the third waits for a permit and is woken as one is given back

// acquire() and release(): wait: 0 (the default) tries once.
const held = [await exportSlots.acquire(), await exportSlots.acquire()];
try {
  await exportSlots.acquire();
} catch (error) {
  if (!(error instanceof PermitTimeoutError)) throw error;
  console.log(`both permits held (terms ${held.map((permit) => permit.term).join(', ')}): ${error.code}`);
}
await Promise.all(held.map((permit) => permit.release()));

await leases.close();
await pool.end();
