/**
 * The node-cron 4 run coordinator against the real node-cron package and a
 * real server: two replicas fire the same per-second task; each slot runs
 * once, on the leader, across a hand-over; a slot ahead of the database
 * clock waits until it is due; a follower answers no without a statement.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { RowDataPacket } from 'mysql2/promise';
import cron from 'node-cron';
import { MysqlLeader, createMysqlLeaderFiresTable, createMysqlLeaderTable, nodeCronCoordinator } from '../../src/index.js';
import { useDatabase } from '../support/database.js';
import { electionsOn } from '../support/leaders.js';
import { dbNow } from '../support/slots.js';

const db = await useDatabase('node_cron');
await createMysqlLeaderTable(db.pool);
await createMysqlLeaderFiresTable(db.pool);
const elections = electionsOn(db, { age: 2000, tick: 500 }, 4);

async function until(predicate: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!(await predicate())) {
    if (performance.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await delay(50);
  }
}

interface FireRow {
  slot: string;
  node_name: string;
  outcome: string;
  late_ms: number;
}

async function fires(leaderName: string, job: string): Promise<FireRow[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>(
    "SELECT DATE_FORMAT(slot, '%Y-%m-%dT%H:%i:%s.000Z') AS slot, node_name, outcome, TIMESTAMPDIFF(MICROSECOND, slot, started_at) / 1000 AS late_ms " +
      'FROM leader_election_fires WHERE leader_name = ? AND job_name = ? ORDER BY slot',
    [leaderName, job],
  );
  return rows as FireRow[];
}

/** A leader with a pool of its own, for the coordinator's statements. */
function replica(leaderName: string, nodeName: string): { leader: MysqlLeader; pool: ReturnType<typeof db.newPool> } {
  const pool = db.newPool({ connectionLimit: 4 });
  const leader = new MysqlLeader(pool, leaderName, { nodeName, age: 2000, tick: 500 });
  elections.track(leader);
  return { leader, pool };
}

describe('node-cron coordinator', () => {
  it('two replicas fire the same per-second node-cron task: each slot runs once, on the leader, across a hand-over', async () => {
    const leaderName = elections.name('nc');
    const runs: { node: string; slot: string; leading: boolean }[] = [];
    const replicas = ['a', 'b'].map((node) => replica(leaderName, node));
    const tasks = replicas.map(({ leader, pool }) =>
      cron.schedule('* * * * * *', ({ date }) => void runs.push({ node: leader.nodeName, slot: date.toISOString(), leading: leader.leading }), {
        name: 'nc-task',
        distributed: true,
        runCoordinator: nodeCronCoordinator(leader, { db: pool }),
      }),
    );
    for (const { leader } of replicas) void leader.acquire();
    await until(() => runs.length >= 3, 15_000, 'three runs');
    const first = replicas.find(({ leader }) => leader.leading)?.leader;
    assert.ok(first);
    await first.resign();
    await until(() => runs.filter((run) => run.node !== first.nodeName).length >= 3, 15_000, 'three runs on the other replica');
    for (const task of tasks) await task.stop();
    await delay(200);
    await Promise.all(replicas.map(({ leader }) => leader.close()));
    const slots = runs.map((run) => run.slot);
    assert.equal(new Set(slots).size, slots.length, `no slot ran twice: ${JSON.stringify(runs)}`);
    assert.ok(
      runs.every((run) => run.leading),
      'only the leader ran',
    );
    assert.deepEqual(new Set(runs.map((run) => run.node)), new Set(['a', 'b']), 'both led in turn');
    const recorded = await fires(leaderName, 'nc-task');
    assert.deepEqual(
      recorded.map((row) => [row.slot, row.node_name]),
      [...runs].sort((x, y) => x.slot.localeCompare(y.slot)).map((run) => [run.slot, run.node]),
      'a row for each run, by its node',
    );
    assert.ok(
      recorded.every((row) => row.outcome === 'done' && row.late_ms >= 0),
      JSON.stringify(recorded),
    );
  });

  it('a slot ahead of the database clock is claimed once it is due, within the TTL; beyond it, or on a follower, the answer is no', async () => {
    const leaderName = elections.name('nc-early');
    const { leader, pool } = replica(leaderName, 'ahead');
    const follower = replica(leaderName, 'follower');
    const coordinator = nodeCronCoordinator(leader, { db: pool });
    void leader.acquire();
    await until(() => leader.leading, 10_000, 'elected');
    void follower.leader.acquire();
    const now = await dbNow(db.pool);
    const soon = new Date(Math.ceil(now.getTime() / 1000) * 1000 + 1000);
    assert.equal(await nodeCronCoordinator(follower.leader, { db: follower.pool }).shouldRun(`job:${soon.toISOString()}`, 5000), false, 'a follower');
    assert.equal(await coordinator.shouldRun(`job:${new Date(soon.getTime() + 10_000).toISOString()}`, 2000), false, 'beyond the TTL');
    assert.equal(await coordinator.shouldRun(`job:${soon.toISOString()}`, 5000), true);
    assert.ok((await dbNow(db.pool)).getTime() >= soon.getTime(), 'not before the slot was due by the database clock');
    assert.equal(await coordinator.shouldRun(`job:${soon.toISOString()}`, 5000), false, 'claimed once, ever');
    await coordinator.onComplete(`job:${soon.toISOString()}`);
    await assert.rejects(coordinator.shouldRun('no-time-here', 1000), /NAME:ISO-TIME/);
    await Promise.all([leader.close(), follower.leader.close()]);
    const recorded = await fires(leaderName, 'job');
    assert.deepEqual(
      recorded.map((row) => [row.slot, row.node_name, row.outcome]),
      [[soon.toISOString(), 'ahead', 'done']],
    );
    assert.ok((recorded[0]?.late_ms ?? -1) >= 0);
  });
});
