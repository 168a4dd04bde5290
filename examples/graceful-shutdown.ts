// Graceful shutdown in a container: on SIGTERM (`docker stop`, a Kubernetes
// rollout) the leader stops its work, releases the lease so that another
// replica takes over in milliseconds rather than after a whole lease, and the
// process exits before the orchestrator's SIGKILL (10 s by default in Docker,
// terminationGracePeriodSeconds in Kubernetes: keep drainTimeout below it).
// Run: MYSQL_URL=mysql://… node --import tsx examples/graceful-shutdown.ts
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool } from 'mysql2/promise';
import { MysqlLeader, continueOnError } from 'mysql-leader';

const pool = createPool({ uri: process.env['MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 3 });
const leader = new MysqlLeader(pool, 'queue-sweeper', { age: 10_000, tick: 2_000, drainTimeout: 5_000, onError: continueOnError });
leader.on('elected', ({ term }) => console.log(`leading, term ${term}`));
leader.on('revoked', ({ term, reason }) => console.log(`stepped down, term ${term} (${reason})`));

// The leader's work: one sweep a second, until the tenure ends.
leader.runWhileLeader(async ({ signal }) => {
  while (!signal.aborted) {
    // … sweep the queue, passing `signal` to each query …
    await sleep(1_000, undefined, { signal }).catch(() => {}); // wakes at once when the tenure ends
  }
});
const campaign = leader.acquire();

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  console.log(`${signal}: handing over`);
  // Whatever happens, be gone before the orchestrator's SIGKILL.
  setTimeout(() => process.exit(1), 8_000).unref();
  await leader.close(); // ends the tenure, waits for its work (up to drainTimeout), releases the lease
  await campaign;
  await pool.end();
  console.log('released; exiting');
}
process.once('SIGTERM', (signal) => void shutdown(signal));
process.once('SIGINT', (signal) => void shutdown(signal)); // Ctrl-C when run by hand
