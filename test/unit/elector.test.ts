/**
 * The election state machine against an in-memory database whose clock is
 * a fake clock: every timing rule of the protocol, to the millisecond.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { abortOnError } from '../../src/on-error.js';
import { DatabaseError, LeadershipEndedError, QueryTimeoutError } from '../../src/errors.js';
import { TERM_JUMP, firstRenewalEarly } from '../../src/elector.js';
import { FakeClock } from '../support/fake-clock.js';
import { MemoryDatabase } from '../support/memory-store.js';

import { AGE, MARGIN, TICK, closeAll, firstRenewalAt, participant } from '../support/participants.js';

// Jitter off: every timing below is exact (the jitter has tests of its own at the end).
beforeEach(() => void mock.method(Math, 'random', () => 0));
afterEach(async () => {
  await closeAll();
  mock.restoreAll();
});

describe('elector: election and renewal', () => {
  it('elects the first participant at once, without waiting a tick', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    await clock.advance(0);
    assert.equal(a.elector.leading, true);
    assert.equal(a.elector.term, 1);
    assert.deepEqual(a.seen, [{ type: 'elected', at: 1000, term: 1 }]);
  });

  it('renews once per tick and keeps the same term while it leads', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    const renewed: number[] = [];
    a.elector.on('renewed', ({ term, latencyMs }) => renewed.push(term + latencyMs));
    a.campaign();
    await clock.advance(10 * AGE);
    assert.equal(a.elector.term, 1);
    // The first renewal comes a little early, the next ones a tick apart.
    const first = firstRenewalAt('a', 1, 1000);
    assert.ok(first > 1000 + TICK * 0.8 && first <= 1000 + TICK, `first renewal at ${first}`);
    // The last renewal was sent a little before now: a full lease minus the margin from then.
    assert.equal(a.elector.remainingMs, AGE - MARGIN - (1000 + TICK - first));
    assert.deepEqual(
      renewed,
      Array.from({ length: (10 * AGE) / TICK }, () => 1),
    );
    const renewals = db.writesBy('a').filter((entry) => entry.op === 'renew');
    assert.equal(renewals.length, (10 * AGE) / TICK);
    for (const [i, renewal] of renewals.entries()) assert.equal(renewal.at, first + i * TICK);
  });

  it('followers only read while a live leader exists', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    await clock.advance(0);
    const followers = ['b', 'c', 'd'].map((name) => participant(clock, db, name));
    for (const follower of followers) follower.campaign();
    await clock.advance(20 * TICK);
    for (const name of ['b', 'c', 'd']) assert.deepEqual(db.writesBy(name), [], `${name} wrote`);
    const reads = db.log.filter((entry) => entry.node === 'b' && entry.op === 'read').length;
    // One read per tick, minus up to 20 % jitter.
    assert.ok(reads >= 20 && reads <= 26, `b read ${reads} times in 20 ticks`);
  });

  it('grows the term by one per tenure', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    const b = participant(clock, db, 'b');
    a.campaign();
    await clock.advance(0);
    b.campaign();
    const terms: number[] = [];
    for (let i = 0; i < 6; i++) {
      const current = a.elector.leading ? a : b;
      terms.push(current.elector.term as number);
      await current.elector.resign();
      const other = current === a ? b : a;
      await clock.until(() => other.elector.leading);
    }
    assert.deepEqual(terms, [1, 2, 3, 4, 5, 6]);
  });
});

describe('elector: deadlines', () => {
  it('a follower takes over a full age after it first saw the last version, within a few ms of the lease end, not a tick later', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    const b = participant(clock, db, 'b');
    a.campaign();
    await clock.advance(0);
    b.campaign();
    await clock.advance(3 * TICK + 10);
    a.store.hang = true; // a is cut off from the database.
    const lastRenewal = db.writesBy('a').at(-1)?.at as number;
    await clock.until(() => b.elector.leading);
    const firstSeen = db.log.find((entry) => entry.node === 'b' && entry.op === 'read' && entry.at > lastRenewal)?.at as number;
    const expiresAt = lastRenewal + AGE;
    assert.ok(firstSeen <= lastRenewal + 24, `b read the last version ${firstSeen - lastRenewal} ms after it was written`);
    assert.ok(clock.now() >= firstSeen + AGE && clock.now() <= firstSeen + AGE + 2, `b took over at ${clock.now()}, first saw the version at ${firstSeen}`);
    assert.ok(clock.now() <= expiresAt + 26, `b took over at ${clock.now()}, lease ended at ${expiresAt}`);
    assert.equal(b.elector.term, 2);
  });

  it('steps down by timer at sent + age - margin while a renewal hangs', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    // A query limit longer than the lease: only the step-down timer can end the tenure.
    const a = participant(clock, db, 'a', { queryTimeout: 10 * AGE });
    a.campaign();
    const first = firstRenewalAt('a', 1, 1000);
    await clock.advance(first - 1000); // first renewal sent.
    a.store.hang = true;
    const deadline = first + AGE - MARGIN;
    await clock.advance(deadline - clock.now() - 1);
    assert.equal(a.elector.leading, true);
    const signal = a.elector.signal;
    await clock.advance(1);
    assert.equal(a.elector.leading, false);
    assert.equal(signal.aborted, true);
    assert.ok(signal.reason instanceof LeadershipEndedError);
    assert.equal(signal.reason.reason, 'expired');
    assert.deepEqual(a.seen.at(-1), { type: 'revoked', at: deadline, term: 1, reason: 'expired' });
    // The database still counts the lease as a's until later: belief ends first.
    assert.ok((db.row?.expiresAt as number) - deadline >= MARGIN);
  });

  it('a paused process answers false on its first check after waking, before any timer runs', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    await clock.advance(0);
    const signal = a.elector.signal;
    clock.jump(AGE + 1); // SIGSTOP for longer than the lease, then SIGCONT.
    assert.equal(await a.elector.isLeader(), false);
    assert.equal(a.elector.term, undefined);
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as LeadershipEndedError).reason, 'expired');
  });

  it('a claim whose reply arrives after its deadline confers nothing; the lease is released and claimed anew', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a', { queryTimeout: 2 * AGE });
    // The claim runs at once (the lease ends at 2000), its reply comes back at
    // 1960, after the deadline computed from its send time (1000 + 1000 - 50).
    a.store.replyDelay = AGE - MARGIN + 10;
    a.campaign();
    await clock.advance(AGE - MARGIN + 11);
    assert.equal(a.elector.leading, false);
    assert.deepEqual(a.seen, []);
    a.store.replyDelay = 0;
    await clock.until(() => a.elector.leading);
    assert.equal(a.elector.term, 2);
    const ops = db.writesBy('a').map((entry) => `${entry.op}:${entry.ok}`);
    assert.deepEqual(ops, ['claim:true', 'release:true', 'claim:true']);
  });

  it('a renewal in doubt ends the tenure at once; the row is re-read, released and won under a new term', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    const first = firstRenewalAt('a', 1, 1000);
    await clock.advance(first - 1000 - 1);
    a.store.failNext = new DatabaseError('connection lost');
    await clock.advance(1);
    // Stepped down at the failure; read, released and claimed again at once.
    assert.deepEqual(a.seen, [
      { type: 'elected', at: 1000, term: 1 },
      { type: 'revoked', at: first, term: 1, reason: 'error' },
      { type: 'elected', at: first, term: 2 },
    ]);
    assert.equal(a.errors.length, 1);
    assert.deepEqual(
      db
        .writesBy('a')
        .slice(-2)
        .map((entry) => entry.op),
      ['release', 'claim'],
    );
  });

  it('a renewal that times out ends the tenure when its limit (capped by the lease) passes', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a', { queryTimeout: 100 });
    a.campaign();
    await clock.advance(firstRenewalAt('a', 1, 1000) - 1000);
    a.store.hang = true;
    await clock.advance(TICK + 99);
    assert.equal(a.elector.leading, true);
    await clock.advance(1);
    assert.equal(a.elector.leading, false);
    assert.ok(a.errors.at(-1) instanceof QueryTimeoutError);
    assert.equal(a.seen.at(-1)?.reason, 'error');
    // The abandoned statement's signal stays aborted; the next statements get
    // signals of their own, so the node reads, releases and wins again.
    a.store.hang = false;
    await clock.until(() => a.elector.leading);
    assert.equal(a.elector.term, 2);
  });

  it('each statement finds its signal as the last one left it: no listener, not aborted', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    const b = participant(clock, db, 'b');
    const signals = new Set<AbortSignal>();
    for (const { store } of [a, b]) {
      for (const op of ['read', 'claim', 'renew', 'release'] as const) {
        const run = store[op].bind(store) as (...args: unknown[]) => Promise<unknown>;
        store[op] = ((...args: unknown[]) => {
          const signal = args.at(-1) as AbortSignal;
          signals.add(signal);
          // Its own listener is the only one (see newStatementController in elector.ts).
          assert.equal(getEventListeners(signal, 'abort').length, 1, `${op}: a listener of an earlier statement is still there`);
          assert.equal(signal.aborted, false);
          return run(...args);
        }) as never;
      }
    }
    a.campaign();
    b.campaign();
    await clock.advance(10 * AGE);
    await a.elector.resign();
    await clock.advance(10 * AGE);
    assert.ok(db.log.length > 80, `${db.log.length} statements`);
    assert.ok(signals.size <= 4, `${signals.size} signals for ${db.log.length} statements: one per statement in flight at once`);
  });

  it('a lost lease (taken while this node was away) ends the tenure with reason lost', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    await clock.advance(0);
    // Someone forces the lease free and another node takes it between two renewals.
    const row = db.row as NonNullable<MemoryDatabase['row']>;
    db.row = { ...row, nodeName: 'intruder', term: 2, expiresAt: clock.now() + AGE };
    await clock.advance(TICK);
    assert.equal(a.elector.leading, false);
    assert.equal(a.seen.at(-1)?.reason, 'lost');
  });
});

describe('elector: no database clock decides who may claim', () => {
  for (const [how, offset] of [
    ['stepped an hour forward', 3_600_000],
    ['stepped an hour back', -3_600_000],
  ] as const) {
    it(`a database clock ${how} while a leader renews lets no follower claim, and costs the leader nothing`, async () => {
      const clock = new FakeClock();
      const db = new MemoryDatabase(clock);
      const a = participant(clock, db, 'a');
      a.campaign();
      await clock.advance(0);
      const followers = ['b', 'c'].map((name) => participant(clock, db, name));
      for (const follower of followers) follower.campaign();
      await clock.advance(3 * TICK);
      db.clockOffset = offset; // every lease now looks lapsed (or an hour long) by the database clock.
      await clock.advance(10 * AGE);
      assert.equal(a.elector.term, 1, 'a led throughout');
      assert.deepEqual(a.seen, [{ type: 'elected', at: 1000, term: 1 }]);
      for (const follower of followers) assert.deepEqual(db.writesBy(follower.store.node), [], `${follower.store.node} wrote`);
    });
  }

  it('a follower claims a lease nobody renews only a full age after it first saw its version, whatever the database clock says', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    await clock.advance(TICK);
    a.store.hang = true; // a is cut off; its lease, by the database clock, ends in under a second.
    db.clockOffset = 3_600_000; // and the database clock jumps an hour: the lease has "lapsed" already.
    const b = participant(clock, db, 'b');
    b.campaign();
    await clock.advance(0);
    const firstSeen = clock.now();
    await clock.advance(AGE - 1);
    assert.equal(b.elector.leading, false, 'b waits a full age of its own clock');
    await clock.until(() => b.elector.leading, 2);
    assert.equal(b.elector.term, 2);
    assert.ok(clock.now() >= firstSeen + AGE);
  });

  it('a claim whose outcome is unknown and that lands later is released at once, not left to lapse', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    await clock.advance(0);
    await a.elector.close();
    const b = participant(clock, db, 'b', { queryTimeout: 100 });
    b.store.replyDelay = 150; // the claim runs at once, its reply comes after its time limit.
    b.store.delayOnly = 'claim';
    b.campaign();
    await clock.advance(99);
    assert.equal(db.row?.nodeName, 'b', 'the claim landed');
    assert.equal(db.row?.term, 2);
    assert.equal(b.elector.leading, false, 'but b has not learnt it');
    b.store.replyDelay = 0;
    await clock.advance(1); // the claim's time limit passes
    assert.equal(b.elector.leading, true);
    assert.equal(b.elector.term, 3, 'b released term 2 at its next read and claimed anew');
    assert.deepEqual(
      db.writesBy('b').map((entry) => entry.op),
      ['claim', 'release', 'claim'],
    );
  });
});

describe('elector: a coordinator that fails over', () => {
  /** a leads on the old primary; b watches. Returns the row as the new primary has it (the last writes lost). */
  async function failover(lostWrites: boolean) {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    await clock.advance(0);
    const b = participant(clock, db, 'b');
    const c = participant(clock, db, 'c');
    b.campaign();
    c.campaign();
    await clock.advance(3 * AGE); // b and c have watched many versions of term 1.
    const before = { ...(db.row as NonNullable<MemoryDatabase['row']>) };
    c.store.hang = true; // c sees nothing of what the new primary will lose: its last read showed `before`.
    await a.elector.resign(); // released, and b claims term 2 on the old primary...
    await clock.until(() => b.elector.leading);
    assert.equal(b.elector.term, 2);
    // ... which dies now. The new primary has the row as it was before, or up to date.
    await clock.advance(TICK / 2);
    if (lostWrites) db.row = before;
    db.coordinator = 'new-primary';
    c.store.hang = false;
    return { clock, db, a, b, c, promotedAt: clock.now() };
  }

  it('after a failover that lost the last writes, nobody claims before a full age of watching the new primary, and the next term jumps above every term seen', async () => {
    const { clock, a, b, c, promotedAt } = await failover(true);
    const leader = () => [a, b, c].find((node) => node.elector.leading && node !== b);
    await clock.until(() => !b.elector.leading || leader() !== undefined, TICK); // b's next renewal finds term 1 in the row.
    assert.equal(leader(), undefined, 'nobody else was elected while b believed in term 2');
    assert.equal(b.seen.at(-1)?.reason, 'lost');
    await clock.until(() => [a, b, c].some((node) => node.elector.leading), 3 * AGE);
    const winner = [a, b, c].find((node) => node.elector.leading) as typeof a;
    assert.ok(clock.now() >= promotedAt + AGE, `elected ${clock.now() - promotedAt} ms after the promotion`);
    assert.ok((winner.elector.term as number) >= 2 + TERM_JUMP, `term ${winner.elector.term}: above term 2, issued by the old primary and lost`);
  });

  it('after a failover, even a lease released on the new primary is not claimed before a full age: a lost claim may still be believed', async () => {
    const { clock, db, a, b, c, promotedAt } = await failover(true);
    // The new primary has a's release of term 1 (written before the pause), not b's claim of term 2.
    const row = db.row as NonNullable<MemoryDatabase['row']>;
    row.renewedAt = db.next();
    row.expiresAt = row.renewedAt;
    await clock.until(() => [a, b, c].some((node) => node.elector.leading && (node.elector.term as number) > 2), 3 * AGE);
    assert.ok(clock.now() >= promotedAt + AGE, `elected ${clock.now() - promotedAt} ms after the promotion`);
    const bEnd = b.seen.find((event) => event.type === 'revoked' && event.term === 2)?.at;
    assert.ok(bEnd !== undefined && bEnd <= clock.now(), 'b stopped believing in term 2 first');
  });

  it('a leader first elected on an absent row, which never read the row since, notices a failover too: every read says who answered, row or no row', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    await clock.advance(0); // a read no row, created it, and leads: it never reads the row while it does.
    const b = participant(clock, db, 'b');
    b.campaign();
    await clock.advance(3 * AGE);
    const lastSeenByA = { ...(db.row as NonNullable<MemoryDatabase['row']>) };
    a.store.hang = true; // a is cut off from the old primary: its renewals fail, it steps down with term 1 in doubt...
    await clock.until(() => b.elector.leading, 3 * AGE);
    assert.equal(b.elector.term, 2); // ... and b claims term 2 there, which the new primary will not have.
    await clock.advance(TICK / 4);
    b.store.hang = true; // b still believes in term 2 until its lease runs out.
    db.row = lastSeenByA;
    db.coordinator = 'new-primary';
    a.store.hang = false;
    const promotedAt = clock.now();
    // a finds its own term 1 in doubt on the new primary: it releases it, and must not claim before a full age of watching there.
    await clock.until(() => a.elector.leading || !b.elector.leading, 3 * AGE);
    assert.equal(a.elector.leading && b.elector.leading, false, `a was elected ${clock.now() - promotedAt} ms after the promotion while b believed in term 2`);
    await clock.until(() => a.elector.leading, 3 * AGE);
    assert.ok(clock.now() >= promotedAt + AGE, `elected ${clock.now() - promotedAt} ms after the promotion`);
    assert.ok((a.elector.term as number) > TERM_JUMP, `term ${a.elector.term} jumped above every term of the old primary`);
  });

  it('a failover that lost nothing changes only the wait: the leader keeps its term, renewing on the new primary', async () => {
    const { clock, b } = await failover(false);
    await clock.advance(3 * AGE);
    assert.equal(b.elector.term, 2, 'b led on');
    assert.deepEqual(
      b.seen.filter((event) => event.type === 'revoked'),
      [],
    );
  });
});

