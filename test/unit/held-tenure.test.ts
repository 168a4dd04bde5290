/**
 * The elector on a store that holds leases (a `Leases` engine's): the
 * tenure handed to the store between two steps, and the safety rule kept on
 * that path, on a fake clock.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Elector, firstRenewalEarly } from '../../src/elector.js';
import { QueryTimeoutError } from '../../src/errors.js';
import { continueOnError } from '../../src/on-error.js';
import { resolveOptions } from '../../src/options.js';
import type { HeldTenure, HoldingStore } from '../../src/store.js';
import { FakeClock, flush } from '../support/fake-clock.js';
import { MemoryDatabase, MemoryStore } from '../support/memory-store.js';
import { AGE, MARGIN, TICK } from '../support/participants.js';

/** A holding store over the in-memory database: the test plays the engine's schedule. */
class HeldStore implements HoldingStore {
  readonly name = 'memory';
  readonly held: HeldTenure[] = [];
  readonly #memory: MemoryStore;

  constructor(db: MemoryDatabase, node: string) {
    this.#memory = new MemoryStore(db, node, AGE);
  }

  read(signal: AbortSignal) {
    return this.#memory.read(signal);
  }
  claim(...args: Parameters<MemoryStore['claim']>) {
    return this.#memory.claim(...args);
  }
  release(...args: Parameters<MemoryStore['release']>) {
    return this.#memory.release(...args);
  }
  close() {
    return this.#memory.close();
  }
  hold(tenure: HeldTenure): void {
    this.held.push(tenure);
  }
}

const electors: Elector[] = [];

function elector(clock: FakeClock) {
  const db = new MemoryDatabase(clock);
  const store = new HeldStore(db, 'a');
  const options = resolveOptions({ nodeName: 'a', age: AGE, tick: TICK, margin: MARGIN, queryTimeout: TICK, onError: continueOnError, handoverLock: false });
  const subject = new Elector(store, options, clock);
  electors.push(subject);
  const events: string[] = [];
  const errors: Error[] = [];
  subject.on('elected', ({ term }) => events.push(`elected ${term} at ${clock.now()}`));
  subject.on('renewed', ({ latencyMs }) => events.push(`renewed after ${latencyMs} at ${clock.now()}`));
  subject.on('revoked', ({ reason }) => events.push(`revoked ${reason} at ${clock.now()}`));
  subject.on('error', (error) => errors.push(error));
  void subject.acquire().catch(() => {});
  return { subject, store, events, errors };
}

beforeEach(() => void mock.method(Math, 'random', () => 0));
afterEach(async () => {
  for (const one of electors.splice(0)) await one.close();
  mock.restoreAll();
});

