/**
 * `Leases.semaphore()` against a real server: at most `permits` holders at
 * once across engines and processes, each a lease of its own; a bounded
 * wait with a typed error; prompt wake-ups; lowering `permits` evicts
 * nobody and admits nobody until the holders are below it; a holder killed
 * with SIGKILL frees its permit after about `age`, one stopped with SIGSTOP
 * past its deadline has lost it when it thaws; wall clocks skewed by an
 * hour change nothing. Timing: age 2000 ms, tick 500 ms, on loopback.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import {
  ClosedError,
  LeadershipEndedError,
  Leases,
  MysqlLeader,
  OptionRangeError,
  OptionTypeError,
  PermitTimeoutError,
  createMysqlLeaderTable,
  type Permit,
} from '../../src/index.js';
import { ParticipantProcess } from '../../src/cli/harness/participant-process.js';
import type { Report } from '../../src/cli/harness/tenures.js';
import { useDatabase } from '../support/database.js';
import { sharedNow } from '../support/processes.js';

const AGE = 2000;
const TICK = 500;
const MARGIN = AGE / 20;
const db = await useDatabase('semaphores');
await createMysqlLeaderTable(db.pool);

/** An engine (as one process) on a pool of its own, closed after the test. */
function engine(t: { after: (fn: () => Promise<void>) => void }, nodeName: string): Leases {
  const leases = new Leases(db.newPool({ connectionLimit: 4 }), { age: AGE, tick: TICK, nodeName });
  t.after(() => leases.close());
  return leases;
}

let semaphores = 0;
const semaphoreName = (): string => `sem-${++semaphores}`;

/** The rows of the semaphore `name`'s permits that hold a live lease, by slot. */
async function liveSlots(name: string): Promise<Map<number, { node: string; term: number }>> {
  const [rows] = await db.pool.query<RowDataPacket[]>(
    'SELECT leader_name, node_name, term FROM leader_election WHERE leader_name LIKE ? AND expires_at > UTC_TIMESTAMP(6)',
    [`${name}\u0000%`],
  );
  return new Map(rows.map((row) => [Number(String(row['leader_name']).slice(name.length + 1)), { node: String(row['node_name']), term: Number(row['term']) }]));
}

/** Resolves when `permit`'s signal aborts, with its reason. */
const lostReason = (permit: Permit): Promise<unknown> =>
  new Promise((resolve) => permit.signal.addEventListener('abort', () => resolve(permit.signal.reason), { once: true }));