describe('elector: resign, close and acquire', () => {
  it('resign() releases at once, another node takes over, and the resigner holds off for a tick', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    const b = participant(clock, db, 'b');
    a.campaign();
    await clock.advance(0);
    b.campaign();
    await clock.advance(TICK);
    const resignedAt = clock.now();
    await a.elector.resign();
    assert.equal(a.elector.leading, false);
    assert.equal(a.seen.at(-1)?.reason, 'resigned');
    assert.ok(db.row && db.row.expiresAt <= db.row.renewedAt && db.row.renewedAt - resignedAt < 1, 'released at once');
    await clock.until(() => b.elector.leading);
    assert.equal(db.writesBy('a').filter((entry) => entry.op === 'claim').length, 1);
  });

  it('close() ends the tenure, releases the lease, resolves acquire() and leaves no timer', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    await clock.advance(TICK);
    const closing = a.elector.close();
    assert.equal(a.elector.leading, false);
    await closing;
    await clock.advance(0);
    assert.deepEqual(a.outcome(), { value: undefined });
    assert.equal(a.seen.at(-1)?.reason, 'closed');
    assert.ok(db.row && db.row.expiresAt <= db.row.renewedAt, 'released');
    assert.equal(a.store.closed, true);
    assert.equal(clock.pending, 0);
    assert.equal(a.elector.close(), closing, 'close() is idempotent');
    await assert.rejects(a.elector.acquire(), { code: 'ERR_MYSQL_LEADER_CLOSED' });
    await assert.rejects(a.elector.resign(), { code: 'ERR_MYSQL_LEADER_CLOSED' });
  });

  it('close() during a read in flight releases nothing and returns as soon as the read answers, not a tick later', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    const b = participant(clock, db, 'b');
    a.campaign();
    await clock.advance(0);
    b.store.replyDelay = 10;
    b.campaign(); // b reads: a leads.
    let closed = false;
    void b.elector.close().then(() => (closed = true));
    await clock.advance(10); // the read's reply.
    assert.equal(closed, true);
    assert.equal(db.row?.nodeName, 'a');
  });

  it('close() during a claim in flight waits for it and releases what it won', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.store.replyDelay = 10;
    a.campaign();
    await clock.advance(12); // the read answered; the claim has run, its reply is on its way.
    const closing = a.elector.close();
    await clock.advance(20);
    await closing;
    assert.deepEqual(a.seen, []);
    assert.equal(db.row?.nodeName, 'a');
    assert.ok(db.row?.expiresAt <= clock.now(), 'the lease won during close() was released');
  });

  it('acquire() rejects with the signal reason when its signal aborts, after stepping down and releasing', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    const controller = new AbortController();
    a.campaign(controller.signal);
    await clock.advance(TICK);
    const reason = new Error('shutting down');
    controller.abort(reason);
    assert.equal(a.elector.leading, false);
    await clock.advance(0);
    assert.deepEqual(a.outcome(), { error: reason });
    assert.equal(a.seen.at(-1)?.reason, 'aborted');
    assert.ok(db.row && db.row.expiresAt <= db.row.renewedAt, 'released');
    // Not closed: it can campaign again.
    a.campaign();
    await clock.advance(0);
    assert.equal(a.elector.term, 2);
  });

  it('acquire() with an aborted signal rejects at once, and a second concurrent acquire() is refused', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    await assert.rejects(a.elector.acquire(AbortSignal.abort(new Error('already'))), /already/);
    assert.equal(db.log.length, 0);
    a.campaign();
    await assert.rejects(a.elector.acquire(), { code: 'ERR_MYSQL_LEADER_BUSY' });
  });

  it('abortOnError: the first database error steps down and rejects acquire() with it', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a', { onError: abortOnError });
    a.campaign();
    await clock.advance(firstRenewalAt('a', 1, 1000) - 1000 - 1);
    const failure = new DatabaseError('table dropped');
    a.store.failNext = failure;
    await clock.advance(1);
    assert.deepEqual(a.outcome(), { error: failure });
    assert.equal(a.seen.at(-1)?.reason, 'error');
    assert.deepEqual(a.errors, [failure]);
  });

  it('a time-out never stops the campaign by itself, even with abortOnError: it is emitted, and the campaign goes on', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a', { onError: abortOnError });
    a.campaign();
    await clock.advance(firstRenewalAt('a', 1, 1000) - 1000 - 1);
    a.store.hang = true; // the database stops answering.
    await clock.advance(3 * AGE);
    assert.equal(a.outcome(), undefined, 'acquire() still runs');
    assert.ok(a.errors.length >= 3 && a.errors.every((error) => error instanceof QueryTimeoutError));
    a.store.hang = false;
    await clock.until(() => a.elector.leading, 2 * AGE);
    assert.equal(a.elector.term, 2);
  });

  it('a transient error (a lost connection, a cluster node not ready) never stops the campaign, even with abortOnError', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a', { onError: abortOnError });
    a.campaign();
    await clock.advance(firstRenewalAt('a', 1, 1000) - 1000 - 1);
    a.store.failNext = new DatabaseError('renewing the lease failed: WSREP has not yet prepared node for application use', { transient: true });
    await clock.advance(1);
    assert.equal(a.outcome(), undefined, 'acquire() still runs');
    assert.equal(a.seen.at(-2)?.reason, 'error', 'the renewal in doubt ended the tenure');
    assert.equal(a.errors.length, 1);
    await clock.until(() => a.elector.leading, TICK);
  });

  it("a transient error at a campaign's first step (a Galera node not ready, a lost connection) does not stop it; a refused connection then does", async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const notReady = participant(clock, db, 'a', { onError: abortOnError });
    notReady.store.failNext = new DatabaseError('reading the election row failed: WSREP has not yet prepared node for application use', {
      transient: true,
      errno: 1047,
    });
    notReady.campaign();
    await clock.until(() => notReady.elector.leading, TICK);
    assert.equal(notReady.outcome(), undefined);
    const refused = participant(clock, new MemoryDatabase(clock), 'b', { onError: abortOnError });
    const error = new DatabaseError('reading the election row failed: connect ECONNREFUSED', { transient: true, sqlCode: 'ECONNREFUSED' });
    refused.store.failNext = error;
    refused.campaign();
    await clock.advance(0);
    assert.deepEqual(refused.outcome(), { error }, 'more likely a wrong address: onError judges it');
    // A connection lost at the first statement: the server was there.
    const lost = participant(clock, new MemoryDatabase(clock), 'c', { onError: abortOnError });
    lost.store.failNext = new DatabaseError('reading the election row failed: Connection lost', { transient: true, sqlCode: 'PROTOCOL_CONNECTION_LOST' });
    lost.campaign();
    await clock.until(() => lost.elector.leading, TICK);
    assert.equal(lost.outcome(), undefined);
  });

  it('continueOnError: keeps campaigning through errors and emits each one', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.store.failNext = new DatabaseError('first');
    a.campaign();
    await clock.advance(0);
    assert.equal(a.elector.leading, true, 'the first failure is retried at once');
    a.store.hang = true;
    await clock.advance(3 * AGE); // then a tick apart: one read per tick, roughly.
    const reads = db.log.filter((entry) => entry.op === 'read').length;
    assert.equal(a.elector.leading, false);
    a.store.hang = false;
    await clock.until(() => a.elector.leading, 2 * TICK);
    assert.ok(a.errors.length >= 2 && a.errors.length <= 3 + (3 * AGE) / (0.8 * TICK), `${a.errors.length} errors`);
    assert.ok(reads >= 1);
    assert.equal(a.outcome(), undefined);
  });

  it('an onError that returns an error of its own stops the campaign with that error', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const verdict = new Error('give up');
    const a = participant(clock, db, 'a', { onError: () => verdict });
    a.store.failNext = new DatabaseError('boom');
    a.campaign();
    await clock.advance(0);
    assert.deepEqual(a.outcome(), { error: verdict });
  });

  it('logs elections, step-downs and database errors to a pino-compatible logger, with the election and node', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const lines: string[] = [];
    const log = (level: string) => (fields: object, message: string) => void lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
    const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    const a = participant(clock, db, 'a', { logger });
    a.campaign();
    await clock.advance(firstRenewalAt('a', 1, 1000) - 1000 - 1);
    a.store.failNext = new DatabaseError('connection lost');
    await clock.advance(1);
    assert.deepEqual(
      lines.slice(0, 4).map((line) => line.replace(/"err":\{[^}]*\}/, '"err":{}')),
      [
        'info elected {"leaderName":"memory","nodeName":"a","term":1}',
        'warn stepped down {"leaderName":"memory","nodeName":"a","term":1,"reason":"error","err":{}}',
        'error database error {"leaderName":"memory","nodeName":"a","err":{}}',
        'info elected {"leaderName":"memory","nodeName":"a","term":2}',
      ],
    );
  });

  it('emits leaderChange when the observed leader changes', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    const b = participant(clock, db, 'b');
    const changes: string[] = [];
    b.elector.on('leaderChange', ({ leader }) => changes.push(leader ? `${leader.nodeName}#${leader.term}` : 'none'));
    a.campaign();
    await clock.advance(0);
    b.campaign();
    await clock.advance(TICK);
    await a.elector.close();
    await clock.until(() => b.elector.leading);
    assert.deepEqual(changes, ['a#1', 'none', 'b#2']);
  });
});

