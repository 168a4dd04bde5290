/**
 * Node sets of the three nodes of a private Galera cluster
 * (src/cli/harness/galera-cluster.ts). Three participants meet on node 1;
 * when node 1 is killed with SIGKILL, every campaign goes on (the default
 * `abortOnError`), they all move to node 2, and there is a leader again
 * within age + tick + the time the cluster takes to accept writes again,
 * never two at once. Once node 1 has rejoined, a set moves back to it
 * without ending its leader's tenure (the row is the same on every node),
 * and leaves it again when it is cut off from the primary component. Needs
 * no MYSQL_URL: the file skips itself when this machine cannot run a cluster.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createConnection, createPool, type PoolConnection } from 'mysql2/promise';
import { startGaleraCluster, whyGaleraClusterCannotStart, type GaleraCluster } from '../../src/cli/harness/galera-cluster.js';
import { createMysqlLeaderTable, MysqlLeader, nodeSet, type NodeSet } from '../../src/index.js';

const AGE = 2_000;
const TICK = 500;
/** Generous: three Galera nodes, three participants and the test share two busy cores. */
const DEADLINE_MS = 30_000;

const cannotStart = whyGaleraClusterCannotStart();
let cluster: GaleraCluster | undefined;

function started(): GaleraCluster {
  assert.ok(cluster, 'the cluster did not start');
  return cluster;
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + DEADLINE_MS;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`not within ${DEADLINE_MS} ms: ${what}`);
    await delay(5);
  }
}

/** Resolves when a write through node `i` commits, trying every 10 ms (each try limited to 500 ms): how long the cluster takes to accept writes again. */
async function firstWrite(i: number, label: string): Promise<number> {
  const node = started().nodes[i - 1];
  assert.ok(node);
  for (;;) {
    const connection = await createConnection({ uri: node.url, connectTimeout: 1_000 }).catch(() => undefined);
    try {
      if (connection) {
        await connection.query({ sql: 'INSERT INTO probes (label) VALUES (?)', values: [label], timeout: 500 });
        return performance.now();
      }
    } catch {
      // Not yet: the cluster has not reconfigured.
    } finally {
      connection?.destroy();
    }
    await delay(10);
  }
}