describe('semaphore', () => {
  it('takes up to permits holders, each on a slot of its own with its own term; the next one gets PermitTimeoutError', async (t) => {
    const name = semaphoreName();
    const [a, b, c] = [engine(t, 'a'), engine(t, 'b'), engine(t, 'c')].map((leases) => leases.semaphore(name, 2));
    const first = await (a as NonNullable<typeof a>).acquire();
    const second = await (b as NonNullable<typeof b>).acquire();
    assert.notEqual(first.slot, second.slot);
    assert.deepEqual([first.slot, second.slot].sort(), [0, 1], 'slots below permits');
    const rows = await liveSlots(name);
    assert.deepEqual(rows.get(first.slot), { node: 'a', term: first.term });
    assert.deepEqual(rows.get(second.slot), { node: 'b', term: second.term });
    assert.equal(first.signal.aborted || second.signal.aborted, false);
    assert.ok(first.remainingMs > 0 && first.remainingMs <= AGE - MARGIN);
    const third = c as NonNullable<typeof c>;
    let started = performance.now();
    await assert.rejects(
      third.acquire(),
      (error: unknown) =>
        error instanceof PermitTimeoutError &&
        error.code === 'ERR_MYSQL_LEADER_PERMIT_TIMEOUT' &&
        error.semaphoreName === name &&
        error.permits === 2 &&
        error.waitMs === 0,
    );
    assert.ok(performance.now() - started < TICK, 'wait: 0 tries once, without waiting a tick');
    started = performance.now();
    await assert.rejects(third.acquire({ wait: 700 }), PermitTimeoutError);
    // Node's timers count whole milliseconds of the loop's time: one may fire up to a millisecond early by performance.now().
    const waited = performance.now() - started;
    assert.ok(waited >= 698, `waited its wait (${waited.toFixed(1)} ms of 700)`);
    assert.equal((await liveSlots(name)).size, 2, 'the waiter took nothing');
    await first.release();
    await second.release();
    assert.equal(first.signal.aborted && second.signal.aborted, true, 'a released permit is no longer believed');
    assert.equal((await liveSlots(name)).size, 0, 'released in the database');
  });

  it('wakes a waiter at once when a holder of the same process lets go, and within a tick when one of another process does', async (t) => {
    const name = semaphoreName();
    const local = engine(t, 'local').semaphore(name, 1);
    const remote = engine(t, 'remote').semaphore(name, 1);
    const held = await local.acquire();
    const waiter = local.acquire({ wait: 10_000 });
    await delay(200);
    let releasedAt = performance.now();
    await held.release();
    const next = await waiter;
    const localGap = performance.now() - releasedAt;
    assert.ok(localGap < TICK / 2, `woken ${Math.round(localGap)} ms after a release in the same process`);
    const remoteWaiter = remote.acquire({ wait: 10_000 });
    await delay(TICK);
    releasedAt = performance.now();
    await next.release();
    const theirs = await remoteWaiter;
    const remoteGap = performance.now() - releasedAt;
    t.diagnostic(`woken ${Math.round(localGap)} ms after a release in the same process, ${Math.round(remoteGap)} ms after one in another (tick ${TICK})`);
    assert.ok(remoteGap < TICK + 200, `woken ${Math.round(remoteGap)} ms after a release in another process`);
    assert.ok(theirs.term > next.term, 'a new tenure, a new term');
    await theirs.release();
  });

  it('using() runs fn under a permit, returns its value and releases the permit after fn settles, also when it throws', async (t) => {
    const name = semaphoreName();
    const semaphore = engine(t, 'a').semaphore(name, 3);
    const value = await semaphore.using(async ({ slot, term, signal }) => {
      assert.equal(signal.aborted, false);
      assert.equal((await liveSlots(name)).get(slot)?.term, term);
      assert.equal(semaphore.held, 1);
      return `slot ${slot}`;
    });
    assert.equal(value, 'slot 0');
    assert.equal(semaphore.held, 0);
    assert.equal((await liveSlots(name)).size, 0);
    const failure = new Error('fn failed');
    await assert.rejects(
      semaphore.using(async () => {
        throw failure;
      }),
      (error) => error === failure,
    );
    assert.equal((await liveSlots(name)).size, 0);
  });

  it('renews every permit while it is held, for longer than the lease, in one engine and across engines', async (t) => {
    const name = semaphoreName();
    const one = engine(t, 'one').semaphore(name, 3);
    const permits = [await one.acquire(), await one.acquire(), await engine(t, 'two').semaphore(name, 3).acquire()];
    assert.deepEqual(permits.map((permit) => permit.slot).sort(), [0, 1, 2]);
    await delay(AGE + 2 * TICK);
    assert.deepEqual(
      permits.map((permit) => permit.signal.aborted),
      [false, false, false],
    );
    assert.equal((await liveSlots(name)).size, 3);
    await Promise.all(permits.map((permit) => permit.release()));
  });

  it("aborts a permit's signal the moment its lease is lost, with the reason; the other holders keep theirs", async (t) => {
    const name = semaphoreName();
    const semaphore = engine(t, 'a').semaphore(name, 2);
    const [kept, lost] = [await semaphore.acquire(), await semaphore.acquire()] as [Permit, Permit];
    const reason = lostReason(lost);
    // As forceRelease() does for an election (it refuses the reserved names of permits).
    await db.pool.query('UPDATE leader_election SET expires_at = renewed_at WHERE leader_name = ?', [`${name}\u0000${lost.slot}`]);
    const why = await reason;
    assert.ok(why instanceof LeadershipEndedError && why.reason === 'lost' && why.term === lost.term);
    assert.equal(lost.remainingMs, 0);
    assert.equal(kept.signal.aborted, false);
    await lost.release(); // idempotent after a loss
    const again = await semaphore.acquire({ wait: 5_000 });
    assert.equal(again.slot, lost.slot, 'the lost slot is offered again');
    assert.ok(again.term > lost.term);
    await Promise.all([kept.release(), again.release()]);
  });

  it('lowering permits evicts nobody; a waiter waits until the holders are below the new number, and takes a slot below it', async (t) => {
    const name = semaphoreName();
    const semaphore = engine(t, 'a').semaphore(name, 3);
    const other = engine(t, 'b').semaphore(name, 3);
    const held = [await semaphore.acquire(), await semaphore.acquire(), await other.acquire()];
    const bySlot = new Map(held.map((permit) => [permit.slot, permit]));
    semaphore.permits = 2;
    other.permits = 2;
    assert.equal(semaphore.permits, 2);
    const events: string[] = [];
    const waiter = semaphore.acquire({ wait: 20_000 }).then((permit) => {
      events.push(`acquired ${permit.slot}`);
      return permit;
    });
    await delay(AGE + TICK); // past a full lease: every holder renewed, none evicted
    assert.deepEqual(
      held.map((permit) => permit.signal.aborted),
      [false, false, false],
    );
    assert.equal((await liveSlots(name)).size, 3);
    // 3 → 2 holders: not below the new 2, the waiter still waits.
    events.push('released 0');
    await (bySlot.get(0) as Permit).release();
    await delay(2 * TICK);
    assert.deepEqual(events, ['released 0']);
    // 2 → 1 (the holder above the new number, in the other process, leaves): the waiter gets a slot below 2.
    events.push('released 2');
    await (bySlot.get(2) as Permit).release();
    const permit = await waiter;
    assert.deepEqual(events, ['released 0', 'released 2', 'acquired 0']);
    assert.equal((await liveSlots(name)).size, 2);
    await assert.rejects(semaphore.acquire(), PermitTimeoutError, 'two holders: the new number is full');
    await Promise.all([permit.release(), (bySlot.get(1) as Permit).release()]);
    // Raised again: slot 2 is offered again.
    semaphore.permits = 3;
    const three = [await semaphore.acquire(), await semaphore.acquire(), await semaphore.acquire()];
    assert.deepEqual(three.map((p) => p.slot).sort(), [0, 1, 2]);
    await Promise.all(three.map((p) => p.release()));
  });

  it("stops waiting when options.signal aborts, with its reason; once held, the permit's lease ends with it", async (t) => {
    const name = semaphoreName();
    const semaphore = engine(t, 'a').semaphore(name, 1);
    const controller = new AbortController();
    const permit = await semaphore.acquire({ signal: controller.signal });
    const waiting = new AbortController();
    const reason = new Error('give up');
    setTimeout(() => waiting.abort(reason), 100);
    await assert.rejects(semaphore.acquire({ wait: 20_000, signal: waiting.signal }), (error) => error === reason);
    const lost = lostReason(permit);
    controller.abort(new Error('stop'));
    const why = await lost;
    assert.ok(why instanceof LeadershipEndedError && why.reason === 'aborted');
    await permit.release();
    assert.equal((await liveSlots(name)).size, 0, 'released');
  });

  it('close() rejects the waiters with ClosedError and ends the permits; so does closing the engine', async (t) => {
    const name = semaphoreName();
    const leases = engine(t, 'a');
    const semaphore = leases.semaphore(name, 1);
    const permit = await semaphore.acquire();
    const waiting = assert.rejects(semaphore.acquire({ wait: 20_000 }), ClosedError);
    await semaphore.close();
    await waiting;
    assert.ok(permit.signal.aborted);
    await assert.rejects(semaphore.acquire(), ClosedError);
    const reopened = leases.semaphore(name, 1); // closed: the name is free in the engine again
    const next = await reopened.acquire();
    const waiter = assert.rejects(reopened.acquire({ wait: 20_000 }), ClosedError);
    await leases.close();
    await waiter;
    assert.ok(next.signal.aborted);
    assert.throws(() => leases.semaphore(semaphoreName(), 1), ClosedError);
  });

  it('validates its arguments before anything is sent, naming them', async (t) => {
    const leases = engine(t, 'a');
    for (const permits of [0, -1, 1001]) {
      assert.throws(
        () => leases.semaphore('x', permits),
        (error: unknown) => error instanceof OptionRangeError && error.options[0] === 'permits' && error.message.includes(String(permits)),
      );
    }
    for (const permits of [1.5, '3', Number.NaN, undefined]) {
      assert.throws(
        () => leases.semaphore('x', permits as number),
        (error: unknown) => error instanceof OptionTypeError && error.options[0] === 'permits',
      );
    }
    for (const name of ['', 'a\u0000b', 'x'.repeat(252), 'trailing ']) {
      assert.throws(
        () => leases.semaphore(name, 1),
        (error: unknown) => error instanceof OptionRangeError && error.options[0] === 'name',
      );
    }
    const semaphore = leases.semaphore('x', 2);
    assert.throws(() => leases.semaphore('x', 2), { code: 'ERR_MYSQL_LEADER_BUSY' });
    assert.throws(
      () => (semaphore.permits = 0),
      (error: unknown) => error instanceof OptionRangeError && error.options[0] === 'permits',
    );
    assert.equal(semaphore.permits, 2);
    await assert.rejects(semaphore.acquire({ wait: -1 }), /options\.wait/);
    // The rows of permits can belong to no election: U+0000 is refused in election names.
    assert.throws(
      () => new MysqlLeader(db.pool, 'x\u00000'),
      (error: unknown) => error instanceof OptionRangeError && error.options[0] === 'leaderName',
    );
    assert.throws(() => leases.leader('x\u00000'), OptionRangeError);
    await assert.rejects(
      leases.withLock('x\u00000', async () => {}),
      OptionRangeError,
    );
  });
});

