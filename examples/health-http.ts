// Liveness, readiness and metrics of a leader over node:http: for Kubernetes
// probes and Prometheus. Run: PORT=8080 MYSQL_URL=mysql://… node --import tsx examples/health-http.ts
//   GET /healthz  200, or 503 once the leader has been unable to renew its lease for `age`
//   GET /leader   200 on the leader only (a readiness probe for leader-only traffic)
//   GET /metrics  Prometheus text
import { createServer } from 'node:http';
import { createPool } from 'mysql2/promise';
import { LeaderHealth, LeaderMetrics, MysqlLeader, PROMETHEUS_CONTENT_TYPE, continueOnError } from 'mysql-leader';

const pool = createPool({ uri: process.env['MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 3 });
const leader = new MysqlLeader(pool, 'reports', { age: 10_000, tick: 2_000, onError: continueOnError });
const health = new LeaderHealth(leader); // threshold: the lease's age
const metrics = new LeaderMetrics();
metrics.track(leader);

const server = createServer((request, response) => {
  if (request.url === '/healthz') {
    const status = health.check();
    response.writeHead(status.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(status));
  } else if (request.url === '/leader') {
    response.writeHead(leader.leading ? 200 : 503).end(leader.leading ? `leading, term ${leader.term}\n` : 'following\n');
  } else if (request.url === '/metrics') {
    response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(metrics.metrics());
  } else {
    response.writeHead(404).end();
  }
});
server.listen(Number(process.env['PORT'] ?? 8080), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : ''}`);
});
const campaign = leader.acquire();

async function shutdown(): Promise<void> {
  server.close();
  health.close();
  await leader.close(); // hands over at once
  await campaign;
  await pool.end();
}
process.once('SIGTERM', () => void shutdown());
