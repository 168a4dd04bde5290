/**
 * The tenure bookkeeping of the demo and the process tests
 * (src/cli/harness/tenures.ts, and who leads by a participant's reports).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParticipantProcess } from '../../src/cli/harness/participant-process.js';
import { findViolation, tenuresOf, type Report } from '../../src/cli/harness/tenures.js';

const report = (node: string, event: string, mono: number, extra: Partial<Report> = {}): Report => ({ node, event, mono, wall: 0, ...extra });

describe('tenures', () => {
  it('a tenure ends at the earlier of revoked and its last deadline', () => {
    const tenures = tenuresOf([
      report('a', 'elected', 10, { term: 1, until: 30 }),
      report('a', 'renewed', 20, { term: 1, until: 40 }),
      report('a', 'revoked', 50, { term: 1, reason: 'expired' }),
      report('a', 'elected', 60, { term: 3, until: 80 }),
      report('a', 'revoked', 70, { term: 3, reason: 'resigned' }),
    ]);
    assert.deepEqual(tenures, [
      { node: 'a', term: 1, start: 10, end: 40 },
      { node: 'a', term: 3, start: 60, end: 70 },
    ]);
  });

  it('a process killed while leading (no revoked) ends its tenure at its last deadline, even when it is restarted', () => {
    const tenures = tenuresOf(
      [report('a', 'elected', 10, { term: 1, until: 30 }), report('a', 'ready', 100), report('a', 'elected', 120, { term: 4, until: 140 })],
      130,
    );
    assert.deepEqual(tenures, [
      { node: 'a', term: 1, start: 10, end: 30 },
      { node: 'a', term: 4, start: 120, end: 130 },
    ]);
  });

  it('finds two leaders at once, and terms that do not grow; nothing in a clean history', () => {
    const a = { node: 'a', term: 1, start: 0, end: 100 };
    assert.match(findViolation([a, { node: 'b', term: 2, start: 90, end: 120 }]) ?? '', /^two leaders at once/);
    assert.match(findViolation([a, { node: 'b', term: 2, start: 10, end: 20 }, { node: 'c', term: 3, start: 50, end: 60 }]) ?? '', /^two leaders at once/);
    assert.match(findViolation([a, { node: 'b', term: 1, start: 100, end: 120 }]) ?? '', /^terms do not grow/);
    assert.equal(findViolation([a, { node: 'b', term: 2, start: 100, end: 120 }, { node: 'a', term: 3, start: 130, end: 140 }]), undefined);
  });
});

describe('participant processes', () => {
  it('a process killed while leading and started again does not lead until it is elected again (the demo draws no leader early)', () => {
    const node = new ParticipantProcess({ url: 'mysql://root@127.0.0.1/unused', leaderName: 'e', nodeName: 'a', age: 3000, tick: 1000 });
    node.reports.push(report('a', 'ready', 0), report('a', 'elected', 10, { term: 1, until: 30 }));
    assert.equal(node.leading, true);
    node.reports.push(report('a', 'ready', 100)); // killed with SIGKILL (no revoked), then started again
    assert.equal(node.leading, false, "the first run's election does not count for the second run");
    node.reports.push(report('a', 'elected', 120, { term: 3, until: 140 }));
    assert.equal(node.leading, true);
    node.reports.push(report('a', 'revoked', 130, { term: 3, reason: 'closed' }));
    assert.equal(node.leading, false);
  });
});