// ---- Real processes (test/fixtures/semaphore-holder.ts) ----

const HOLDER = fileURLToPath(new URL('../fixtures/semaphore-holder.ts', import.meta.url));
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const holders: ParticipantProcess[] = [];
after(async () => {
  await Promise.all(holders.map((holder) => holder.kill('SIGKILL')));
});

/** Starts holder processes of the semaphore `name` and waits until each is ready; `skews` for their wall clocks (libfaketime). */
async function startHolders(name: string, permits: number, count: number, options: { skews?: (string | undefined)[]; hold?: [number, number] } = {}) {
  const started = Array.from({ length: count }, (_, i) => {
    const skew = options.skews?.[i];
    const env = skew ? { LD_PRELOAD: LIBFAKETIME, FAKETIME: skew, FAKETIME_DONT_FAKE_MONOTONIC: '1' } : {};
    const config = { url: db.url, leaderName: name, nodeName: `h${i}`, age: AGE, tick: TICK, permits, ...(options.hold && { hold: options.hold }) };
    const holder = new ParticipantProcess(config, env, () => {}, HOLDER);
    holder.start();
    holders.push(holder);
    return holder;
  });
  await Promise.all(started.map((holder) => holder.waitFor((r) => r.event === 'ready', 20_000, 'ready')));
  return started;
}

