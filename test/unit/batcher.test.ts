/** The pacing of the lease engine's batches, on a fake clock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Batcher } from '../../src/batcher.js';
import { QueryTimeoutError } from '../../src/errors.js';
import { FakeClock, flush } from '../support/fake-clock.js';

/** A batcher whose batches are answered when the test says so. */
function batcher(options: { window?: number; maxBatch?: number; timeout?: number } = {}) {
  const clock = new FakeClock();
  const sent: { items: readonly number[]; at: number; answer: () => void; fail: (error: Error) => void; signal: AbortSignal }[] = [];
  const subject = new Batcher<number, number>(
    clock,
    { what: 'testing', window: options.window ?? 50, maxBatch: options.maxBatch ?? 100, timeout: options.timeout ?? 1000 },
    (items, signal) =>
      new Promise((resolve, reject) => {
        sent.push({ items, at: clock.now(), answer: () => resolve(items.map((item) => item * 10)), fail: reject, signal });
      }),
  );
  return { clock, sent, subject };
}

const live = new AbortController().signal;

describe('Batcher', () => {
  it('sends a lone request at once, and the requests of one turn of the event loop together', async () => {
    const { sent, subject } = batcher();
    const answers = [subject.submit(1, live), subject.submit(2, live), subject.submit(3, live)];
    await flush();
    assert.deepEqual(
      sent.map((batch) => batch.items),
      [[1, 2, 3]],
    );
    sent[0]?.answer();
    assert.deepEqual(await Promise.all(answers), [10, 20, 30]);
  });

  it('keeps one batch in flight, and after a batch of more than one waits a window before the next', async () => {
    const { clock, sent, subject } = batcher({ window: 50 });
    void subject.submit(1, live);
    void subject.submit(2, live);
    await flush();
    void subject.submit(3, live);
    void subject.submit(4, live);
    await clock.advance(100);
    assert.equal(sent.length, 1, 'nothing more while a batch is in flight');
    sent[0]?.answer();
    await flush();
    assert.equal(sent.length, 2, 'the window has passed: the next goes when the first is answered');
    assert.deepEqual(sent[1]?.items, [3, 4]);
    sent[1]?.answer();
    void subject.submit(5, live);
    await clock.advance(49);
    assert.equal(sent.length, 2, 'within the window of a batch of two');
    await clock.advance(1);
    assert.deepEqual(sent[2]?.items, [5]);
    assert.equal((sent[2]?.at ?? 0) - (sent[1]?.at ?? 0), 50);
    sent[2]?.answer();
    await flush();
    void subject.submit(6, live);
    await flush();
    assert.deepEqual(sent[3]?.items, [6], 'after a batch of one, the next goes at once');
  });

  it('sends a burst maxBatch at a time, one batch per window', async () => {
    const { clock, sent, subject } = batcher({ window: 50, maxBatch: 100 });
    const answers = Array.from({ length: 1000 }, (_, i) => subject.submit(i, new AbortController().signal));
    for (let round = 0; round < 10; round++) {
      await clock.advance(50);
      sent.at(-1)?.answer();
    }
    await clock.advance(50);
    assert.equal(sent.length, 10);
    assert.ok(sent.every((batch) => batch.items.length === 100));
    assert.equal((await Promise.all(answers)).length, 1000);
    assert.equal(subject.waiting, 0);
  });

  it('drops a request whose signal has aborted when its batch is made, and answers one that aborts in flight with the batch', async () => {
    const { sent, subject } = batcher();
    const early = new AbortController();
    const late = new AbortController();
    const dropped = subject.submit(1, early.signal);
    const droppedRejects = assert.rejects(dropped, /early/);
    early.abort(new Error('early'));
    const inFlight = subject.submit(2, late.signal);
    const other = subject.submit(3, live);
    await flush();
    assert.deepEqual(sent[0]?.items, [2, 3]);
    await droppedRejects;
    late.abort(new Error('late'));
    sent[0]?.answer();
    assert.equal(await inFlight, 20, 'its caller (a StatementTimer) has given up on it already');
    assert.equal(await other, 30);
  });

  it('fails every request of a batch that fails, and times a batch out at its limit', async () => {
    const { clock, sent, subject } = batcher({ timeout: 300 });
    const answers = [subject.submit(1, live), subject.submit(2, live)].map((answer) => assert.rejects(answer, /server gone/));
    await flush();
    sent[0]?.fail(new Error('server gone'));
    await Promise.all(answers);
    const slow = subject.submit(3, live);
    const slowRejects = assert.rejects(slow, QueryTimeoutError);
    await clock.advance(50 + 300); // after the window of a batch of two, then its limit
    assert.ok(sent[1]?.signal.aborted);
    assert.ok(sent[1]?.signal.reason instanceof QueryTimeoutError);
    sent[1]?.fail(sent[1].signal.reason);
    await slowRejects;
  });
});
