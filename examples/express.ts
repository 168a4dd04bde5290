// Express with Kubernetes probes: liveness from the leader's health, readiness
// from the election (the database answers, a leader is known), and a shutdown
// that fails readiness first, then hands over.
// Run: PORT=8080 MYSQL_URL=mysql://… node --import tsx examples/express.ts
//   GET /healthz  liveness: 200, or 503 once the leader has been unable to renew its lease for `age` (restart it)
//   GET /readyz   readiness: 200 with the current leader; 503 while the database does not answer, or shutting down
import express from 'express';
import { createPool } from 'mysql2/promise';
import { LeaderHealth, MysqlLeader, continueOnError } from 'mysql-leader';

const pool = createPool({ uri: process.env['MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 3 });
const leader = new MysqlLeader(pool, 'express-jobs', { age: 10_000, tick: 2_000, onError: continueOnError });
const health = new LeaderHealth(leader);
let stopping = false;

const app = express();
app.get('/healthz', (_request, response) => {
  const status = health.check(); // no query: a slow database alone does not restart the process
  response.status(status.healthy ? 200 : 503).json(status);
});
app.get('/readyz', async (_request, response) => {
  if (stopping) return void response.status(503).json({ ready: false, reason: 'shutting down' });
  try {
    const current = await leader.currentLeader(AbortSignal.timeout(1_000)); // one query, at most 1 s
    response.status(200).json({ ready: true, leading: leader.leading, leader: current?.nodeName ?? null, term: current?.term ?? null });
  } catch (error) {
    response.status(503).json({ ready: false, reason: error instanceof Error ? error.message : String(error) });
  }
});

const server = app.listen(Number(process.env['PORT'] ?? 8080), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : ''}`);
});
const campaign = leader.acquire(); // with continueOnError it settles only on close()

async function shutdown(): Promise<void> {
  stopping = true; // readiness fails first, so that traffic drains away
  await new Promise<void>((resolve) => server.close(() => resolve()));
  health.close();
  await leader.close(); // hands over at once
  await campaign;
  await pool.end();
  console.log('closed');
}
process.once('SIGTERM', () => void shutdown());
