/**
 * The statement timer, on a fake clock: statements started together share
 * one signal and one timer, yet each settles with its own outcome and each
 * times out at its limit; one with its caller's signal is aborted alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueryTimeoutError } from '../../src/errors.js';
import { StatementTimer } from '../../src/statement-timer.js';
import { FakeClock, flush } from '../support/fake-clock.js';

/** A statement the test answers: the signal it ran with, and its settling. */
function pending<T>() {
  let answer!: (value: T) => void;
  let fail!: (error: unknown) => void;
  let signal!: AbortSignal;
  const statement = (given: AbortSignal): Promise<T> => {
    signal = given;
    return new Promise<T>((resolve, reject) => {
      answer = resolve;
      fail = reject;
    });
  };
  return { statement, answer: (value: T) => answer(value), fail: (error: unknown) => fail(error), signal: () => signal };
}

describe('StatementTimer', () => {
  it('runs statements started together under one signal, each settling with its own outcome, then reuses the signal', async () => {
    const clock = new FakeClock();
    const timer = new StatementTimer(clock, 4);
    const [a, b, c] = [pending<number>(), pending<number>(), pending<number>()];
    const runs = [timer.run('reading', a.statement, 1000), timer.run('reading', b.statement, 1000), timer.run('reading', c.statement, 1000)];
    assert.equal(a.signal(), b.signal());
    assert.equal(b.signal(), c.signal());
    assert.equal(clock.pending, 1, 'one timer for the three');
    a.answer(1);
    b.fail(new Error('refused'));
    c.answer(3);
    assert.equal(await runs[0], 1);
    await assert.rejects(runs[1] as Promise<number>, /refused/);
    assert.equal(await runs[2], 3);
    assert.equal(clock.pending, 0, 'the timer cleared once all settled');
    assert.equal(a.signal().aborted, false);
    const next = pending<number>();
    const later = timer.run('reading', next.statement, 1000);
    assert.equal(next.signal(), a.signal(), 'the settled signal is reused');
    assert.equal(clock.pending, 1, 'by a new cohort, with a timer of its own: none joins a cohort that has ended');
    next.answer(4);
    assert.equal(await later, 4);
  });

  it('times out every statement of a cohort still pending at its limit, and ignores their late answers', async () => {
    const clock = new FakeClock();
    const timer = new StatementTimer(clock, 4);
    const [quick, slow, slower] = [pending<string>(), pending<string>(), pending<string>()];
    const runs = [timer.run('claiming', quick.statement, 300), timer.run('claiming', slow.statement, 300), timer.run('claiming', slower.statement, 300)];
    quick.answer('won');
    assert.equal(await runs[0], 'won');
    const timedOut = runs.slice(1).map((run) => assert.rejects(run, (error: unknown) => error instanceof QueryTimeoutError && error.timeoutMs === 300));
    await clock.advance(299);
    assert.equal(slow.signal().aborted, false);
    await clock.advance(1);
    await Promise.all(timedOut);
    assert.ok(slow.signal().aborted && slow.signal().reason instanceof QueryTimeoutError, 'the shared signal aborted, so the store abandons them');
    slow.answer('too late');
    await flush();
    const next = pending<string>();
    void timer.run('claiming', next.statement, 300).catch(() => {});
    assert.notEqual(next.signal(), slow.signal(), 'an aborted signal is never reused');
    next.answer('ok');
  });

  it('starts a new cohort, with its full limit, for a statement started after the span, or of another kind or limit', async () => {
    const clock = new FakeClock();
    const timer = new StatementTimer(clock, 4);
    const first = pending<number>();
    const firstRejects = assert.rejects(timer.run('reading', first.statement, 1000), QueryTimeoutError);
    await clock.advance(5);
    const within = pending<number>();
    const withinRejects = assert.rejects(timer.run('reading', within.statement, 1000), QueryTimeoutError);
    assert.equal(within.signal(), first.signal(), 'within the span: the same cohort');
    await clock.advance(1);
    const late = pending<number>();
    const lateRejects = assert.rejects(timer.run('reading', late.statement, 1000), QueryTimeoutError);
    assert.notEqual(late.signal(), first.signal(), 'after the span: a cohort of its own (the first is still pending)');
    const other = pending<number>();
    void timer.run('claiming', other.statement, 1000).catch(() => {});
    const longer = pending<number>();
    void timer.run('claiming', longer.statement, 2000).catch(() => {});
    assert.notEqual(other.signal(), late.signal(), 'another purpose');
    assert.notEqual(longer.signal(), other.signal(), 'another limit');
    await clock.advance(994);
    await Promise.all([firstRejects, withinRejects]); // the cohort's limit: 1000 ms after its first statement
    assert.equal(late.signal().aborted, false, 'the later one has its own full limit');
    await clock.advance(6);
    await lateRejects;
  });

  it("aborts a statement alone when its caller's signal aborts", async () => {
    const clock = new FakeClock();
    const timer = new StatementTimer(clock, 4);
    const caller = new AbortController();
    const [mine, theirs] = [pending<number>(), pending<number>()];
    const mineRun = timer.run('reading', mine.statement, 1000, caller.signal);
    const theirsRun = timer.run('reading', theirs.statement, 1000);
    assert.notEqual(mine.signal(), theirs.signal());
    caller.abort(new Error('caller gave up'));
    await assert.rejects(mineRun, /caller gave up/);
    assert.equal(mine.signal().aborted, true);
    assert.equal(theirs.signal().aborted, false);
    theirs.answer(7);
    assert.equal(await theirsRun, 7);
  });
});
