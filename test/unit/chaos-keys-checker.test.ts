/**
 * The keys checker (chaos/key-checker.ts) on hand-made logs: a clean keys
 * run reports nothing, and two believed owners of a key, a key's term
 * going back, keys unbalanced at the end, a task running on past its abort
 * and a given-up key taken over before its task drained are each reported.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check, type ViolationKind } from '../../chaos/checker.js';
import { TASK_SLACK, balanceBound, keyTenuresOf } from '../../chaos/key-checker.js';
import { TASK_DRAIN_MS } from '../../chaos/keys.js';
import { UsageError, parseChaosArgs } from '../../chaos/options.js';
import type { ChaosReport, FaultRecord, RunLog } from '../../chaos/records.js';
import { formatSummary, summarize } from '../../chaos/summary.js';

const AGE = 2000;
const TICK = 500;
/** How far a renewal's deadline reaches (age less the margin). */
const LEASE = 1900;
const STOP = 10_000;

function at(node: string, mono: number, event: string, fields: Record<string, unknown> = {}, run = 1): ChaosReport {
  return { node, run, mono, wall: mono, event, ...fields };
}

/**
 * One tenure of `key` on `node` from `start`: acquired, its task started,
 * renewed every second, then ended at `end` (`reason`; none: no report of
 * its end, as for a paused or killed process) with its task's abort and,
 * `drain` later, the task's return.
 */
function tenure(node: string, key: string, term: number, start: number, end: number, reason: string | undefined, drain = TASK_DRAIN_MS): ChaosReport[] {
  const renewals: ChaosReport[] = [];
  for (let t = start + 1000; t < end; t += 1000) renewals.push(at(node, t, 'key-renewed', { renewed: [[key, term, t + LEASE]] }));
  return [
    at(node, start, 'key-acquired', { key, term, until: start + LEASE }),
    at(node, start + 1, 'task-start', { key, term }),
    ...renewals,
    ...(reason === undefined
      ? []
      : [
          at(node, end, 'key-released', { key, term, reason }),
          at(node, end, 'task-abort', { key, term, reason }),
          at(node, end + drain, 'task-end', { key, term }),
        ]),
  ];
}

/**
 * A clean keys run, 4 keys on two members: node-1 holds 0 and 1, node-2
 * holds 2 and 3; node-2 is paused from 1 s to 1.5 s (the last heal); at 3 s
 * they swap keys 1 and 2 gracefully (given up, drained, taken 200 ms
 * later); the stop at 10 s closes everything. The leader election runs
 * quietly on node-1 throughout.
 */
function cleanParts(): { reports: ChaosReport[][]; faults: FaultRecord[] } {
  return {
    reports: [
      [at('node-1', 0, 'ready'), at('node-2', 0, 'ready')],
      [at('node-1', 50, 'elected', { term: 1, until: 1950 }), at('node-1', 9000, 'renewed', { term: 1, until: 10_900 })],
      [at('node-1', STOP, 'revoked', { term: 1, reason: 'closed' })],
      tenure('node-1', '0', 1, 100, STOP, 'closed'),
      tenure('node-1', '1', 1, 100, 3000, 'resigned'),
      tenure('node-2', '1', 2, 3200, STOP, 'closed'),
      tenure('node-2', '2', 1, 150, 3000, 'resigned'),
      tenure('node-1', '2', 2, 3200, STOP, 'closed'),
      tenure('node-2', '3', 1, 150, STOP, 'closed'),
    ],
    faults: [{ id: 1, kind: 'pause', target: 'node-2', start: 1000, heal: 1500, detail: 'SIGSTOP' }],
  };
}

function logOf(parts: { reports: ChaosReport[][]; faults: FaultRecord[] }): RunLog {
  return {
    seed: 1,
    age: AGE,
    tick: TICK,
    nodes: ['node-1', 'node-2'],
    kinds: ['pause'],
    ended: STOP + 500,
    reports: parts.reports.flat().sort((a, b) => a.mono - b.mono),
    faults: parts.faults,
    probes: [],
    rows: [],
    keys: { count: 4, stoppedAt: STOP },
  };
}

/** The clean log with the tenure reports at `index` of {@link cleanParts} replaced. */
function changed(index: number, replacement: ChaosReport[], faults?: FaultRecord[]): RunLog {
  const parts = cleanParts();
  parts.reports[index] = replacement;
  return logOf({ reports: parts.reports, faults: faults ?? parts.faults });
}

const kinds = (log: RunLog): ViolationKind[] => check(log).violations.map((v) => v.kind);

