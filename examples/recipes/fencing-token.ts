// A call to an outside system, carrying the term as a fencing token. The
// system must remember the highest term it has accepted and refuse any lower
// one: a paused old leader that wakes up and calls late is then turned away.
import { createServer } from 'node:http';
import { createPool } from 'mysql2/promise';
import { MysqlLeader, createMysqlLeaderTable } from 'mysql-leader';

// The outside system (here a stand-in on a local port): it checks the token.
let highestTerm = 0;
const storage = createServer((request, response) => {
  const term = Number(request.headers['fencing-token']);
  if (!Number.isSafeInteger(term) || term < highestTerm) {
    response.writeHead(409).end(`stale fencing token ${term}, already saw ${highestTerm}`);
    return;
  }
  highestTerm = term;
  response.writeHead(200).end('stored');
});
await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
const { port } = storage.address() as { port: number };

const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const pool = createPool({ uri: url, connectionLimit: 3 });
await createMysqlLeaderTable(pool);
const leader = new MysqlLeader(pool, 'exporter', { age: 10_000, tick: 2_000 });
const campaign = leader.acquire();
await new Promise((resolve) => leader.once('elected', resolve));

async function store(term: number, signal: AbortSignal): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/export`, { method: 'PUT', headers: { 'fencing-token': String(term) }, signal });
  return `${response.status} ${await response.text()}`;
}

if (leader.leading) console.log('leader:', await store(leader.term as number, leader.signal));
// What a leader from an older tenure would get if it woke up late:
console.log('stale leader:', await store(0, AbortSignal.timeout(5_000)));

await leader.close();
await campaign;
await pool.end();
storage.close();
