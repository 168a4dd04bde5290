/**
 * nodeSet() on real servers: three private MariaDB servers, independent (not
 * a cluster: what is tested here is the routing, so each server has an
 * election table of its own). Statements go to the first node; a dead node
 * is passed over at once; a statement whose outcome is unknown is never sent
 * again; a participant whose node crashes keeps campaigning, is elected
 * through the next node, and moves back once the first has been healthy for
 * a while; the CLI takes several hosts. No MYSQL_URL needed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import * as mariadb from 'mariadb';
import { createConnection, createPool, type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import { startPrivateMariadb, type PrivateMariadb } from '../../src/cli/harness/private-mariadb.js';
import { createMysqlLeaderTable, DatabaseError, MysqlLeader, nodeSet, type NodeSet } from '../../src/index.js';
import { runCli } from '../support/cli.js';

/** Generous: three servers and the test share two busy cores. */
const DEADLINE_MS = 20_000;
/** Quick checks and a short quiet spell, so that the tests move back within seconds. */
const FAST = { checkInterval: 100, backoff: 100, maxBackoff: 400, moveBackAfter: 1_000 } as const;
/** A loopback port where nothing listens: connections are refused at once. */
const NOTHING = 'mysql://root@127.0.0.1:1/test';

const servers = await Promise.all([startPrivateMariadb(), startPrivateMariadb(), startPrivateMariadb()]);
const [first, second, third] = servers;
after(() => Promise.all(servers.map((server) => server.stop())));
for (const server of servers) await withPool(server.url, (pool) => createMysqlLeaderTable(pool));

/** Every set a test made is ended (its pools too) after the file. */
const sets: { end(): Promise<void> }[] = [];
after(() => Promise.all(sets.map((set) => set.end())));

/** A set of one small mysql2 pool per url. */
function setOf(urls: readonly string[], options: Parameters<typeof nodeSet>[1] = FAST): NodeSet<PoolConnection> {
  const set = nodeSet(
    urls.map((uri) => createPool({ uri, connectionLimit: 3 })),
    options,
  );
  sets.push(set);
  return set;
}

async function withPool<T>(url: string, use: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = createPool({ uri: url, connectionLimit: 1 });
  try {
    return await use(pool);
  } finally {
    await pool.end();
  }
}

/** The port of the server a statement through `set` reaches. */
async function portOf(set: NodeSet<PoolConnection>): Promise<number> {
  const [rows] = await set.query<RowDataPacket[]>('SELECT @@port AS port');
  return Number(rows[0]?.['port']);
}

/** A TCP server that closes every connection at once (a node that fails once connected), recording when each came. */
async function resettingServer(): Promise<{ url: string; attempts: number[]; close(): Promise<void> }> {
  const attempts: number[] = [];
  const server = createServer((socket) => {
    attempts.push(performance.now());
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `mysql://root@127.0.0.1:${port}/test`, attempts, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + DEADLINE_MS;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`not within ${DEADLINE_MS} ms: ${what}`);
    await delay(20);
  }
}

/** The election row of `name` on one server. */
async function rowOn(server: PrivateMariadb, name: string): Promise<{ node: string; term: number } | undefined> {
  return withPool(server.url, async (pool) => {
    const [rows] = await pool.query<RowDataPacket[]>('SELECT node_name, term FROM leader_election WHERE leader_name = ?', [name]);
    const row = rows[0];
    return row && { node: String(row['node_name']), term: Number(row['term']) };
  });
}

