/**
 * The private Galera cluster of src/cli/harness/galera-cluster.ts does what
 * it says: three Synced nodes that replicate; a node killed with SIGKILL
 * leaves two that accept writes once they have reconfigured, and restarts
 * into the cluster with every row; a node cut off refuses its clients and
 * comes back; a node's clock can run an hour ahead and back while it runs,
 * its timeouts unharmed; a frozen node is evicted and comes back; a node
 * whose data is lost is wiped and copied again; a node restarted while no
 * member is in a primary component bootstraps one; stop() leaves no process
 * and no folder. Needs no MYSQL_URL: the file skips
 * itself when this machine cannot run a cluster.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { startGaleraCluster, whyGaleraClusterCannotStart, type GaleraCluster } from '../../src/cli/harness/galera-cluster.js';
import { alive } from '../support/processes.js';

const cannotStart = whyGaleraClusterCannotStart();
const cannotSkew = whyGaleraClusterCannotStart({ clockSkew: true });
/** What the harness reported while starting the cluster (printed by the first test). */
const startLog: string[] = [];
let cluster: GaleraCluster | undefined;

function started(): GaleraCluster {
  assert.ok(cluster, 'the cluster did not start');
  return cluster;
}

/** A session on node `i` whose reads see every write committed anywhere before them. */
async function session<T>(i: number, use: (connection: Connection) => Promise<T>): Promise<T> {
  const node = started().nodes[i - 1];
  assert.ok(node);
  const connection = await createConnection({ uri: node.url, connectTimeout: 1000, dateStrings: true });
  try {
    await connection.query('SET SESSION wsrep_sync_wait = 1');
    return await use(connection);
  } finally {
    connection.destroy();
  }
}

async function rows(i: number, sql: string, values: unknown[] = []): Promise<RowDataPacket[]> {
  return session(i, async (connection) => (await connection.query<RowDataPacket[]>({ sql, values, timeout: 10_000 }))[0]);
}

async function status(i: number): Promise<{ state: string; size: number }> {
  const result = await rows(i, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_cluster_size')");
  const value = (name: string): string => String(result.find((row) => row['Variable_name'] === name)?.['Value']);
  return { state: value('wsrep_local_state_comment'), size: Number(value('wsrep_cluster_size')) };
}

/** Node `i`'s `wsrep_cluster_status` (`Primary`, `non-Primary`…), asked without a causality wait, which a node out of the primary component refuses. */
async function component(i: number): Promise<string> {
  const node = started().nodes[i - 1];
  assert.ok(node);
  const connection = await createConnection({ uri: node.url, connectTimeout: 1000 });
  try {
    const [[row]] = await connection.query<RowDataPacket[]>({ sql: "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'", timeout: 10_000 });
    return String(row?.['Value']);
  } finally {
    connection.destroy();
  }
}

async function labels(i: number): Promise<string[]> {
  return (await rows(i, 'SELECT label FROM seen ORDER BY id')).map((row) => String(row['label']));
}

async function insert(i: number, label: string): Promise<void> {
  await rows(i, 'INSERT INTO seen (label, node) VALUES (?, ?)', [label, i]);
}

/**
 * Inserts `label` through node `i`, again after each error, until it commits;
 * returns when it did (performance.now()). A write waits while the cluster
 * reconfigures, so the first commit marks the end of the stall.
 */
async function firstCommit(i: number, label: string, giveUpMs = 45_000): Promise<number> {
  const giveUpAt = performance.now() + giveUpMs;
  for (;;) {
    try {
      await insert(i, label);
      return performance.now();
    } catch (error) {
      if (performance.now() > giveUpAt) throw error;
      await delay(50);
    }
  }
}

/** Node `i`'s `UTC_TIMESTAMP(6)`, ms since the epoch. */
async function utcNow(i: number): Promise<number> {
  const [row] = await rows(i, 'SELECT UTC_TIMESTAMP(6) AS now');
  return Date.parse(`${String(row?.['now']).replace(' ', 'T')}Z`);
}

/**
 * Starts `SELECT SLEEP(seconds)` on node `i` and returns once the node runs
 * it: its session id, and how long it took (ms) once it is done.
 */
async function sleeper(i: number, seconds: number): Promise<{ id: number; done: Promise<number> }> {
  const node = started().nodes[i - 1];
  assert.ok(node);
  const connection = await createConnection({ uri: node.url, connectTimeout: 1000 });
  const [[row]] = await connection.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
  const id = Number(row?.['id']);
  const began = performance.now();
  const done = connection
    .query('SELECT SLEEP(?)', [seconds])
    .then(() => performance.now() - began)
    .finally(() => connection.destroy());
  void done.catch(() => {}); // the caller awaits it: this only keeps a rejection before then from counting as unhandled.
  const giveUpAt = performance.now() + 30_000;
  while ((await rows(i, "SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO LIKE 'SELECT SLEEP%'", [id])).length === 0) {
    assert.ok(performance.now() < giveUpAt, 'the SLEEP never showed in the PROCESSLIST');
    await delay(20);
  }
  return { id, done };
}

/** The error a promise rejected with (fails if it did not). */
async function rejection(promise: Promise<unknown>): Promise<{ errno?: number; code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { errno?: number; code?: string };
  }
  assert.fail('expected an error');
}

