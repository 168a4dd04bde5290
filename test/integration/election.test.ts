/**
 * MysqlLeader against a real server, several participants in one process:
 * first election, one leader under churn, hand-over, terms, acquire/close
 * semantics and the observed leader. Timing: age 2000 ms, tick 500 ms.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import { MysqlLeader, createMysqlLeaderTable } from '../../src/index.js';
import { useDatabase } from '../support/database.js';
import { electionsOn } from '../support/leaders.js';

const AGE = 2000;
const TICK = 500;
const db = await useDatabase('election');
await createMysqlLeaderTable(db.pool);

const { group: participants } = electionsOn(db, { age: AGE, tick: TICK }, 3);

function campaign(leader: MysqlLeader): void {
  // The campaign ends with close() (resolves) in every test; a rejection would be a failure.
  leader.acquire().catch((error: unknown) => assert.fail(`acquire() rejected: ${String(error)}`));
}

async function leaderAmong(group: MysqlLeader[], timeoutMs = AGE + TICK + 1000): Promise<MysqlLeader> {
  const start = performance.now();
  for (;;) {
    const leading = group.filter((leader) => leader.leading);
    assert.ok(leading.length <= 1, 'two leaders at once');
    if (leading[0]) return leading[0];
    if (performance.now() - start > timeoutMs) assert.fail(`no leader within ${timeoutMs} ms`);
    await delay(2);
  }
}

describe('election', () => {
  it('elects the first participant in under 200 ms, without waiting a tick', async (t) => {
    const [leader] = participants(1);
    assert.ok(leader);
    const start = performance.now();
    campaign(leader);
    const [{ term }] = (await once(leader, 'elected')) as [{ term: number }];
    const elapsed = performance.now() - start;
    t.diagnostic(`first election: ${elapsed.toFixed(1)} ms`);
    assert.ok(elapsed < 200, `took ${elapsed} ms`);
    assert.equal(term, 1);
    assert.equal(await leader.isLeader(), true);
    assert.equal(leader.term, 1);
    assert.equal(leader.signal.aborted, false);
    await leader.close();
  });

  it('keeps one leader among five participants under churn, with the term growing by one per tenure', async () => {
    const group = participants(5);
    const terms: number[] = [];
    for (const leader of group) {
      leader.on('elected', ({ term }) => terms.push(term));
      campaign(leader);
    }
    let samples = 0;
    let violations = 0;
    const sampler = setInterval(() => {
      samples++;
      if (group.filter((leader) => leader.leading).length > 1) violations++;
    }, 1);
    try {
      for (let round = 0; round < 12; round++) {
        const leader = await leaderAmong(group);
        await delay(50 + Math.random() * 150);
        await leader.resign();
      }
    } finally {
      clearInterval(sampler);
    }
    assert.equal(violations, 0, `${violations} of ${samples} samples saw two leaders`);
    assert.ok(samples > 100);
    assert.deepEqual(
      terms,
      Array.from({ length: terms.length }, (_, i) => i + 1),
    );
    assert.ok(terms.length >= 12);
    await Promise.all(group.map((leader) => leader.close()));
  });

  for (const handoverLock of [true, false]) {
    it(`hands over after close() within a tick (${handoverLock ? 'woken by the hand-over lock' : 'polling'})`, async (t) => {
      // A longer tick than elsewhere, so that "woken at once" and "at the next look" stay far apart on a busy machine.
      const tick = 1500;
      const group = participants(4, { handoverLock, age: 4 * tick, tick });
      for (const leader of group) campaign(leader);
      const times: number[] = [];
      let alive = group;
      for (let round = 0; round < 3; round++) {
        const leader = await leaderAmong(alive, 6 * tick);
        await delay(tick / 2 + Math.random() * tick);
        alive = alive.filter((other) => other !== leader);
        const next = Promise.race(alive.map(async (other) => (await once(other, 'elected'), performance.now())));
        const start = performance.now();
        await leader.close();
        times.push((await next) - start);
      }
      t.diagnostic(`hand-over after close() (${handoverLock ? 'lock' : 'polling'}): ${times.map((ms) => ms.toFixed(1)).join(', ')} ms`);
      // With the lock, a few round trips; polling, the next look at the row (up to a tick).
      const bound = handoverLock ? tick / 5 : tick + 300;
      for (const ms of times) assert.ok(ms < bound, `hand-over took ${ms} ms`);
      await Promise.all(alive.map((leader) => leader.close()));
    });
  }

  it('acquire() rejects with the reason of its signal, releases the lease, and can campaign again', async () => {
    const [a, b] = participants(2);
    assert.ok(a && b);
    const controller = new AbortController();
    const campaignA = a.acquire(controller.signal);
    await once(a, 'elected');
    campaign(b);
    const reason = new Error('deploying');
    const tookOver = once(b, 'elected');
    controller.abort(reason);
    await assert.rejects(campaignA, (error) => error === reason);
    assert.equal(a.leading, false);
    await tookOver;
    assert.equal(b.term, 2);
    await b.close();
    campaign(a);
    await once(a, 'elected');
    assert.equal(a.term, 3);
    await a.close();
  });

  it('close() resolves acquire(), is idempotent, and refuses further use', async () => {
    const [a] = participants(1);
    assert.ok(a);
    const campaignA = a.acquire();
    await once(a, 'elected');
    const signal = a.signal;
    const first = a.close();
    assert.equal(a.close(), first);
    await first;
    await campaignA;
    assert.equal(signal.aborted, true);
    assert.equal(a.leading, false);
    await assert.rejects(a.acquire(), { code: 'ERR_MYSQL_LEADER_CLOSED' });
    await assert.rejects(a.currentLeader(), { code: 'ERR_MYSQL_LEADER_CLOSED' });
  });

  it('currentLeader() reads the live leader from the row, and followers see each change of leader', async () => {
    const [a, b] = participants(2);
    assert.ok(a && b);
    assert.equal(await a.currentLeader(), undefined, 'no row yet');
    const seen: string[] = [];
    b.on('leaderChange', ({ leader }) => seen.push(leader ? `${leader.nodeName}#${leader.term}` : 'none'));
    campaign(a);
    await once(a, 'elected');
    campaign(b);
    const current = await b.currentLeader();
    assert.equal(current?.nodeName, 'n0');
    assert.equal(current?.term, 1);
    assert.ok((current?.expiresInMs ?? 0) > AGE - TICK && (current?.expiresInMs ?? 0) <= AGE);
    await delay(50);
    const tookOver = once(b, 'elected');
    await a.close();
    await tookOver;
    assert.deepEqual(
      seen.filter((entry) => entry !== 'none'),
      ['n0#1', 'n1#2'],
    );
    await b.close();
    assert.equal(await new MysqlLeader(db.pool, b.leaderName).currentLeader(), undefined, 'released on close');
  });
});