describe('chaos keys checker', () => {
  it('passes a clean run, and measures the balance from the last heal', () => {
    const log = logOf(cleanParts());
    const verdict = check(log);
    assert.deepEqual(verdict.violations, []);
    assert.equal(verdict.keys.tenures.length, 6);
    assert.equal(verdict.keys.tasks.length, 6);
    // Keys 1 and 2 had no owner from 3 s to 3.2 s: balanced from 3.2 s, 1.7 s after the heal at 1.5 s.
    assert.deepEqual(verdict.keys.balance, { from: 1500, balancedAt: 3200, ms: 1700, bound: balanceBound(AGE, TICK), problem: undefined });
    const summary = summarize(log, verdict);
    assert.equal(summary.keys?.overlaps, 0);
    assert.deepEqual(summary.keys?.endedBy, { closed: 4, resigned: 2 });
    assert.equal(summary.keys?.balance.ms, 1700);
    // The pause is the one heal: the keys were balanced again 1.7 s after it, before the stop.
    assert.deepEqual(verdict.keys.rebalances, [{ fault: 1, kind: 'pause', heal: 1500, ms: 1700, windowMs: STOP - 1500 }]);
    assert.equal(summary.keys?.rebalance.maxMs, 1700);
    assert.ok(formatSummary(summary).some((line) => line.includes('0 overlaps of believed ownership')));
  });

  it('catches two believed owners of a key at once', () => {
    // node-2 takes key 1 at 2.9 s, while node-1 still owns it (it gives it up at 3 s).
    const log = changed(5, tenure('node-2', '1', 2, 2900, STOP, 'closed'));
    const verdict = check(log);
    const overlap = verdict.violations.find((v) => v.kind === 'key-overlap');
    assert.ok(overlap, JSON.stringify(verdict.violations));
    assert.match(overlap.message, /^key 1: two leaders at once for 100\.0 ms: node-1 term 1/);
    assert.deepEqual(overlap.nodes, ['node-1', 'node-2']);
  });

  it('holds a silent tenure until its last renewal’s deadline, and catches an owner inside it', () => {
    // node-1's last renewal of key 1 at 2.1 s reaches to 4 s; then it says nothing more (paused, say).
    const silent = [at('node-1', 100, 'key-acquired', { key: '1', term: 1, until: 2000 }), at('node-1', 2100, 'key-renewed', { renewed: [['1', 1, 4000]] })];
    const parts = cleanParts();
    parts.reports[4] = silent;
    parts.reports[5] = tenure('node-2', '1', 2, 4100, STOP, 'closed');
    assert.deepEqual(
      keyTenuresOf(logOf(parts).reports, STOP + 500).find((t) => t.key === '1' && t.node === 'node-1'),
      { node: 'node-1', run: 1, key: '1', term: 1, start: 100, end: 4000, reason: undefined },
    );
    assert.ok(!kinds(logOf(parts)).includes('key-overlap'));
    parts.reports[5] = tenure('node-2', '1', 2, 3900, STOP, 'closed');
    assert.ok(kinds(logOf(parts)).includes('key-overlap'));
    // A renewal found already expired when the participant looked (at 4.5 s, after a pause) extends nothing.
    parts.reports[4] = [...silent, at('node-1', 4500, 'key-renewed', { renewed: [['1', 1, 4500, 'expired']] })];
    parts.reports[5] = tenure('node-2', '1', 2, 4100, STOP, 'closed');
    assert.ok(!kinds(logOf(parts)).includes('key-overlap'));
    parts.reports[4] = [...silent, at('node-1', 4500, 'key-renewed', { renewed: [['1', 1, 4500]] })];
    assert.ok(kinds(logOf(parts)).includes('key-overlap'));
    parts.reports[4] = silent;
    parts.reports[5] = tenure('node-2', '1', 2, 3900, STOP, 'closed');
    // Its process exited at 3.5 s: the tenure ends there, and an owner from 3.9 s is no overlap.
    parts.reports.push([at('node-1', 3500, 'exited', { reason: 'SIGKILL', expected: true })]);
    assert.ok(!kinds(logOf(parts)).includes('key-overlap'));
  });

  it('catches a key whose term goes back', () => {
    // node-2 takes key 1 after node-1 let it go, under term 1 again (node-1 had term 1).
    const log = changed(5, tenure('node-2', '1', 1, 3200, STOP, 'closed'));
    const violation = check(log).violations.find((v) => v.kind === 'key-term-order');
    assert.ok(violation);
    assert.match(violation.message, /^key 1: terms do not grow: node-1 term 1 .*, then node-2 term 1/);
  });

  it('catches keys unbalanced at the end, and keys balanced too late', () => {
    // node-2 keeps key 2: node-2 holds 3 keys to the end, node-1 one.
    const parts = cleanParts();
    parts.reports[6] = tenure('node-2', '2', 1, 150, STOP, 'closed');
    parts.reports[7] = [];
    const verdict = check(logOf(parts));
    const violation = verdict.violations.find((v) => v.kind === 'unbalanced');
    assert.ok(violation, JSON.stringify(verdict.violations));
    assert.match(violation.message, /not balanced when the participants were stopped: with 2 members running, node-1 held 1, node-2 held 3 \(not 2\)/);
    // A key nobody owns at the end.
    assert.match(check(changed(7, [])).violations.find((v) => v.kind === 'unbalanced')?.message ?? '', /1 of 4 keys had no owner/);
    // Balanced, but later than the bound after the last heal.
    const late = changed(7, tenure('node-1', '2', 2, 1500 + balanceBound(AGE, TICK) + 100, STOP, 'closed'));
    assert.match(check(late).violations.find((v) => v.kind === 'unbalanced')?.message ?? '', /balanced 7100 ms after the last heal at 1\.500 s; bound 7000 ms/);
  });

  it('catches a task running on past its abort, unless its process was paused meanwhile', () => {
    const drain = TASK_DRAIN_MS + TASK_SLACK + 100;
    const log = changed(4, tenure('node-1', '1', 1, 100, 3000, 'resigned', drain));
    const violation = check(log).violations.find((v) => v.kind === 'late-task');
    assert.ok(violation);
    assert.match(violation.message, /the task of key 1 on node-1 \(process 1, term 1\): its signal aborted at 3\.000 s, it returned at 4\.200 s/);
    // node-1 paused for 200 ms during the drain: within its bound.
    const pause: FaultRecord = { id: 2, kind: 'pause', target: 'node-1', start: 3100, heal: 3300, detail: 'SIGSTOP' };
    const paused = changed(4, tenure('node-1', '1', 1, 100, 3000, 'resigned', drain), [...cleanParts().faults, pause]);
    assert.ok(!kinds(paused).includes('late-task'));
  });

  it('catches a signal that aborts long after its tenure ended, or never', () => {
    // Key 3's tenure ends at its deadline (no renewal after 5.15 s reaches past 7.05 s); its task hears nothing until 9 s.
    const parts = cleanParts();
    const expired = tenure('node-2', '3', 1, 150, 5500, undefined);
    parts.reports[8] = [
      ...expired,
      at('node-2', 9000, 'key-released', { key: '3', term: 1, reason: 'expired' }),
      at('node-2', 9000, 'task-abort', { key: '3', term: 1, reason: 'expired' }),
      at('node-2', 9100, 'task-end', { key: '3', term: 1 }),
    ];
    const violations = check(logOf(parts)).violations.filter((v) => v.kind === 'late-task');
    assert.equal(violations.length, 1);
    assert.match(violations[0]?.message ?? '', /its tenure ended at 7\.050 s, its signal aborted at 9\.000 s/);
    parts.reports[8] = expired;
    assert.match(check(logOf(parts)).violations.find((v) => v.kind === 'late-task')?.message ?? '', /its signal had not aborted by 10\.500 s/);
  });

  it('catches a given-up key taken over before its task drained', () => {
    // node-1 gives key 1 up at 3 s, its task drains until 3.1 s, and node-2 owns it from 3.05 s: no believed overlap, yet the task ran on.
    const log = changed(5, tenure('node-2', '1', 2, 3050, STOP, 'closed'));
    const found = kinds(log);
    assert.ok(!found.includes('key-overlap'));
    const violation = check(log).violations.find((v) => v.kind === 'task-overlap');
    assert.ok(violation);
    assert.match(
      violation.message,
      /key 1: node-1 gave it up \(resigned, term 1\) at 3\.000 s, yet its task still ran until 3\.100 s when node-2 began term 2 at 3\.050 s/,
    );
    // A lost tenure owes only its abort: the next owner may begin while the task drains.
    const lost = cleanParts();
    lost.reports[4] = tenure('node-1', '1', 1, 100, 3000, 'expired');
    lost.reports[5] = tenure('node-2', '1', 2, 3050, STOP, 'closed');
    assert.ok(!kinds(logOf(lost)).includes('task-overlap'));
  });

  it('parses --keys with its defaults, and refuses what does not fit', () => {
    const args = parseChaosArgs(['--keys', '--seed', '1']);
    assert.ok(args !== 'help');
    assert.deepEqual([args.keys, args.participants, args.interval], [64, 4, 4000]);
    const more = parseChaosArgs(['--keys', '--key-count', '200', '--participants', '5']);
    assert.ok(more !== 'help');
    assert.deepEqual([more.keys, more.participants], [200, 5]);
    const plain = parseChaosArgs([]);
    assert.ok(plain !== 'help');
    assert.equal(plain.keys, 0);
    assert.throws(() => parseChaosArgs(['--key-count', '10']), UsageError);
    assert.throws(() => parseChaosArgs(['--keys', '--jobs']), UsageError);
    assert.throws(() => parseChaosArgs(['--keys', '--cluster', 'galera']), UsageError);
    assert.throws(() => parseChaosArgs(['--keys', '--key-count', '0']), /--key-count must be a whole number from 1/);
    // The settle time of a keys run leaves the balance bound and 2 s: 60 s is plenty, 10 s too little.
    assert.throws(() => parseChaosArgs(['--keys', '--duration', '10s']), /--duration must leave at least 5 s of faults before the last 9000 ms/);
  });
});