describe('elector: jitter', () => {
  it('leaders elected together do not renew in step, and followers do not read in step', async () => {
    mock.restoreAll(); // real randomness here
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const leaders = Array.from({ length: 20 }, (_, i) => participant(clock, new MemoryDatabase(clock), `l${i}`));
    const followers = Array.from({ length: 20 }, (_, i) => participant(clock, db, `f${i}`));
    for (const node of [...leaders, ...followers]) node.campaign();
    await clock.advance(TICK);
    const firstRenewals = new Set(leaders.map((node) => node.store.db.writesBy(node.store.node).find((entry) => entry.op === 'renew')?.at));
    assert.ok(firstRenewals.size > 10, `first renewals at ${firstRenewals.size} distinct instants`);
    await clock.advance(3 * TICK);
    const readTimes = new Set(db.log.filter((entry) => entry.op === 'read' && entry.at > 1000).map((entry) => entry.at));
    assert.ok(readTimes.size > 30, `follower reads at ${readTimes.size} distinct instants`);
    // Renewals after the first are a tick apart: the leader writes once per tick.
    const [leader] = leaders;
    await clock.advance(10 * TICK);
    const renewals =
      leader?.store.db
        .writesBy('l0')
        .filter((entry) => entry.op === 'renew')
        .map((entry) => entry.at) ?? [];
    for (let i = 2; i < renewals.length; i++) assert.equal((renewals[i] ?? 0) - (renewals[i - 1] ?? 0), TICK);
  });
});

describe('elector: the first renewal early', () => {
  it('is the FNV-1a of leader, node and term joined by NUL, character by character, as every version computes it', () => {
    // The definition, spelled out: followers of other versions read the row just after the time it gives.
    const reference = (leaderName: string, nodeName: string, term: number, tick: number): number => {
      let hash = 0x811c9dc5;
      for (const char of `${leaderName}\0${nodeName}\0${term}`) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
      return Math.round((hash / 2 ** 32) * 0.2 * tick);
    };
    const cases: [string, string, number][] = [
      ['a', 'b', 1],
      ['shard-17', 'host-1', 123_456],
      ['😀 emoji', 'ü\u{10400}', 7],
      ['lone \ud800', 'lone \udc00', 9],
      [`${'x'.repeat(255)}`, 'node', 1_000_001],
    ];
    for (const [leaderName, nodeName, term] of cases) {
      for (const tick of [250, 1000, 7777]) {
        assert.equal(
          firstRenewalEarly(leaderName, nodeName, term, tick),
          reference(leaderName, nodeName, term, tick),
          `${leaderName} ${nodeName} ${term} ${tick}`,
        );
      }
    }
  });
});
