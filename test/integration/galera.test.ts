/**
 * The election on a private 3-node MariaDB Galera cluster on loopback, with
 * participants (real processes, the default `abortOnError`) on different
 * nodes: a node's clock an hour off changes nothing; a fenced transaction
 * and a take-over through another node are ordered by certification; a
 * participant's SIGKILL and a node's kill -9 fail over within their bounds,
 * and no campaign ends. It starts its own cluster: no MYSQL_URL needed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createPool, type Pool } from 'mysql2/promise';
import { canStartGaleraCluster, startGaleraCluster, whyGaleraClusterCannotStart, type GaleraCluster } from '../../src/cli/harness/galera-cluster.js';
import { ParticipantProcess } from '../../src/cli/harness/participant-process.js';
import { findViolation, tenuresOf } from '../../src/cli/harness/tenures.js';
import { sharedNow } from '../../src/cli/shared-clock.js';
import { NotLeaderError, createMysqlLeaderTable } from '../../src/index.js';
import { Driver } from '../../src/mysql/driver.js';
import { runFenced } from '../../src/mysql/fence.js';
import { statements } from '../../src/mysql/sql.js';

/** The issue's settings: loopback, age 2000 ms, tick 500 ms. */
const AGE = 2000;
const TICK = 500;
/** What two busy cores (three database nodes, three participants, the test) may add to a bound. */
const SLACK = 750;
const skip = canStartGaleraCluster({ clockSkew: true }) ? false : whyGaleraClusterCannotStart({ clockSkew: true });

let cluster: GaleraCluster;
const pools: Pool[] = [];
const processes: ParticipantProcess[] = [];
/** The url of node `i` (1-based). */
function urlOf(i: number): string {
  const node = cluster.nodes[i - 1];
  if (!node) throw new Error(`no node ${i}`);
  return node.url;
}

/** A pool on node `i` (1-based). */
function poolOn(i: number): Pool {
  const pool = createPool({ uri: urlOf(i), connectionLimit: 4 });
  pools.push(pool);
  return pool;
}

before(async () => {
  if (skip) return;
  cluster = await startGaleraCluster({ clockSkew: true, fastFailureDetection: true });
  await createMysqlLeaderTable(poolOn(1));
  await poolOn(1).query('CREATE TABLE fenced_writes (round INT PRIMARY KEY, term BIGINT NOT NULL)');
});
after(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGKILL')));
  await Promise.all(pools.map((pool) => pool.end().catch(() => {})));
  await cluster?.stop();
});

/** `count` participant processes of election `leaderName`, participant k on node ((k - 1) mod 3) + 1. */
function participants(leaderName: string, count = 3): ParticipantProcess[] {
  const started = Array.from({ length: count }, (_, k) => {
    const node = new ParticipantProcess({ url: urlOf((k % 3) + 1), leaderName, nodeName: `p${k + 1}`, age: AGE, tick: TICK, abortOnError: true });
    node.start();
    return node;
  });
  processes.push(...started);
  return started;
}