describe('a node set of a Galera cluster', { skip: cannotStart }, () => {
  before(async () => {
    cluster = await startGaleraCluster({ fastFailureDetection: true });
    const pool = createPool({ uri: cluster.nodes[0]?.url ?? '', connectionLimit: 1 });
    try {
      await createMysqlLeaderTable(pool);
      await pool.query('CREATE TABLE probes (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(64) NOT NULL)');
    } finally {
      await pool.end();
    }
  });
  after(() => cluster?.stop());

  it('three participants on the three nodes: kill -9 of node 1, every campaign goes on, a leader again within age + tick + reconfiguration', async (t) => {
    const urls = started().nodes.map((node) => node.url);
    const sets: NodeSet<PoolConnection>[] = [];
    const leaders = ['p1', 'p2', 'p3'].map((nodeName) => {
      const set = nodeSet(
        urls.map((uri) => createPool({ uri, connectionLimit: 3 })),
        { checkInterval: 200 },
      );
      sets.push(set);
      return new MysqlLeader(set, 'galera-node-set', { nodeName, age: AGE, tick: TICK });
    });
    const rejections: unknown[] = [];
    /** When the database last confirmed a leader (an election or a renewal). */
    const confirmed: number[] = [];
    for (const leader of leaders) {
      leader.on('elected', () => void confirmed.push(performance.now()));
      leader.on('renewed', () => void confirmed.push(performance.now()));
    }
    /** Who has seen a leader in the row: its campaign has been answered (before that, a lost connection goes to onError). */
    const seen = new Set<MysqlLeader>();
    for (const leader of leaders) leader.on('leaderChange', ({ leader: now }) => void (now && seen.add(leader)));
    const campaigns = leaders.map((leader) => leader.acquire().catch((error: unknown) => void rejections.push(error)));
    // Never two leaders at once, sampled on this process's one monotonic clock.
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, leaders.filter((leader) => leader.leading).length)), 2);
    try {
      await until('a leader, seen by every participant', () => leaders.some((leader) => leader.leading) && seen.size === leaders.length);
      assert.deepEqual(
        sets.map((set) => set.current),
        [0, 0, 0],
        'they meet on node 1',
      );

      const killedAt = performance.now();
      await started().kill(1);
      const goneAt = performance.now();
      const writable = firstWrite(2, 'after-kill');
      await until('a leader confirmed by the cluster again', () => confirmed.some((at) => at > goneAt));
      const leaderAgainMs = (confirmed.find((at) => at > goneAt) ?? 0) - killedAt;
      const reconfigurationMs = (await writable) - killedAt;
      await until('every participant on node 2', () => sets.every((set) => set.current === 1));
      t.diagnostic(
        `a leader again ${leaderAgainMs.toFixed(0)} ms after the kill; the cluster accepted writes on node 2 ${reconfigurationMs.toFixed(0)} ms after it`,
      );
      assert.ok(
        leaderAgainMs < AGE + TICK + reconfigurationMs,
        `a leader again after ${leaderAgainMs.toFixed(0)} ms: within age + tick + ${reconfigurationMs.toFixed(0)} ms of reconfiguration`,
      );
      assert.deepEqual(rejections, [], 'every campaign goes on');
      assert.ok(most <= 1, 'never two leaders at once');
    } finally {
      clearInterval(sampler);
      await Promise.all(leaders.map((leader) => leader.close()));
      await Promise.all(campaigns);
      await Promise.all(sets.map((set) => set.end()));
    }
    assert.deepEqual(rejections, []);
  });

  it('moves back to node 1 once it has rejoined, without a gap in the tenure; leaves it when it is cut off from the primary component', async (t) => {
    await started().kill(1); // down already, after the test above
    await started().waitSynced();
    const urls = started().nodes.map((node) => node.url);
    const set = nodeSet(
      urls.map((uri) => createPool({ uri, connectionLimit: 3 })),
      { checkInterval: 200, moveBackAfter: 1_000 },
    );
    const leader = new MysqlLeader(set, 'galera-move-back', { nodeName: 'p1', age: AGE, tick: TICK });
    const revoked: string[] = [];
    const renewals: { term: number; at: number }[] = [];
    leader.on('revoked', ({ reason }) => void revoked.push(reason));
    leader.on('renewed', ({ term }) => void renewals.push({ term, at: performance.now() }));
    let rejected: unknown;
    const campaign = leader.acquire().catch((error: unknown) => (rejected = error));
    try {
      await until('leading through node 2 (node 1 is down)', () => leader.leading && set.current === 1);
      // A joining node stalls the cluster's writes for a moment: a renewal may time out then (age 2 s, tick 0.5 s).
      const rejoin = await started().restart(1);
      const syncedAt = performance.now();
      await until('moved back to node 1', () => set.current === 0);
      const movedAt = performance.now();
      const term = leader.term;
      const ended = revoked.length;
      assert.ok(term !== undefined, 'leading when the set moves back');
      await until('three renewals through node 1', () => renewals.filter((renewal) => renewal.at > movedAt).length >= 3);
      assert.equal(leader.term, term, 'the same row on every node: moving back ends no tenure');
      assert.deepEqual(revoked.slice(ended), []);

      const isolatedAt = performance.now();
      const isolating = started().isolate(1, true);
      await until('moved to node 2', () => set.current === 1);
      const movedAwayMs = performance.now() - isolatedAt;
      await isolating;
      await until('leading through node 2', () => leader.leading && set.current === 1);
      t.diagnostic(
        `node 1 rejoined (${rejoin.how}) in ${rejoin.ms.toFixed(0)} ms; moved back ${(movedAt - syncedAt).toFixed(0)} ms after it was Synced; ` +
          `moved away ${movedAwayMs.toFixed(0)} ms after it was cut off; tenures ended meanwhile: ${revoked.join(', ') || 'none'}`,
      );
      assert.equal(rejected, undefined, 'the campaign goes on');
    } finally {
      await leader.close();
      await campaign;
      await set.end();
    }
  });
});
