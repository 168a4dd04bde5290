/**
 * The hand-over lock in fake time: a release wakes a waiting follower at
 * once, a crashed leader's freed lock neither makes followers spin nor lets
 * them in before the lease ends, and the row alone decides who leads.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { FakeClock } from '../support/fake-clock.js';
import { MemoryDatabase } from '../support/memory-store.js';
import { AGE, TICK, closeAll, participant } from '../support/participants.js';

afterEach(closeAll);

function cluster(size: number) {
  const clock = new FakeClock();
  const db = new MemoryDatabase(clock);
  const nodes = Array.from({ length: size }, (_, i) => participant(clock, db, `n${i}`, { handoverLock: true }));
  return { clock, db, nodes };
}

describe('hand-over lock', () => {
  it('the leader holds the lock and the followers wait on it', async () => {
    const { clock, db, nodes } = cluster(3);
    for (const node of nodes) {
      node.campaign();
      await clock.advance(0);
    }
    await clock.advance(TICK / 2);
    assert.equal(db.lockHolder, nodes[0]?.store.handoverLock);
    assert.equal(db.lockWaiters.length, 2);
  });

  for (const how of ['resign', 'close'] as const) {
    it(`${how}() wakes a follower at once: it takes over in the same instant, not a tick later`, async () => {
      const { clock, db, nodes } = cluster(3);
      const [leader, ...followers] = nodes;
      if (!leader) throw new Error('no leader');
      for (const node of nodes) {
        node.campaign();
        await clock.advance(0);
      }
      await clock.advance(TICK / 2);
      const at = clock.now();
      await (how === 'resign' ? leader.elector.resign() : leader.elector.close());
      await clock.advance(0);
      const next = followers.find((node) => node.elector.leading);
      assert.ok(next, 'a follower took over without any time passing');
      assert.deepEqual(next.seen, [{ type: 'elected', at, term: 2 }]);
      assert.equal(db.lockHolder, next.store.handoverLock, 'the new leader holds the lock');
      // The others wait on it again (a resigner too: it follows the new leader).
      assert.equal(db.lockWaiters.length, how === 'resign' ? 2 : 1);
    });
  }

  it("resign() hands over at once in every phase of the leader's tick: renewal, lock re-check, pause", async () => {
    const DELAY = 10; // each statement answers 10 ms after it is sent, so each phase lasts a while.
    const BOUND = 8 * DELAY; // release, lock freed, follower reads and claims: a few statements, never a tick.
    for (let offset = 0; offset < TICK; offset += 5) {
      const { clock, db, nodes } = cluster(2);
      const [leader, follower] = nodes;
      if (!leader || !follower) throw new Error('no nodes');
      for (const { store } of nodes) {
        store.replyDelay = DELAY;
        if (store.handoverLock) store.handoverLock.replyDelay = DELAY;
      }
      leader.campaign();
      await clock.advance(0);
      follower.campaign();
      await clock.advance(3 * TICK);
      // The phase: `offset` ms after the leader sent a renewal.
      const renewals = (): number[] => db.log.filter((entry) => entry.node === 'n0' && entry.op === 'renew').map((entry) => entry.at);
      const last = renewals().at(-1) as number;
      await clock.advance(last + TICK + offset - clock.now());
      assert.equal(renewals().at(-1), last + TICK, 'the next renewal was sent a tick after the last one');
      const at = clock.now();
      void leader.elector.resign();
      await clock.until(() => follower.elector.leading, 2 * AGE);
      const took = clock.now() - at;
      assert.ok(took <= BOUND, `a resign() ${offset} ms after the renewal was sent took ${took} ms to hand over (bound ${BOUND})`);
    }
  });

  it('a crashed leader frees the lock: followers do not spin, and take over a full age after the last version, close to the lease end', async () => {
    const { clock, db, nodes } = cluster(4);
    const [leader, ...followers] = nodes;
    if (!leader) throw new Error('no leader');
    for (const node of nodes) {
      node.campaign();
      await clock.advance(0);
    }
    await clock.advance(TICK);
    // The leader's process dies: its connections close, its lease lives on.
    leader.store.hang = true;
    db.freeLock();
    const expiresAt = db.row?.expiresAt as number;
    const readsBefore = db.log.filter((entry) => entry.op === 'read').length;
    await clock.advance(expiresAt - clock.now() - 1);
    assert.equal(
      followers.some((node) => node.elector.leading),
      false,
      'nobody leads before the lease ends',
    );
    const reads = db.log.filter((entry) => entry.op === 'read').length - readsBefore;
    // With nobody holding the lock, a follower's wait on it ends at once and
    // the next pause is on a timer: at most two reads per tick, never a spin.
    assert.ok(reads <= followers.length * 2 * (AGE / (0.8 * TICK) + 1), `${reads} reads while the lease ran out`);
    // They saw the last version within 3 × 8 ms of its write (see AFTER_RENEWAL in the elector), and wait a full age from then.
    await clock.until(() => followers.some((node) => node.elector.leading), 26);
    assert.equal(db.row?.term, 2);
  });

  it('a follower woken while the leader still holds a live lease does not take over', async () => {
    const { clock, db, nodes } = cluster(2);
    const [leader, follower] = nodes;
    if (!leader || !follower) throw new Error('no nodes');
    leader.campaign();
    await clock.advance(0);
    follower.campaign();
    await clock.advance(TICK / 2);
    db.freeLock(); // the leader's lock connection drops; the leader itself is fine.
    await clock.advance(3 * AGE);
    assert.equal(leader.elector.term, 1);
    assert.equal(follower.elector.leading, false);
    assert.deepEqual(db.writesBy('n1'), []);
    assert.equal(db.lockHolder, leader.store.handoverLock, 'the leader took its lock back at a renewal');
  });
});