/** A permit as its holder believed it: from `elected` to the earlier of `revoked` and its last deadline. */
interface Belief {
  readonly node: string;
  readonly slot: number;
  readonly term: number;
  readonly start: number;
  readonly end: number;
}

/** Every permit each holder believed it held (one at a time per holder); one still open ends at `now` or its deadline. */
function beliefsOf(processes: readonly ParticipantProcess[], now = sharedNow()): Belief[] {
  const beliefs: Belief[] = [];
  for (const process of processes) {
    let open: { node: string; slot: number; term: number; start: number; end: number } | undefined;
    for (const report of process.reports as (Report & { slot?: number })[]) {
      if (open && (report.event === 'ready' || report.event === 'elected')) beliefs.push(open); // killed while holding: ended at its deadline
      if (report.event === 'ready' || report.event === 'elected') open = undefined;
      if (report.event === 'elected' && report.term !== undefined && report.slot !== undefined) {
        open = { node: report.node, slot: report.slot, term: report.term, start: report.mono, end: report.until ?? report.mono };
      } else if (report.event === 'renewed' && open && report.until !== undefined) {
        open.end = report.until;
      } else if (report.event === 'revoked' && open) {
        beliefs.push({ ...open, end: Math.min(open.end, report.mono) });
        open = undefined;
      }
    }
    if (open) beliefs.push({ ...open, end: Math.min(open.end, now) });
  }
  return beliefs;
}

