/**
 * Leader-only work in fake time: runWhileLeader runs once per tenure and
 * never overlaps itself, and a release waits for the tenure's work to
 * settle (at most drainTimeout) so the next leader never starts early.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { TenureContext } from '../../src/tenure.js';
import { FakeClock } from '../support/fake-clock.js';
import { MemoryDatabase } from '../support/memory-store.js';
import { AGE, TICK, closeAll, participant } from '../support/participants.js';

afterEach(closeAll);

/** Awaits `promise` while moving fake time on (a release may wait for work that waits on the clock). */
async function settle(clock: FakeClock, promise: Promise<unknown>): Promise<void> {
  let done = false;
  void promise.finally(() => (done = true));
  await clock.until(() => done, 20 * AGE);
}

/** A task that records its runs and ignores its signal for `ms` of fake time. */
function slowTask(clock: FakeClock, ms: number) {
  const runs: { term: number; start: number; end?: number; aborted?: number }[] = [];
  const task = async ({ term, signal }: TenureContext): Promise<void> => {
    const run: (typeof runs)[number] = { term, start: clock.now() };
    runs.push(run);
    signal.addEventListener('abort', () => (run.aborted = clock.now()), { once: true });
    await new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    run.end = clock.now();
  };
  return { runs, task };
}

describe('runWhileLeader', () => {
  it('runs the task once per tenure with its term and signal, aborting it when the tenure ends', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    const b = participant(clock, db, 'b');
    const { runs, task } = slowTask(clock, 10);
    const handle = a.elector.runWhileLeader(task);
    a.campaign();
    await clock.advance(0);
    b.campaign();
    await clock.advance(TICK);
    await settle(clock, a.elector.resign());
    await clock.until(() => b.elector.leading);
    await clock.advance(TICK); // a's hold-off passes; b leads on.
    await settle(clock, b.elector.resign());
    await clock.until(() => a.elector.leading);
    await clock.advance(20);
    assert.deepEqual(
      runs.map((run) => run.term),
      [1, 3],
    );
    await handle.stop();
  });

  it('a run that outlives its tenure delays the next run: runs never overlap', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a', { drainTimeout: 50 });
    const { runs, task } = slowTask(clock, 3 * AGE);
    a.elector.runWhileLeader(task);
    a.campaign();
    await clock.advance(TICK);
    await settle(clock, a.elector.resign()); // waits 50 ms for the run, then releases anyway.
    await clock.until(() => a.elector.leading);
    assert.equal(runs.length, 1, 'the second tenure waits for the first run');
    await clock.until(() => runs.length === 2, 5 * AGE);
    const [first, second] = runs;
    assert.ok(first?.end !== undefined && second && second.start >= first.end);
  });

  it('reports what a run throws as taskError, but not an abort with its own signal', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    const reported: unknown[] = [];
    a.elector.on('taskError', ({ error }) => reported.push(error));
    const failure = new Error('report failed');
    a.elector.runWhileLeader(() => Promise.reject(failure));
    a.elector.runWhileLeader(
      ({ signal }) =>
        new Promise<void>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
    );
    a.campaign();
    await clock.advance(TICK);
    await settle(clock, a.elector.resign());
    assert.deepEqual(reported, [failure]);
  });

  it('is refused after close()', async () => {
    const clock = new FakeClock();
    const a = participant(clock, new MemoryDatabase(clock), 'a');
    await settle(clock, a.elector.close());
    assert.throws(() => a.elector.runWhileLeader(() => {}), { code: 'ERR_MYSQL_LEADER_CLOSED' });
  });
});

describe('renewal while a fenced transaction holds the row', () => {
  it('waits for the row as long as the lease allows, instead of timing out at queryTimeout', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    await clock.advance(TICK - 10);
    // The renewal at TICK waits 2 ticks on the row (held by the fenced transaction below).
    a.store.replyDelay = 2 * TICK;
    let finish: () => void = () => {};
    const fenced = a.elector['leadWith']('withLeadership', () => new Promise<void>((resolve) => (finish = resolve)));
    await clock.advance(2 * TICK + 20);
    assert.equal(a.elector.leading, true, 'still leading');
    assert.deepEqual(a.errors, []);
    finish();
    await fenced;
    a.store.replyDelay = 0;
    await clock.advance(TICK);
    assert.equal(a.elector.term, 1);
  });

  it('without one, the same slow renewal times out at queryTimeout and ends the tenure', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const a = participant(clock, db, 'a');
    a.campaign();
    await clock.advance(TICK - 10);
    a.store.replyDelay = 2 * TICK;
    await clock.advance(2 * TICK + 20);
    assert.equal(a.elector.leading, false);
    assert.equal(a.seen.at(-1)?.reason, 'error');
  });
});

describe('drain before release', () => {
  for (const how of ['close', 'resign'] as const) {
    it(`${how}() ends the tenure at once, then releases only after the tenure's task settled`, async () => {
      const clock = new FakeClock();
      const db = new MemoryDatabase(clock);
      const a = participant(clock, db, 'a');
      const b = participant(clock, db, 'b');
      const { runs, task } = slowTask(clock, 500);
      a.elector.runWhileLeader(task);
      a.campaign();
      await clock.advance(0);
      b.campaign();
      await clock.advance(100);
      const called = clock.now();
      let settled = false;
      void (how === 'close' ? a.elector.close() : a.elector.resign()).then(() => (settled = true));
      assert.equal(a.elector.leading, false);
      assert.equal(runs[0]?.aborted, called, 'the signal aborted at the call');
      await clock.until(() => b.elector.leading);
      const run = runs[0];
      assert.ok(run?.end !== undefined);
      assert.ok(db.log.find((entry) => entry.node === 'a' && entry.op === 'release')?.at === run.end, 'released when the task settled');
      assert.ok((b.seen[0]?.at ?? 0) >= run.end, 'the next leader started after the task settled');
      assert.equal(settled, true);
    });
  }

  it('releases after drainTimeout when the work ignores its signal', async () => {
    const clock = new FakeClock();
    const db = new MemoryDatabase(clock);
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (_fields: object, message: string) => void warnings.push(message), error() {} };
    const a = participant(clock, db, 'a', { drainTimeout: 200, logger });
    const { task } = slowTask(clock, 10 * AGE);
    a.elector.runWhileLeader(task);
    a.campaign();
    await clock.advance(TICK);
    const called = clock.now();
    await settle(clock, a.elector.resign());
    assert.equal(db.log.find((entry) => entry.op === 'release')?.at, called + 200);
    assert.deepEqual(warnings.filter((message) => message.includes('drainTimeout')).length, 1);
  });
});