describe('nodeSet: one handle over several nodes', () => {
  it('sends every statement to the first node while it serves', async () => {
    const set = setOf(servers.map((server) => server.url));
    for (let i = 0; i < 5; i++) assert.equal(await portOf(set), first.port);
    const connection = await set.getConnection();
    try {
      const [rows] = await connection.query<RowDataPacket[]>('SELECT @@port AS port');
      assert.equal(Number(rows[0]?.['port']), first.port);
      assert.equal(typeof connection.threadId, 'number');
    } finally {
      connection.release();
    }
    assert.equal(set.current, 0);
  });

  it('passes over a dead node at once, in getConnection() and in query()', async () => {
    const set = setOf([NOTHING, second.url]);
    const started = performance.now();
    const connection = await set.getConnection();
    const tookMs = performance.now() - started;
    connection.release();
    assert.ok(tookMs < 2_000, `a refused node is passed over at once (took ${tookMs.toFixed(0)} ms)`);
    assert.equal(set.current, 1);
    // A connection refused means the statement was never sent: query() may go on to the next node.
    assert.equal(await portOf(setOf([NOTHING, third.url])), third.port);
  });

  it('leaves a failed node alone for its back-off, doubled at each failure in a row up to maxBackoff', async () => {
    const node = await resettingServer();
    try {
      const set = setOf([node.url, second.url], { ...FAST, checkInterval: 20, backoff: 300, maxBackoff: 1_200 });
      assert.equal(await portOf(set), second.port);
      for (let i = 0; i < 5; i++) assert.equal(await portOf(set), second.port);
      // The checks try it again (it is before the current node) once each back-off has passed.
      // Attempts within 50 ms of the one before are one failure: a check that began before the
      // first statement's failure was known tries the node at the same moment (CI saw them 1 ms apart).
      const failures = (): number[] => node.attempts.filter((at, i) => i === 0 || at - (node.attempts[i - 1] ?? 0) >= 50);
      await until('five failures of the failing node', () => failures().length >= 5);
      const starts = failures();
      const gaps = starts.slice(1, 5).map((at, i) => at - (starts[i] ?? 0));
      for (const [i, least] of [300, 600, 1_200, 1_200].entries()) {
        assert.ok((gaps[i] ?? 0) >= least - 20, `failure ${i + 2} came ${gaps.map((gap) => gap.toFixed(0)).join(', ')} ms after the one before`);
      }
    } finally {
      await node.close();
    }
  });

  it('passes over a mariadb pool that cannot connect after connectTimeout, not after its 10 s acquireTimeout', async () => {
    const dead = mariadb.createPool({ host: '127.0.0.1', port: 1, user: 'root', connectionLimit: 1 });
    const live = mariadb.createPool({ host: '127.0.0.1', port: second.port, user: 'root', database: 'test', connectionLimit: 3 });
    const set = nodeSet([dead, live], { ...FAST, connectTimeout: 300 });
    sets.push(set);
    const started = performance.now();
    const rows = await set.query<{ port: number }[]>('SELECT @@port AS port');
    const tookMs = performance.now() - started;
    assert.equal(Number(rows[0]?.port), second.port);
    assert.ok(tookMs >= 250 && tookMs < 5_000, `moved on after connectTimeout (took ${tookMs.toFixed(0)} ms)`);
  });

  it('rejects with a transient DatabaseError naming each node when none gives a connection', async () => {
    const set = setOf([NOTHING, 'mysql://root@127.0.0.1:2/test']);
    await assert.rejects(set.getConnection(), (error: unknown) => {
      assert.ok(error instanceof DatabaseError);
      assert.equal(error.transient, true);
      assert.equal(error.sqlCode, 'ECONNREFUSED');
      assert.match(error.message, /node 1: connect ECONNREFUSED 127\.0\.0\.1:1; node 2: connect ECONNREFUSED 127\.0\.0\.1:2/);
      return true;
    });
  });

  it('never sends again a statement whose outcome is unknown: it fails, and the next statement goes to the next node', async () => {
    const marker = `unknown_outcome_${process.pid}_${Date.now()}`;
    const logs = [first, second].map((server) => join(server.dir, 'general.log'));
    for (const [i, server] of [first, second].entries()) {
      await withPool(server.url, async (pool) => {
        await pool.query('SET GLOBAL general_log_file = ?', [logs[i]]);
        await pool.query('SET GLOBAL general_log = 1');
      });
    }
    const set = setOf([first.url, second.url]);
    // Watch the first server without writing the marker to its log.
    const watcher = await createConnection({ uri: first.url });
    await watcher.query('SET SESSION sql_log_off = 1');
    try {
      const statement = set.query(`SELECT SLEEP(5) AS ${marker}`);
      statement.catch(() => {}); // awaited below, after the crash.
      await until('the statement runs on the first server', async () => {
        const [rows] = await watcher.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(5) AS %'");
        return Number(rows[0]?.['n']) === 1;
      });
      watcher.destroy();
      await first.crash();
      await assert.rejects(statement, { code: 'PROTOCOL_CONNECTION_LOST' });
      assert.equal(await portOf(set), second.port, 'the next statement goes to the next node');
      await withPool(second.url, (pool) => pool.query('SET GLOBAL general_log = 0'));
      const executions = logs.map((log) => readFileSync(log, 'utf8').split(marker).length - 1);
      assert.deepEqual(executions, [1, 0], 'sent once, to the first server; never to the second');
    } finally {
      watcher.destroy();
      await first.restart();
    }
  });

  it('a participant whose node crashes keeps campaigning (abortOnError), is elected through the next node, and moves back after the quiet spell', async (t) => {
    const set = setOf([first.url, second.url]);
    const name = `crash-${Date.now()}`;
    const leader = new MysqlLeader(set, name, { nodeName: 'p1', age: 2_000, tick: 500 });
    const elected: { term: number; node: number; at: number }[] = [];
    leader.on('elected', ({ term }) => elected.push({ term, node: set.current, at: performance.now() }));
    let rejected: unknown;
    const campaign = leader.acquire().catch((error: unknown) => (rejected = error));
    try {
      await until('elected through the first node', () => elected.length === 1);
      assert.equal(elected[0]?.node, 0);
      assert.deepEqual(await rowOn(first, name), { node: 'p1', term: 1 });

      const crashedAt = performance.now();
      await first.crash();
      await until('elected again through the second node', () => elected.some((e) => e.node === 1));
      const failoverMs = (elected.find((e) => e.node === 1)?.at ?? 0) - crashedAt;
      assert.equal((await rowOn(second, name))?.node, 'p1');
      assert.equal(rejected, undefined, 'the campaign goes on');

      const restartedAt = performance.now();
      await first.restart();
      await until('moved back to the first node', () => set.current === 0);
      const movedBackMs = performance.now() - restartedAt;
      assert.ok(movedBackMs >= FAST.moveBackAfter, `not before the quiet spell (${movedBackMs.toFixed(0)} ms)`);
      // Its renewals now go to the first server, whose row is still the lease from before the crash.
      await until('leading through the first node again', async () => leader.leading && (await portOf(set)) === first.port);
      assert.equal((await rowOn(first, name))?.node, 'p1');
      assert.equal(rejected, undefined, 'the campaign goes on');
      t.diagnostic(`elected through the next node ${failoverMs.toFixed(0)} ms after the crash; moved back ${movedBackMs.toFixed(0)} ms after the restart`);
    } finally {
      await leader.close();
      await campaign;
    }
    assert.equal(rejected, undefined);
  });

  it('works on mariadb pools: withLeadership() gets the driver’s own connection, of the current node', async () => {
    const pools = [first, second].map((server) =>
      mariadb.createPool({ host: '127.0.0.1', port: server.port, user: 'root', database: 'test', connectionLimit: 3 }),
    );
    const set = nodeSet(pools, FAST);
    const leader = new MysqlLeader(set, `mariadb-${Date.now()}`, { age: 2_000, tick: 500 });
    const campaign = leader.acquire();
    try {
      await until('elected', () => leader.leading);
      const port = await leader.withLeadership(async (connection) => {
        assert.equal(typeof connection.batch, 'function', 'a mariadb connection');
        assert.equal(typeof connection.threadId, 'number');
        const rows = await connection.query<{ port: number }[]>('SELECT @@port AS port');
        return Number(rows[0]?.port);
      });
      assert.equal(port, first.port);
    } finally {
      await leader.close();
      await campaign;
      await set.end();
    }
  });
});