/** The most beliefs at one instant (an end and a start at the same instant do not overlap). */
function mostAtOnce(beliefs: readonly Belief[]): number {
  const edges = beliefs.flatMap((belief) => [
    { at: belief.start, delta: 1 },
    { at: belief.end, delta: -1 },
  ]);
  edges.sort((x, y) => x.at - y.at || x.delta - y.delta);
  let count = 0;
  let most = 0;
  for (const edge of edges) most = Math.max(most, (count += edge.delta));
  return most;
}

/** Throws unless each slot had one believed holder at a time, under terms that grow. */
function assertOneHolderPerSlot(beliefs: readonly Belief[]): void {
  const bySlot = new Map<number, Belief[]>();
  for (const belief of beliefs) bySlot.set(belief.slot, [...(bySlot.get(belief.slot) ?? []), belief]);
  for (const [slot, held] of bySlot) {
    const sorted = [...held].sort((x, y) => x.start - y.start);
    for (let i = 1; i < sorted.length; i++) {
      const [before, current] = [sorted[i - 1] as Belief, sorted[i] as Belief];
      assert.ok(current.start >= before.end, `slot ${slot}: ${before.node} (term ${before.term}) and ${current.node} (term ${current.term}) at once`);
      assert.ok(current.term > before.term, `slot ${slot}: term ${current.term} after ${before.term}`);
    }
  }
}

async function closeAll(processes: readonly ParticipantProcess[]): Promise<void> {
  for (const holder of processes) if (holder.running) holder.send('close');
  await Promise.all(processes.map((holder) => holder.exited));
}