describe('elector: a tenure held by its store', () => {
  it('hands the tenure to the store, its first renewal a little early, and takes the deadline from the asking', async () => {
    const clock = new FakeClock();
    const { subject, store, events } = elector(clock);
    await clock.advance(0);
    assert.equal(subject.leading, true);
    assert.equal(store.held.length, 1, 'handed over once elected');
    const tenure = store.held[0] as HeldTenure;
    assert.equal(tenure.term, 1);
    assert.equal(tenure.due, 1000 + TICK - firstRenewalEarly('memory', 'a', 1, TICK));
    assert.equal(clock.pending, 1, 'no timer of the loop while held: only the step-down timer');
    await clock.advance(200);
    assert.equal(tenure.ask(clock.now()), TICK, 'the statement limit');
    await clock.advance(30); // the batch takes 30 ms
    tenure.settle(true, clock.now());
    // The deadline counts from the asking (1200), not from the answer (1230).
    assert.equal(subject.remainingMs, 1200 + AGE - MARGIN - 1230);
    assert.equal(store.held.length, 2, 'held again for the next renewal');
    assert.equal(store.held[1]?.due, 1200 + TICK);
    assert.deepEqual(events, ['elected 1 at 1000', 'renewed after 30 at 1230']);
  });

  it('ends the tenure at its deadline while a renewal is in flight, and goes on only once it is answered', async () => {
    const clock = new FakeClock();
    const { subject, store, events } = elector(clock);
    await clock.advance(0);
    const tenure = store.held[0] as HeldTenure;
    await clock.advance(100);
    tenure.ask(clock.now());
    await clock.advance(AGE);
    assert.equal(subject.leading, false);
    assert.deepEqual(events.slice(1), [`revoked expired at ${1000 + AGE - MARGIN}`]);
    assert.equal(tenure.ask(clock.now()), undefined, 'over: nothing more to send');
    tenure.settle(true, clock.now()); // a late confirmation confers nothing
    assert.equal(subject.leading, false);
    assert.equal(store.held.length, 1, 'not held again');
    // The loop goes on: the lapsed lease is claimed anew, under the next term.
    await clock.until(() => store.held.length === 2, AGE);
    assert.equal(store.held[1]?.term, 2);
  });

  it('after many renewals (its step-down timer refreshed, not remade), still steps down exactly at the last asking + age - margin', async () => {
    // Renewals stop at different moments of the step-down timer's cycle (it fires every half lease and is looked at again).
    for (const pause of [0, 170, 333, 700, 900]) {
      const clock = new FakeClock();
      const { subject, store, events } = elector(clock);
      await clock.advance(0);
      let asked = clock.now();
      const timersBefore = clock.created;
      for (let renewal = 0; renewal < 12; renewal++) {
        const tenure = store.held.at(-1) as HeldTenure;
        await clock.advance(Math.max(0, tenure.due - clock.now()));
        asked = clock.now();
        tenure.ask(clock.now());
        await clock.advance(20);
        tenure.settle(true, clock.now());
      }
      assert.equal(clock.pending, 1, 'one timer, the step-down timer');
      assert.equal(clock.created, timersBefore, 'refreshed through 12 renewals, never remade');
      // The last renewal is asked for `pause` ms later and never answered: only the step-down timer can end the tenure.
      await clock.advance(pause);
      const last = store.held.at(-1) as HeldTenure;
      const deadline = asked + AGE - MARGIN;
      const inFlight = pause < deadline - clock.now() && last.ask(clock.now()) !== undefined;
      await clock.advance(deadline - clock.now() - 1);
      assert.equal(subject.leading, true, `pause ${pause}: still leading 1 ms before the deadline`);
      await clock.advance(1);
      assert.equal(events.at(-1), `revoked expired at ${deadline}`, `pause ${pause}`);
      if (inFlight) last.settle(true, clock.now()); // answered at last: too late to renew anything, and close() can go on.
    }
  });

  it('steps down on a renewal the database refused, and on one whose outcome is unknown', async () => {
    const clock = new FakeClock();
    const { subject, store, events, errors } = elector(clock);
    await clock.advance(0);
    (store.held[0] as HeldTenure).ask(clock.now());
    (store.held[0] as HeldTenure).settle(false, clock.now());
    assert.equal(subject.leading, false);
    assert.deepEqual(events.slice(1), ['revoked lost at 1000']);
    // Held off for a tick and a bit, then elected again (the lease was found released).
    await clock.until(() => store.held.length === 2, 2 * AGE);
    const second = store.held[1] as HeldTenure;
    assert.ok(subject.leading && second.term > 1, 'elected again, under a new term');
    second.ask(clock.now());
    second.settle(new QueryTimeoutError('renewing the leases', TICK), clock.now());
    await flush();
    assert.equal(subject.leading, false);
    assert.match(events.at(-1) ?? '', /^revoked error/);
    assert.ok(errors.at(-1) instanceof QueryTimeoutError, 'the error is reported');
  });

  it('close() ends a held tenure and waits for the renewal in flight before it releases', async () => {
    const clock = new FakeClock();
    const { subject, store, events } = elector(clock);
    await clock.advance(0);
    const tenure = store.held[0] as HeldTenure;
    await clock.advance(200);
    tenure.ask(clock.now());
    let closed = false;
    void subject.close().then(() => (closed = true));
    await clock.advance(100);
    assert.equal(subject.leading, false);
    assert.equal(closed, false, 'waits for the renewal in flight');
    tenure.settle(true, clock.now());
    await clock.advance(0);
    assert.equal(closed, true);
    assert.deepEqual(events.slice(1), ['revoked closed at 1200']);
  });
});