describe('the CLI with several hosts', () => {
  it('reads the table through the first host that serves', async () => {
    const url = `mysql://root@127.0.0.1:1,127.0.0.1:${second.port}/test`;
    const result = await runCli(['status', '--json', '--url', url]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Array.isArray(JSON.parse(result.stdout)));
  });

  it('says which host is wrong, naming the flag', async () => {
    const cases = [
      { url: 'mysql://root@127.0.0.1:3306,/test', message: /--url is not a valid URL: .*host 2 is empty/ },
      {
        url: 'mysql://root@127.0.0.1:3306,127.0.0.1:notaport/test',
        message: /--url is not a valid URL: .*host 2, "127\.0\.0\.1:notaport", is not HOST\[:PORT\]/,
      },
      { url: 'mysql://root@db1:3306,db1:3306/test', message: /--url names the host db1:3306 twice/ },
      { url: 'mysql://root:secret@db1,db2', message: /--url names no database: "mysql:\/\/root:\*\*\*@db1,db2"/ },
    ];
    for (const { url, message } of cases) {
      const result = await runCli(['status', '--url', url]);
      assert.equal(result.code, 2, `${url}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /secret|\n\s+at /, 'no password, no stack trace');
    }
  });

  it('reports on one line when no host answers', async () => {
    const result = await runCli(['status', '--url', 'mysql://root@127.0.0.1:1,127.0.0.1:2/test']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^mysql-leader: cannot connect to mysql:\/\/root@127\.0\.0\.1:1,127\.0\.0\.1:2\/test: connect ECONNREFUSED/);
  });
});
