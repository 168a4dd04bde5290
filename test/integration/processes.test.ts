/**
 * Real processes, real signals: fail-over after SIGKILL, a leader paused
 * with SIGSTOP for longer than its lease, and wall clocks skewed by an hour.
 * Timing: age 2000 ms, tick 500 ms, on loopback.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { createMysqlLeaderTable } from '../../src/index.js';
import { useDatabase } from '../support/database.js';
import { assertOneLeaderAtATime, sharedNow, startParticipants, type Participant } from '../support/processes.js';

const AGE = 2000;
const TICK = 500;
const db = await useDatabase('processes');
await createMysqlLeaderTable(db.pool);

let elections = 0;
function configs(count: number, extra: { skew?: string }[] = []) {
  const leaderName = `election-${++elections}`;
  return Array.from({ length: count }, (_, i) => ({ url: db.url, leaderName, nodeName: `p${i}`, age: AGE, tick: TICK, ...extra[i] }));
}

async function leaderOf(participants: Participant[], timeoutMs: number): Promise<Participant> {
  const deadline = sharedNow() + timeoutMs;
  while (sharedNow() < deadline) {
    const leaders = participants.filter((p) => p.leading);
    if (leaders.length === 1 && leaders[0]) return leaders[0];
    await delay(10);
  }
  throw new Error('no single leader');
}

async function closeAll(participants: Participant[]): Promise<void> {
  for (const p of participants) p.send('close');
  await Promise.all(participants.map((p) => p.exited));
}

describe('processes', () => {
  it('fails over within age + tick after the leading process is killed with SIGKILL', async (t) => {
    const participants = await startParticipants(configs(3));
    const leader = await leaderOf(participants, 5_000);
    await delay(TICK * 2);
    const killedAt = sharedNow();
    await leader.kill('SIGKILL');
    const others = participants.filter((p) => p !== leader);
    const elected = await Promise.race(
      others.map((p) => p.waitFor((r) => r.event === 'elected' && r.mono > killedAt, AGE + TICK + 1_000, 'elected after the kill')),
    );
    const failover = elected.mono - killedAt;
    t.diagnostic(`fail-over after SIGKILL: ${failover.toFixed(0)} ms (age ${AGE}, tick ${TICK})`);
    assert.ok(failover <= AGE + TICK, `fail-over took ${failover} ms`);
    assertOneLeaderAtATime(participants);
    await closeAll(others);
  });

  it('a leader paused with SIGSTOP for longer than age answers false on its first check after SIGCONT; its tenure signal has aborted', async () => {
    const participants = await startParticipants(configs(2));
    const leader = await leaderOf(participants, 5_000);
    const other = participants.find((p) => p !== leader) as Participant;
    const stoppedAt = sharedNow();
    await leader.kill('SIGSTOP');
    await other.waitFor((r) => r.event === 'elected', AGE + TICK + 1_000, 'take-over while the leader is stopped');
    await delay(500);
    await leader.kill('SIGCONT');
    const resumed = await leader.waitFor((r) => r.event === 'resumed' && r.mono > stoppedAt, 5_000, 'resumed');
    assert.equal(resumed['leading'], false, 'first check after SIGCONT');
    assert.equal(resumed['tenureAborted'], true);
    const revoked = await leader.waitFor((r) => r.event === 'revoked', 5_000, 'revoked');
    assert.equal(revoked.reason, 'expired');
    await delay(TICK * 2);
    assertOneLeaderAtATime(participants);
    assert.equal(leader.leading, false);
    await closeAll(participants);
  });

  it('wall clocks skewed by an hour either way change nothing: one leader at a time, fail-over and hand-over as usual', async (t) => {
    const participants = await startParticipants(configs(3, [{ skew: '+1h' }, { skew: '-1h' }, {}]));
    const [ahead, behind, plain] = participants as [Participant, Participant, Participant];
    const wall = (p: Participant): number => (p.reports[0]?.wall ?? 0) - (p.reports[0]?.mono ?? 0);
    assert.ok(Math.abs(wall(ahead) - wall(plain) - 3_600_000) < 5_000, 'the first participant runs an hour ahead');
    assert.ok(Math.abs(wall(plain) - wall(behind) - 3_600_000) < 5_000, 'the second runs an hour behind');
    const handovers: number[] = [];
    const failovers: number[] = [];
    let alive = [...participants];
    for (let round = 0; round < 4; round++) {
      const leader = await leaderOf(alive, AGE + TICK + 2_000);
      await delay(TICK);
      const before = sharedNow();
      if (round % 2 === 0) leader.send('resign');
      else {
        await leader.kill('SIGKILL');
        alive = alive.filter((p) => p !== leader);
      }
      const next = await Promise.race(
        alive.filter((p) => p !== leader).map((p) => p.waitFor((r) => r.event === 'elected' && r.mono > before, AGE + TICK + 1_000)),
      );
      (round % 2 === 0 ? handovers : failovers).push(next.mono - before);
      if (alive.length === 1) break;
    }
    t.diagnostic(
      `skewed clocks: hand-overs ${handovers.map((ms) => ms.toFixed(0)).join(', ')} ms; fail-overs ${failovers.map((ms) => ms.toFixed(0)).join(', ')} ms`,
    );
    for (const ms of handovers) assert.ok(ms < TICK, `hand-over took ${ms} ms`);
    for (const ms of failovers) assert.ok(ms <= AGE + TICK, `fail-over took ${ms} ms`);
    assertOneLeaderAtATime(participants);
    await closeAll(alive);
  });
});
