/**
 * The database clock as a scheduled job estimates it (src/clock-estimate.ts):
 * never ahead of the real one, so that no slot is claimed as due early by
 * this host's reckoning, and as tight as the quickest read. Pure: a
 * simulated database clock and monotonic times, no timers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClockEstimate, type ClockRead } from '../../src/clock-estimate.js';

/** A deterministic pseudo-random sequence in [0, 1). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

/**
 * A read of a database clock that is `offset` ahead of the monotonic clock:
 * sent at `sent`, answered `rtt` later, the server reading its clock at
 * `where` (0 to 1) of the way.
 */
function read(offset: number, sent: number, rtt: number, where: number): ClockRead {
  return { now: sent + rtt * where + offset, sent, at: sent + rtt };
}

describe('clock estimate', () => {
  it('is never ahead of the database clock, whatever the round trips and when the server read its clock in them', () => {
    const next = random(13);
    const offset = 1_765_000_000_000;
    const estimate = new ClockEstimate();
    assert.equal(estimate.at(0), -Infinity, 'nothing is due before the first read');
    let mono = 1000;
    for (let i = 0; i < 2000; i++) {
      const rtt = next() < 0.1 ? 50 + next() * 200 : next() * 3; // now and then a slow read, as on a loaded host
      estimate.add(read(offset, mono, rtt, next()));
      mono += rtt;
      for (const probe of [mono, mono + next() * 1000]) assert.ok(estimate.at(probe) <= probe + offset, `read ${i}: ahead at ${probe}`);
      mono += next() * 1000;
    }
  });

  it('is as tight as the quickest read: a slow read later does not make it late', () => {
    const offset = 5_000;
    const estimate = new ClockEstimate();
    estimate.add(read(offset, 0, 1, 0.5)); // a quick read: within 1 ms
    estimate.add(read(offset, 1000, 200, 0.5)); // a slow one: its lower bound is 100 ms behind
    const behind = 2000 + offset - estimate.at(2000);
    assert.ok(behind >= 0 && behind <= 1, `${behind} ms behind`);
  });

  it('follows a database clock that went back: after the next read it is not ahead of it', () => {
    const estimate = new ClockEstimate();
    estimate.add(read(10_000, 0, 1, 0.5));
    estimate.add(read(9_000, 1000, 1, 0.5)); // the database clock stepped back a second
    assert.ok(estimate.at(1500) <= 1500 + 9_000, `${estimate.at(1500) - 1500 - 9_000} ms ahead`);
  });

  it('reset forgets the earlier reads: after a refused claim, only the new read counts', () => {
    const estimate = new ClockEstimate();
    estimate.add(read(10_000, 0, 1, 0)); // the server read its clock as the statement arrived
    estimate.reset(read(10_000, 1000, 100, 0.5));
    assert.equal(estimate.at(1100), 1100 + 10_000 - 50, 'the new read’s lower bound');
  });
});