describe('a private 3-node Galera cluster', { skip: cannotStart ? `cannot start a Galera cluster here: ${cannotStart}` : false }, () => {
  before(async () => {
    const began = performance.now();
    cluster = await startGaleraCluster({ clockSkew: !cannotSkew, fastFailureDetection: true, log: (line) => startLog.push(line) });
    startLog.push(`startGaleraCluster() resolved in ${Math.round(performance.now() - began)} ms (the template included if it was made now)`);
    await rows(1, 'CREATE TABLE seen (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(64) NOT NULL, node INT NOT NULL)');
  });
  after(async () => {
    await cluster?.stop();
  });

  it('starts three Synced nodes on their own ports; a row written on node 1 is read on node 3', async (t) => {
    for (const line of startLog) t.diagnostic(line);
    const { nodes } = started();
    assert.equal(nodes.length, 3);
    assert.deepEqual(
      nodes.map((node) => node.index),
      [1, 2, 3],
    );
    assert.equal(new Set(nodes.map((node) => node.port)).size, 3);
    for (const node of nodes) assert.equal(node.url, `mysql://root@127.0.0.1:${node.port}/test`);
    for (const i of [1, 2, 3]) assert.deepEqual(await status(i), { state: 'Synced', size: 3 });
    await insert(1, 'written on 1');
    assert.deepEqual(await labels(3), ['written on 1']);
  });

  it('kill(1): nodes 2 and 3 accept writes once they have reconfigured; restart(1) rejoins Synced with every row', async (t) => {
    const c = started();
    const pid = c.nodes[0]?.pid ?? 0;
    const killedAt = performance.now();
    await c.kill(1);
    assert.equal(alive(pid), false, 'the mariadbd of node 1 is gone');
    const commits = await Promise.all([firstCommit(2, 'on 2 while 1 was down'), firstCommit(3, 'on 3 while 1 was down')]);
    // Writes may resume a moment before the view without node 1 is installed.
    await c.waitSynced();
    const reconfigured = performance.now();
    t.diagnostic(
      `after kill -9 of node 1: first commits on nodes 2 and 3 ${commits.map((at) => Math.round(at - killedAt)).join(' and ')} ms later; ` +
        `both Synced in a cluster of 2 after ${Math.round(reconfigured - killedAt)} ms`,
    );
    assert.deepEqual(await status(2), { state: 'Synced', size: 2 });
    assert.deepEqual(await status(3), { state: 'Synced', size: 2 });

    const rejoin = await c.restart(1);
    t.diagnostic(`restart(1): ${rejoin.how} in ${rejoin.ms} ms`);
    assert.equal(rejoin.how, 'restarted', 'on its own data, by IST');
    assert.notEqual(c.nodes[0]?.pid, pid);
    assert.deepEqual(await status(1), { state: 'Synced', size: 3 });
    const seen = await labels(1);
    assert.deepEqual(seen, await labels(2));
    assert.deepEqual(new Set(seen), new Set(['written on 1', 'on 2 while 1 was down', 'on 3 while 1 was down']));
    await insert(1, 'on 1 after its restart');
    assert.ok((await labels(3)).includes('on 1 after its restart'));
  });

  it("isolate(2): node 2's clients get error 1047 or 1180 while the others go on; isolate(2, false) brings it back", async (t) => {
    const c = started();
    let began = performance.now();
    await c.isolate(2, true);
    t.diagnostic(`isolate(2, true) resolved in ${Math.round(performance.now() - began)} ms`);
    const read = await rejection(rows(2, 'SELECT COUNT(*) FROM seen'));
    const write = await rejection(insert(2, 'on 2 while isolated'));
    for (const error of [read, write]) assert.ok(error.errno === 1047 || error.errno === 1180, `errno ${error.errno}`);
    assert.deepEqual(await status(1), { state: 'Synced', size: 2 });
    await insert(1, 'on 1 while 2 was isolated');

    began = performance.now();
    const rejoin = await c.isolate(2, false);
    t.diagnostic(`isolate(2, false): ${rejoin?.how} in ${Math.round(performance.now() - began)} ms`);
    assert.deepEqual(await status(2), { state: 'Synced', size: 3 });
    const seen = await labels(2);
    assert.ok(seen.includes('on 1 while 2 was isolated'), seen.join(', '));
    assert.ok(!seen.includes('on 2 while isolated'));
  });

  it(
    "setClockOffset(3, 3600): node 3's UTC_TIMESTAMP runs an hour ahead of node 1's, its timeouts unharmed; setClockOffset(3, 0) brings it back",
    { skip: cannotSkew ? `no clock skew here: ${cannotSkew}` : false },
    async (t) => {
      const c = started();
      // A statement that runs while the clock jumps: PROCESSLIST.TIME_MS measures its age on the monotonic clock.
      const sleeping = await sleeper(3, 2);
      const began = performance.now();
      await c.setClockOffset(3, 3600);
      t.diagnostic(`setClockOffset(3, 3600) resolved in ${Math.round(performance.now() - began)} ms`);
      const [ahead1, ahead3] = await Promise.all([utcNow(1), utcNow(3)]);
      assert.ok(Math.abs(ahead3 - ahead1 - 3_600_000) < 5000, `node 3 is ${ahead3 - ahead1} ms ahead of node 1`);
      const [age] = await rows(3, 'SELECT TIME_MS FROM information_schema.PROCESSLIST WHERE ID = ?', [sleeping.id]);
      assert.ok(Number(age?.['TIME_MS']) < 10_000, `the sleeping statement's age on the monotonic clock: ${age?.['TIME_MS']} ms`);
      // So the server's timeouts still work: the sleep ends on time, a statement time limit still interrupts.
      const slept = await sleeping.done;
      assert.ok(slept > 1500 && slept < 10_000, `SLEEP(2) took ${slept} ms`);
      const from = performance.now();
      const limited = await rejection(rows(3, 'SET STATEMENT max_statement_time = 0.3 FOR SELECT SLEEP(20)'));
      assert.equal(limited.errno, 1969);
      assert.ok(performance.now() - from < 10_000);
      // Replication does not mind.
      await insert(3, 'on 3 an hour ahead');
      assert.ok((await labels(1)).includes('on 3 an hour ahead'));
      assert.deepEqual(await status(3), { state: 'Synced', size: 3 });

      await c.setClockOffset(3, 0);
      const [back1, back3] = await Promise.all([utcNow(1), utcNow(3)]);
      assert.ok(Math.abs(back3 - back1) < 5000, `node 3 is ${back3 - back1} ms ahead of node 1`);
      assert.deepEqual(await status(3), { state: 'Synced', size: 3 });
    },
  );

  it('pause(3): node 3 does not answer and the others evict it; resume(3) brings it back with the rows written meanwhile', async (t) => {
    const c = started();
    const pausedAt = performance.now();
    await c.pause(3);
    const unanswered = await rejection(rows(3, 'SELECT 1'));
    assert.ok(unanswered.code === 'ETIMEDOUT' || unanswered.code === 'PROTOCOL_SEQUENCE_TIMEOUT', `code ${unanswered.code}`);
    await c.waitSynced();
    t.diagnostic(`nodes 1 and 2 Synced without node 3 ${Math.round(performance.now() - pausedAt)} ms after its SIGSTOP`);
    assert.deepEqual(await status(1), { state: 'Synced', size: 2 });
    await insert(1, 'on 1 while 3 was paused');

    const rejoin = await c.resume(3);
    t.diagnostic(`resume(3): ${rejoin.how} in ${rejoin.ms} ms`);
    assert.deepEqual(await status(3), { state: 'Synced', size: 3 });
    assert.ok((await labels(3)).includes('on 1 while 3 was paused'));
  });

  it('restart(2) after its data was lost: wiped, it rejoins by a full state transfer with every row', async (t) => {
    const c = started();
    await c.kill(2);
    const dataDir = c.nodes[1]?.dataDir ?? '';
    for (const entry of readdirSync(dataDir)) rmSync(join(dataDir, entry), { recursive: true, force: true });
    await insert(1, 'on 1 while 2 had no data');
    const rejoin = await c.restart(2);
    t.diagnostic(`restart(2) with no data: ${rejoin.how} in ${rejoin.ms} ms`);
    assert.equal(rejoin.how, 'wiped');
    assert.deepEqual(await status(2), { state: 'Synced', size: 3 });
    assert.deepEqual(await labels(2), await labels(1));
    assert.ok((await labels(2)).includes('on 1 while 2 had no data'));
  });

  it('kill(1) and kill(2): node 3 alone is out of the primary component; restart(1) bootstraps it first, then 1 and 2 rejoin with every row', async (t) => {
    const c = started();
    await insert(3, 'on 3 before 1 and 2 died');
    await Promise.all([c.kill(1), c.kill(2)]);
    const killedAt = performance.now();
    while ((await component(3)) !== 'non-Primary') {
      assert.ok(performance.now() - killedAt < 30_000, 'node 3 alone stayed in a primary component');
      await delay(50);
    }
    const refused = await rejection(insert(3, 'on 3 alone'));
    assert.ok(refused.errno === 1047 || refused.errno === 1180, `errno ${refused.errno}`);

    const first = await c.restart(1);
    t.diagnostic(`restart(1) with no primary component: ${first.how} in ${first.ms} ms`);
    assert.deepEqual(await status(1), { state: 'Synced', size: 2 });
    assert.deepEqual(await status(3), { state: 'Synced', size: 2 });
    const second = await c.restart(2);
    t.diagnostic(`restart(2): ${second.how} in ${second.ms} ms`);
    assert.deepEqual(await status(2), { state: 'Synced', size: 3 });
    const seen = await labels(2);
    assert.ok(seen.includes('on 3 before 1 and 2 died'), seen.join(', '));
    assert.ok(!seen.includes('on 3 alone'));
    await insert(1, 'on 1 after the bootstrap');
    assert.ok((await labels(3)).includes('on 1 after the bootstrap'));
  });

  it('stop() ends every node and removes the folder; stopping again does nothing', async () => {
    const c = started();
    const pids = c.nodes.map((node) => node.pid);
    assert.ok(pids.every(alive));
    assert.ok(existsSync(c.dir));
    await c.stop();
    await c.stop();
    assert.deepEqual(pids.filter(alive), []);
    assert.equal(existsSync(c.dir), false);
  });
});
