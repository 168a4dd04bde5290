/** The lease engine's renewal schedule, on a fake clock: one timer and one batch a window for every held lease. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueryTimeoutError } from '../../src/errors.js';
import type { HeldItem } from '../../src/mysql/batches.js';
import { RenewalSchedule, type Renewable } from '../../src/renewals.js';
import type { HeldTenure } from '../../src/store.js';
import { FakeClock, flush } from '../support/fake-clock.js';

const WINDOW = 50;
const TIMEOUT = 1000;

interface Sent {
  readonly items: readonly HeldItem[];
  readonly at: number;
  readonly signal: AbortSignal;
  answer(renewed: readonly boolean[] | true): void;
  fail(error: Error): void;
}

/** A schedule whose batches (and renewals apart) are answered when the test says so. */
function schedule(maxBatch = 100) {
  const clock = new FakeClock();
  const sent: Sent[] = [];
  const apart: Sent[] = [];
  const record =
    (into: Sent[]) =>
    (items: readonly HeldItem[], signal: AbortSignal): Promise<readonly boolean[] | true> =>
      new Promise((resolve, reject) => into.push({ items, at: clock.now(), signal, answer: resolve, fail: reject }));
  const subject = new RenewalSchedule(clock, { window: WINDOW, maxBatch, timeout: TIMEOUT }, record(sent), async (item, signal) => {
    const answer = await record(apart)([item], signal);
    return answer === true || answer[0] === true;
  });
  return { clock, sent, apart, subject };
}

/** A held lease whose tenure records when it was asked and what it was told; it holds again after each renewal while `again`. */
function lease(subject: RenewalSchedule, name: string, due: number, options: { fenced?: boolean; limit?: number } = {}) {
  const asked: number[] = [];
  const outcomes: (boolean | Error)[] = [];
  const settledAt: number[] = [];
  const state = { again: true, over: false };
  const tenure: HeldTenure & { due: number } = {
    name,
    term: 7,
    due,
    ask: (now) => {
      if (state.over) return undefined;
      asked.push(now);
      return options.limit ?? TIMEOUT;
    },
    settle: (outcome, now) => {
      outcomes.push(outcome);
      settledAt.push(now);
      if (state.again && outcome === true) {
        tenure.due = (asked.at(-1) as number) + 1000;
        subject.hold(held);
      }
    },
  };
  const held: Renewable & { inBatchNow: boolean } = {
    name,
    fenced: options.fenced ?? false,
    tenure,
    slot: undefined,
    inBatchNow: false,
    inBatch(inFlight) {
      held.inBatchNow = inFlight;
    },
  };
  subject.hold(held);
  return { held, tenure, asked, outcomes, settledAt, state };
}

