/**
 * The line of follower steps of a lease engine (`StepGate`): at most so
 * many steps at once, first come first in, and a campaign stopped while it
 * waits leaves the line without taking a place; on its own, and under
 * electors on a fake clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Elector } from '../../src/elector.js';
import { continueOnError } from '../../src/on-error.js';
import { resolveOptions } from '../../src/options.js';
import { StepGate } from '../../src/step-gate.js';
import type { HeldTenure, HoldingStore, Observation } from '../../src/store.js';
import { FakeClock, flush } from '../support/fake-clock.js';
import { AGE, MARGIN, TICK } from '../support/participants.js';

describe('StepGate', () => {
  it('lets `limit` steps in, queues the rest first come first in, and skips a waiter that no longer wants in', () => {
    const gate = new StepGate(2);
    assert.equal(gate.enter(), true);
    assert.equal(gate.enter(), true);
    assert.equal(gate.enter(), false, 'full');
    const order: string[] = [];
    const waiter = (name: string, wants = true) => ({ admitted: () => (order.push(name), wants) });
    gate.wait(waiter('a'));
    gate.wait(waiter('gone', false));
    gate.wait(waiter('b'));
    gate.leave();
    assert.deepEqual(order, ['a'], 'a takes the place left');
    assert.equal(gate.inside, 2);
    gate.leave();
    assert.deepEqual(order, ['a', 'gone', 'b'], 'the one that stopped is passed over');
    assert.equal(gate.inside, 2);
    assert.equal(gate.waiting, 0);
    gate.leave();
    gate.leave();
    assert.equal(gate.inside, 0, 'the line empty, every place is free again');
    assert.equal(gate.enter(), true);
  });
});

/** A holding store whose reads wait until the test answers them; claims win at once. */
class SlowReads implements HoldingStore {
  readonly reads: ((observation: Observation) => void)[] = [];
  readonly held: HeldTenure[] = [];
  constructor(
    readonly name: string,
    readonly steps: StepGate,
  ) {}
  read(): Promise<Observation> {
    return new Promise((resolve) => this.reads.push(resolve));
  }
  async claim(): Promise<number> {
    return 1;
  }
  async release(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
  hold(tenure: HeldTenure): void {
    this.held.push(tenure);
  }
}

/** The electors' options: statements that never time out on the fake clock (the test answers them). */
const options = resolveOptions({ nodeName: 'a', age: AGE, tick: TICK, margin: MARGIN, queryTimeout: 10 * AGE, onError: continueOnError, handoverLock: false });

describe('elector: follower steps through a StepGate', () => {
  it('never has more than `limit` steps in flight; one stopped while it waits ends at once and takes no place', async () => {
    const clock = new FakeClock();
    const gate = new StepGate(2);
    const stores = ['e0', 'e1', 'e2', 'e3', 'e4'].map((name) => new SlowReads(name, gate));
    const electors = stores.map((store) => new Elector(store, options, clock));
    const stops = electors.map(() => new AbortController());
    const campaigns = electors.map((elector, i) => elector.acquire(stops[i]?.signal).catch((error: unknown) => error));
    const pending = (): number => stores.reduce((sum, store) => sum + store.reads.length, 0);
    await flush();
    assert.equal(pending(), 2, 'two reads in flight, the others in line');
    assert.equal(gate.waiting, 3);
    // e3 is stopped while in line: its campaign ends at once, without a read.
    stops[3]?.abort(new Error('stopped'));
    assert.match(String(await campaigns[3]), /stopped/);
    assert.equal(stores[3]?.reads.length, 0);
    // Each answered read lets one more in: at most two at once throughout, until all the others lead.
    let most = 0;
    while (electors.filter((elector, i) => i !== 3 && elector.leading).length < 4) {
      const store = stores.find((one) => one.reads.length > 0);
      assert.ok(store, 'a read waits to be answered');
      store.reads.shift()?.({ lease: undefined, coordinator: '' });
      await flush();
      most = Math.max(most, pending());
    }
    assert.ok(most <= 2, `${most} reads in flight at most`);
    assert.deepEqual(
      stores.map((store) => store.held.length),
      [1, 1, 1, 0, 1],
      'each elected and held once, but the one stopped',
    );
    assert.equal(gate.inside, 0, 'every place free again: the stopped one took none');
    for (const elector of electors) await elector.close();
  });

  it('a step that first releases a lease of ours (after resign()) takes no place: it goes on while the line is full', async () => {
    const clock = new FakeClock();
    const gate = new StepGate(1);
    const store = new SlowReads('e', gate);
    const elector = new Elector(store, options, clock);
    void elector.acquire().catch(() => {});
    await flush();
    store.reads.shift()?.({ lease: undefined, coordinator: '' });
    await flush();
    assert.equal(elector.leading, true);
    assert.equal(gate.enter(), true, 'another step takes the only place, and keeps it');
    const resigned = elector.resign();
    await clock.advance(0); // the loop's pause of 0 ms after the tenure, on the fake clock
    assert.equal(store.reads.length, 1, 'the resigning step reads its row although the line is full');
    const ours = { nodeName: 'a', term: 1, version: 'v', released: false, acquiredAt: new Date(), expiresInMs: AGE, renewedAt: new Date(), renewedMsAgo: 0 };
    store.reads.shift()?.({ lease: ours, coordinator: '' });
    await resigned;
    assert.equal(gate.inside, 1, 'and took no place');
    gate.leave();
    await elector.close();
  });
});