/** The participant that leads now, waiting for one. */
async function leaderOf(nodes: readonly ParticipantProcess[], timeoutMs = 10_000): Promise<ParticipantProcess> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leading = nodes.find((node) => node.running && node.leading);
    if (leading) return leading;
    if (Date.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms`);
    await delay(5);
  }
}

/** The first `elected` of another node than `except` after `since` (shared clock). */
async function nextElected(nodes: readonly ParticipantProcess[], since: number, except?: ParticipantProcess, timeoutMs = 15_000) {
  try {
    return await Promise.any(
      nodes
        .filter((node) => node !== except)
        .map((node) => node.waitFor((r) => r.event === 'elected' && r.mono > since, timeoutMs).then((report) => ({ node, report }))),
    );
  } catch {
    const last = (node: ParticipantProcess): string =>
      node.reports
        .slice(-8)
        .map((r) => `${r.event}${r.term === undefined ? '' : ` ${r.term}`}${typeof r['message'] === 'string' ? ` (${r['message']})` : ''}`)
        .join(', ');
    throw new Error(`no other node elected within ${timeoutMs} ms; last reports:\n${nodes.map((node) => `${node.name}: ${last(node)}`).join('\n')}`);
  }
}

/** p50, p99 and max of `ms`, for the log. */
function summary(ms: readonly number[]): string {
  if (ms.length === 0) return 'none';
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number): string => (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0).toFixed(0);
  return `p50 ${at(0.5)} · p99 ${at(0.99)} · max ${at(1)} ms (n ${ms.length})`;
}

/** No two believed tenures overlapped, terms grew, and no campaign ended. */
function checkSafeAndLive(nodes: readonly ParticipantProcess[]): void {
  const tenures = nodes.flatMap((node) => tenuresOf(node.reports));
  assert.equal(findViolation(tenures), undefined);
  const terms = tenures.sort((a, b) => a.start - b.start).map((t) => t.term);
  assert.deepEqual(
    terms,
    [...terms].sort((a, b) => a - b),
    'terms grow',
  );
  assert.deepEqual(
    nodes.flatMap((node) => node.reports.filter((r) => r.event === 'failed')),
    [],
    'no campaign ended',
  );
}

describe('Galera: three nodes, participants on different nodes', { skip }, () => {
  it('one node an hour ahead, then an hour behind: 50 hand-overs with no overlap of believed tenures', async () => {
    const nodes = participants('skew'); // one per node: every hand-over crosses nodes (the hand-over lock cannot wake the next leader).
    await leaderOf(nodes);
    const handOvers: number[] = [];
    for (let round = 0; round < 50; round++) {
      if (round === 0) await cluster.setClockOffset(3, 3600);
      if (round === 25) await cluster.setClockOffset(3, -3600);
      await delay(TICK + 50); // a renewal, and the followers' reads, under the skew.
      const leader = await leaderOf(nodes);
      const since = sharedNow();
      leader.send('resign');
      const { report } = await nextElected(nodes, since, leader);
      handOvers.push(report.mono - since);
    }
    await cluster.setClockOffset(3, 0);
    console.log(`# Galera hand-over after resign(), to a participant on another node: ${summary(handOvers)} (age ${AGE}, tick ${TICK})`);
    // Followers on other nodes read just after each renewal is due: the release is seen within about a tick.
    assert.ok(Math.max(...handOvers) <= TICK + SLACK, `a hand-over took ${Math.max(...handOvers).toFixed(0)} ms`);
    checkSafeAndLive(nodes);
    const elected = nodes.flatMap((node) => node.reports.filter((r) => r.event === 'elected'));
    assert.ok(
      [1, 2, 3].every((i) => elected.some((r) => r.node === `p${i}`)),
      'each node led at least once',
    );
    await Promise.all(nodes.map((node) => node.kill('SIGKILL')));
  });

  it('100 fenced COMMITs sent together with a take-over through another node: never both committed', async () => {
    const sql = statements('leader_election');
    const node1 = new Driver(poolOn(1));
    const intruders = poolOn(2);
    const outcomes = { fenced: 0, takenOver: 0 };
    for (let round = 0; round < 100; round++) {
      const term = 1000 + round;
      await poolOn(1).query(
        "REPLACE INTO leader_election VALUES ('fence', 'L', ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL 60 SECOND)",
        [term],
      );
      const intruder = await intruders.getConnection();
      try {
        await intruder.query('SET SESSION wsrep_sync_wait = 1');
        await intruder.query('START TRANSACTION');
        const [seen] = await intruder.query('SELECT term FROM leader_election WHERE leader_name = ?', ['fence']);
        assert.deepEqual(seen, [{ term }], 'the intruder sees the round’s term');
        let release: () => void = () => {};
        const held = new Promise<void>((resolve) => (release = resolve));
        let inserted: () => void = () => {};
        const wrote = new Promise<void>((resolve) => (inserted = resolve));
        const target = { tableName: 'leader_election', leaderName: 'fence', nodeName: 'L', sql, ageMs: 60_000, statementMs: 5_000 };
        const fenced = runFenced(
          node1,
          target,
          { term, signal: new AbortController().signal },
          () => true,
          async (conn) => {
            await (conn as Pool).query('INSERT INTO fenced_writes VALUES (?, ?)', [round, term]);
            inserted();
            await held;
          },
        );
        await wrote;
        await intruder.query("UPDATE leader_election SET node_name = 'intruder', term = term + 1 WHERE leader_name = 'fence'");
        // The fenced COMMIT and the take-over's COMMIT leave together.
        release();
        const [fence, takeOver] = await Promise.allSettled([fenced, intruder.query('COMMIT')]);
        if (fence.status === 'rejected') assert.ok(fence.reason instanceof NotLeaderError, `round ${round}: ${String(fence.reason)}`);
        assert.notEqual(fence.status === 'fulfilled', takeOver.status === 'fulfilled', `round ${round}: exactly one of them committed`);
        const [rows] = await poolOn(1).query('SET STATEMENT wsrep_sync_wait = 1 FOR SELECT COUNT(*) AS n FROM fenced_writes WHERE round = ?', [round]);
        assert.equal(
          Number((rows as { n: number }[])[0]?.n),
          fence.status === 'fulfilled' ? 1 : 0,
          `round ${round}: the fenced write is there exactly when its call resolved`,
        );
        if (fence.status === 'fulfilled') outcomes.fenced++;
        else outcomes.takenOver++;
      } finally {
        intruder.release();
      }
    }
    console.log(`# fencing on Galera, 100 rounds: ${outcomes.fenced} fenced commits won, ${outcomes.takenOver} take-overs won, 0 both`);
  });

  it('a fenced transaction on a session that does not replicate (wsrep_on OFF) is refused with a clear error, and writes nothing', async () => {
    const pool = poolOn(1);
    await pool.query("REPLACE INTO leader_election VALUES ('unreplicated', 'L', 7, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL 60 SECOND)");
    const connection = await pool.getConnection();
    await connection.query('SET SESSION wsrep_on = OFF');
    try {
      const target = {
        tableName: 'leader_election',
        leaderName: 'unreplicated',
        nodeName: 'L',
        sql: statements('leader_election'),
        ageMs: 60_000,
        statementMs: 5_000,
      };
      const fenced = runFenced(
        new Driver(connection),
        target,
        { term: 7, signal: new AbortController().signal },
        () => true,
        async (conn) => {
          await (conn as Pool).query('INSERT INTO fenced_writes VALUES (-1, 7)');
        },
      );
      await assert.rejects(fenced, { name: 'DatabaseError', message: /needs wsrep_on = ON in its session/ });
    } finally {
      await connection.query('SET SESSION wsrep_on = ON');
      connection.release();
    }
    const [rows] = await pool.query('SELECT COUNT(*) AS n FROM fenced_writes WHERE round = -1');
    assert.equal(Number((rows as { n: number }[])[0]?.n), 0);
  });

  it("a participant's SIGKILL: a leader again within age + tick", async () => {
    const nodes = participants('sigkill');
    const figures: number[] = [];
    for (let round = 0; round < 3; round++) {
      const leader = await leaderOf(nodes);
      await delay(TICK * Math.random());
      const killedAt = sharedNow();
      await leader.kill('SIGKILL');
      const { report } = await nextElected(nodes, killedAt, leader);
      figures.push(report.mono - killedAt);
      leader.start();
      await leader.waitFor((r) => r.event === 'ready' && r.mono > killedAt, 10_000, 'ready after the restart');
    }
    console.log(`# Galera: participant SIGKILL → elected ${figures.map((ms) => ms.toFixed(0)).join(', ')} ms (age ${AGE}, tick ${TICK})`);
    for (const ms of figures) assert.ok(ms <= AGE + TICK + SLACK, `elected ${ms.toFixed(0)} ms after the kill`);
    checkSafeAndLive(nodes);
    await Promise.all(nodes.map((node) => node.kill('SIGKILL')));
  });

  it("kill -9 of the leader's node: a leader again within age + tick + the cluster's reconfiguration, and no campaign ends", async () => {
    const nodes = participants('node-kill');
    const leader = await leaderOf(nodes);
    const lost = nodes.indexOf(leader) + 1;
    const survivor = lost === 1 ? 2 : 1;
    const probe = poolOn(survivor);
    await probe.query('CREATE TABLE IF NOT EXISTS probe (id INT PRIMARY KEY, n INT NOT NULL)');
    await probe.query('REPLACE INTO probe VALUES (1, 0)');
    const killedAt = sharedNow();
    await cluster.kill(lost);
    const elected = nextElected(nodes, killedAt, leader, 30_000);
    // The cluster's own reconfiguration: until a write through a surviving node commits again.
    for (;;) {
      try {
        await probe.query('UPDATE probe SET n = n + 1 WHERE id = 1');
        break;
      } catch {
        await delay(20);
      }
    }
    const reconfiguration = sharedNow() - killedAt;
    const { report } = await elected;
    const failover = report.mono - killedAt;
    console.log(
      `# Galera: kill -9 of node ${lost} → writes again after ${reconfiguration.toFixed(0)} ms, a leader after ${failover.toFixed(0)} ms (age ${AGE}, tick ${TICK})`,
    );
    assert.ok(
      failover <= AGE + TICK + reconfiguration + SLACK,
      `elected ${failover.toFixed(0)} ms after the kill; the cluster took ${reconfiguration.toFixed(0)} ms`,
    );
    await cluster.restart(lost);
    // The participant on the lost node campaigned on: once its node is back, hand-overs reach it.
    for (let round = 0; round < 10 && !leader.leading; round++) {
      const current = await leaderOf(nodes);
      const since = sharedNow();
      current.send('resign');
      await nextElected(nodes, since, current);
    }
    assert.equal(leader.leading, true, `the participant on node ${lost} leads again`);
    checkSafeAndLive(nodes);
    await Promise.all(nodes.map((node) => node.kill('SIGKILL')));
  });
});