describe('semaphore across processes', () => {
  it('never more than N believed holders: five processes contend for 2 permits, wall clocks an hour ahead and behind', async (t) => {
    const processes = await startHolders(semaphoreName(), 2, 5, { skews: ['+1h', '-1h'], hold: [30, 250] });
    for (const holder of processes) holder.send('loop');
    await delay(8_000);
    await closeAll(processes);
    const beliefs = beliefsOf(processes);
    const most = mostAtOnce(beliefs);
    t.diagnostic(`${beliefs.length} permits held by 5 processes in 8 s, at most ${most} at once (permits 2)`);
    assert.ok(most <= 2, `${most} holders at once`);
    assert.equal(most, 2, 'the permits were used together');
    assertOneHolderPerSlot(beliefs);
    for (const holder of processes)
      assert.ok(
        beliefs.some((belief) => belief.node === holder.name),
        `${holder.name} held a permit (skewed or not)`,
      );
    for (const holder of processes) {
      const errors = holder.reports.filter((r) => r.event === 'error' && !String(r['message']).includes('closed'));
      assert.deepEqual(errors, [], 'no error but the close at the end');
    }
  });

  it('SIGKILL of a holder: its permit frees within age + tick, the other holder keeps its own', async (t) => {
    const processes = await startHolders(semaphoreName(), 2, 3);
    const [first, second, third] = processes as [ParticipantProcess, ParticipantProcess, ParticipantProcess];
    first.send('hold');
    await first.waitFor((r) => r.event === 'elected', 10_000, 'a permit');
    second.send('hold');
    await second.waitFor((r) => r.event === 'elected', 10_000, 'a permit');
    third.send('hold');
    await delay(2 * TICK); // waiting, and renewals on both permits
    assert.equal(
      third.reports.some((r) => r.event === 'elected'),
      false,
      'the third waits',
    );
    const killedAt = sharedNow();
    await first.kill('SIGKILL');
    const taken = await third.waitFor((r) => r.event === 'elected', AGE + TICK + 2_000, 'the freed permit');
    const freedAfter = taken.mono - killedAt;
    t.diagnostic(`the permit of a holder killed with SIGKILL was taken ${Math.round(freedAfter)} ms after the kill (age ${AGE}, tick ${TICK})`);
    assert.ok(freedAfter <= AGE + TICK, `taken ${Math.round(freedAfter)} ms after the kill`);
    const killedSlot = first.reports.find((r) => r.event === 'elected')?.['slot'];
    assert.equal(taken['slot'], killedSlot, 'the killed holder’s slot');
    assert.equal(
      second.reports.some((r) => r.event === 'revoked'),
      false,
      'nobody else evicted',
    );
    assert.ok(mostAtOnce(beliefsOf(processes)) <= 2);
    assertOneHolderPerSlot(beliefsOf(processes));
    await closeAll([second, third]);
  });

  it('lowered permits while a process holding a slot above them is killed: a newcomer waits until that lease ran out, then takes a slot below', async (t) => {
    const name = semaphoreName();
    const semaphore = engine(t, 'local').semaphore(name, 3);
    const mine = [await semaphore.acquire(), await semaphore.acquire()];
    const [remote] = (await startHolders(name, 3, 1)) as [ParticipantProcess];
    remote.send('hold');
    const held = await remote.waitFor((r) => r.event === 'elected', 10_000, 'a permit');
    assert.equal(held['slot'], 2);
    semaphore.permits = 2;
    await (mine[0] as Permit).release(); // 2 holders (slot 1 here, slot 2 there): not below the new 2
    const waiter = semaphore.acquire({ wait: 20_000 }).then((permit) => ({ permit, at: sharedNow() }));
    const early = await Promise.race([waiter.then(() => true), delay(AGE).then(() => false)]);
    assert.equal(early, false, 'waits while the slot above the new number is held');
    const killedAt = sharedNow();
    await remote.kill('SIGKILL');
    const { permit, at } = await waiter;
    const admittedAfter = at - killedAt;
    t.diagnostic(`admitted ${Math.round(admittedAfter)} ms after the SIGKILL of the holder of the retired slot (age ${AGE}, tick ${TICK})`);
    assert.ok(admittedAfter <= AGE + TICK + 1_000, `admitted ${Math.round(admittedAfter)} ms after the kill`);
    assert.ok(permit.slot < 2, 'a slot below the new number');
    await Promise.all([permit.release(), (mine[1] as Permit).release()]);
  });

  it('SIGSTOP of a holder past its deadline: another takes its permit, and when it thaws its signal has aborted; never more than N at once', async (t) => {
    const processes = await startHolders(semaphoreName(), 2, 3);
    const [frozen, second, third] = processes as [ParticipantProcess, ParticipantProcess, ParticipantProcess];
    frozen.send('hold');
    await frozen.waitFor((r) => r.event === 'elected', 10_000, 'a permit');
    second.send('hold');
    await second.waitFor((r) => r.event === 'elected', 10_000, 'a permit');
    third.send('hold');
    await delay(TICK);
    const stoppedAt = sharedNow();
    await frozen.kill('SIGSTOP');
    await third.waitFor((r) => r.event === 'elected', AGE + TICK + 2_000, 'the permit of the stopped holder');
    await delay(TICK);
    const thawedAt = sharedNow();
    await frozen.kill('SIGCONT');
    const revoked = await frozen.waitFor((r) => r.event === 'revoked', 5_000, 'its belief ended');
    assert.equal(revoked.reason, 'expired');
    assert.ok(revoked.mono >= thawedAt, 'told on waking');
    const beliefs = beliefsOf(processes);
    const frozenBelief = beliefs.find((belief) => belief.node === frozen.name) as Belief;
    assert.ok(frozenBelief.end <= stoppedAt + AGE, 'its belief ended by its deadline, while it was stopped');
    t.diagnostic(`stopped holder's belief ended ${Math.round(frozenBelief.end - stoppedAt)} ms after SIGSTOP; at most ${mostAtOnce(beliefs)} at once`);
    assert.ok(mostAtOnce(beliefs) <= 2, 'never more than 2 at once');
    assertOneHolderPerSlot(beliefs);
    assert.equal(
      second.reports.some((r) => r.event === 'revoked'),
      false,
      'nobody else evicted',
    );
    await frozen.waitFor((r) => r.event === 'given-back', 5_000, 'gave it back');
    await closeAll(processes);
  });
});