describe('RenewalSchedule', () => {
  it('collects the renewals due by the end of the next window into one statement, each asked just before it is sent, on one timer', async () => {
    const { clock, sent, subject } = schedule();
    // FakeClock starts at 1000 ms: due at 1100, 1110 and 1190 (rounded to the 50 ms grid: 1100, 1100, 1200).
    const a = lease(subject, 'a', 1100);
    const b = lease(subject, 'b', 1110);
    const c = lease(subject, 'c', 1190);
    const early = lease(subject, 'early', 1140); // due in the next window: taken with a and b
    assert.equal(clock.pending, 1, 'one timer for every held lease');
    await clock.advance(99);
    assert.equal(sent.length, 0, 'nothing before it is due');
    await clock.advance(1);
    assert.deepEqual(
      sent.map((batch) => batch.items.map((item) => item.name)),
      [['a', 'b', 'early']],
    );
    assert.deepEqual([a.asked, b.asked, early.asked, c.asked], [[1100], [1100], [1100], []], 'asked when its batch is made, not before');
    assert.equal(a.held.inBatchNow, true);
    early.state.again = false;
    sent[0]?.answer([true, true, true]);
    await clock.advance(99);
    assert.equal(sent.length, 1, 'c is not due yet');
    await clock.advance(1);
    assert.deepEqual(
      sent.map((batch) => batch.items.map((item) => item.name)),
      [['a', 'b', 'early'], ['c']],
    );
    assert.equal(sent[1]?.at, 1200);
    assert.equal(a.held.inBatchNow, false);
    assert.deepEqual(a.outcomes, [true]);
    // Held again a tick after their asking: the next batch of a and b comes a second later.
    sent[1]?.answer([true]);
    await clock.advance(900);
    assert.deepEqual(
      sent[2]?.items.map(({ name, term }) => ({ name, term })),
      [
        { name: 'a', term: 7 },
        { name: 'b', term: 7 },
      ],
    );
    assert.equal(sent[2]?.at, 2100);
  });

  it('asks every tenure of a batch with one reading of the clock made before it is sent, and settles each with one made after the answer', async () => {
    const { clock, sent, subject } = schedule();
    const leases = ['a', 'b', 'c'].map((name) => lease(subject, name, 1100));
    for (const one of leases) one.state.again = false;
    await clock.advance(100);
    assert.deepEqual(
      leases.map((one) => one.asked),
      [[1100], [1100], [1100]],
      'the reading the batch was made at (and sent after)',
    );
    assert.equal(sent[0]?.at, 1100);
    await clock.advance(37); // the statement takes 37 ms
    sent[0]?.answer(true); // every row of the batch renewed
    await flush();
    assert.deepEqual(
      leases.map((one) => [one.outcomes, one.settledAt]),
      [
        [[true], [1137]],
        [[true], [1137]],
        [[true], [1137]],
      ],
      'each renewed, told at a reading made after the answer arrived',
    );
  });

  it('tells each tenure the answer for its own row, and every tenure of a failed or timed-out batch the error', async () => {
    const { clock, sent, subject } = schedule();
    const leases = ['a', 'b', 'c'].map((name) => lease(subject, name, 1000));
    for (const one of leases) one.state.again = false;
    await clock.advance(0);
    sent[0]?.answer([true, false, true]);
    await flush();
    assert.deepEqual(
      leases.map((one) => one.outcomes),
      [[true], [false], [true]],
    );
    const d = lease(subject, 'd', clock.now() + 100);
    const e = lease(subject, 'e', clock.now() + 100);
    await clock.advance(100);
    sent[1]?.fail(new Error('server gone'));
    await flush();
    assert.match(String(d.outcomes[0]), /server gone/);
    assert.match(String(e.outcomes[0]), /server gone/);
    const f = lease(subject, 'f', clock.now() + 100);
    await clock.advance(100);
    await clock.advance(TIMEOUT);
    assert.ok(sent[2]?.signal.reason instanceof QueryTimeoutError, 'the batch times out at its limit');
    sent[2]?.fail(sent[2].signal.reason);
    await flush();
    assert.ok(f.outcomes[0] instanceof QueryTimeoutError);
  });

  it('renews a fenced lease apart, under its own limit, without holding up the batch', async () => {
    const { clock, sent, apart, subject } = schedule();
    const fenced = lease(subject, 'fenced', 1000, { fenced: true, limit: 3000 });
    const other = lease(subject, 'other', 1000);
    await clock.advance(0);
    assert.deepEqual(
      apart.map((one) => one.items.map((item) => item.name)),
      [['fenced']],
    );
    assert.deepEqual(
      sent.map((batch) => batch.items.map((item) => item.name)),
      [['other']],
    );
    sent[0]?.answer([true]); // answered while the fenced one still waits for its row
    await flush();
    assert.deepEqual(other.outcomes, [true]);
    assert.deepEqual(fenced.outcomes, []);
    await clock.advance(3000);
    assert.ok(apart[0]?.signal.reason instanceof QueryTimeoutError, 'apart, its own limit');
  });

  it('sends maxBatch renewals at a time, a window apart, the oldest first', async () => {
    const { clock, sent, subject } = schedule(2);
    for (const name of ['a', 'b', 'c', 'd', 'e']) lease(subject, name, 1000);
    await clock.advance(0);
    sent[0]?.answer([true, true]);
    await clock.advance(WINDOW - 1);
    assert.equal(sent.length, 1, 'a window between two batches');
    await clock.advance(1);
    sent[1]?.answer([true, true]);
    await clock.advance(WINDOW);
    assert.deepEqual(
      sent.map((batch) => [batch.at, batch.items.map((item) => item.name)]),
      [
        [1000, ['a', 'b']],
        [1050, ['c', 'd']],
        [1100, ['e']],
      ],
    );
  });

  it('keeps one batch in flight: the next waits for its answer, then a window', async () => {
    const { clock, sent, subject } = schedule();
    lease(subject, 'a', 1000);
    lease(subject, 'b', 1100);
    await clock.advance(100);
    lease(subject, 'c', 1300); // held while a batch is in flight
    await clock.advance(400);
    assert.equal(sent.length, 1);
    sent[0]?.answer([true]);
    await clock.advance(0);
    assert.deepEqual(
      sent.map((batch) => batch.items.map((item) => item.name)),
      [['a'], ['b', 'c']],
    );
    assert.equal(sent[1]?.at, 1500, 'b and c were asked for when they could be sent, not when they were due');
    sent[1]?.answer([true, true]);
    lease(subject, 'd', 1510);
    await clock.advance(49);
    assert.equal(sent.length, 2, 'a window after the last batch');
    await clock.advance(1);
    assert.equal(sent[2]?.at, 1550);
  });

  it('sends nothing for a tenure that is over or a lease forgotten, and then holds no timer', async () => {
    const { clock, sent, subject } = schedule();
    const over = lease(subject, 'over', 1000);
    over.state.over = true;
    const forgotten = lease(subject, 'forgotten', 1200);
    subject.forget(forgotten.held);
    await clock.advance(1000);
    assert.equal(sent.length, 0);
    assert.deepEqual(forgotten.asked, []);
    assert.equal(subject.size, 0);
    assert.equal(clock.pending, 0);
  });
});
