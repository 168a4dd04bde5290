/**
 * The chaos checker on hand-made logs: a clean run reports nothing, and each
 * kind of violation planted in it is reported, at the right place.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HANDOVER_BOUND, check, coveredTime, handoverBoundOf, percentile, resignBound, tenuresOfRun, type ViolationKind } from '../../chaos/checker.js';
import { UsageError, parseChaosArgs } from '../../chaos/options.js';
import { kindsOf } from '../../chaos/records.js';
import { summarize } from '../../chaos/summary.js';
import type { ChaosReport, FaultRecord, LogRow, RunLog } from '../../chaos/records.js';

const AGE = 2000;
const TICK = 500;

/** A report of `node` (first process unless `run` says otherwise) at `mono` ms. */
function at(node: string, mono: number, event: string, fields: Record<string, unknown> = {}, run = 1): ChaosReport {
  return { node, run, mono, wall: mono, event, ...fields };
}

/** A tenure: elected at `start`, renewed until `end`, revoked at `end`. */
function tenure(node: string, term: number, start: number, end: number, run = 1): ChaosReport[] {
  return [
    at(node, start, 'elected', { term, until: Math.min(end, start + 1900) }, run),
    at(node, end - 1, 'renewed', { term, until: end + 500 }, run),
    at(node, end, 'revoked', { term, reason: 'expired' }, run),
  ];
}

/** A fenced write: begun at `begun`, inserted 5 ms later under `term`, then `outcome` 5 ms after that. */
function write(node: string, seq: number, term: number, begun: number, outcome = 'acked'): ChaosReport[] {
  return [
    at(node, begun, 'write', { seq, phase: 'begin' }),
    at(node, begun + 5, 'write', { seq, phase: 'inserted', term }),
    at(node, begun + 10, 'write', { seq, phase: outcome }),
  ];
}

const row = (participant: string, seq: number, term: number, liveTerm: number | null = term): LogRow => ({ participant, seq, term, liveTerm });

/**
 * A clean run: node-1 leads under term 1 for [0, 1000] and writes seq 1 and
 * 2; it is killed at 1000 and back at 1500; node-2 leads under term 2 from
 * 3000 (its lease had to run out) and writes seq 1.
 */
function cleanLog(): RunLog {
  return {
    seed: 1,
    age: AGE,
    tick: TICK,
    nodes: ['node-1', 'node-2'],
    kinds: ['kill'],
    ended: 6000,
    reports: [
      ...tenure('node-1', 1, 0, 1000),
      ...write('node-1', 1, 1, 100),
      ...write('node-1', 2, 1, 200),
      ...write('node-1', 3, 1, 300, 'unknown'), // in doubt, and absent: allowed
      at('node-1', 1000, 'exited', { reason: 'SIGKILL', expected: true }),
      ...tenure('node-2', 2, 3000, 5000),
      ...write('node-2', 1, 2, 3100),
      at('node-2', 3200, 'write', { seq: 2, phase: 'begin' }),
      at('node-2', 3201, 'write', { seq: 2, phase: 'rejected' }),
    ],
    faults: [{ id: 1, kind: 'kill', target: 'node-1', start: 1000, heal: 1500, detail: 'SIGKILL' }],
    probes: [],
    rows: [row('node-1', 1, 1), row('node-1', 2, 1), row('node-2', 1, 2)],
  };
}

function kinds(log: RunLog): ViolationKind[] {
  return check(log).violations.map((v) => v.kind);
}

describe('chaos checker', () => {
  it('reports nothing for a clean log, and measures the recovery from the heal', () => {
    const verdict = check(cleanLog());
    assert.deepEqual(verdict.violations, []);
    assert.equal(verdict.tenures.length, 2);
    assert.deepEqual(
      verdict.recoveries.map((r) => [r.ms, r.bound]),
      [[1500, AGE + TICK]],
    );
  });

  it('reports two tenures that overlap', () => {
    const log = cleanLog();
    // node-2 leads under term 2 for [900, 950] instead of from 3000.
    const reports = [...log.reports.filter((r) => !(r.node === 'node-2' && r.mono >= 3000)), ...tenure('node-2', 2, 900, 950)];
    const overlapping = { ...log, reports, rows: log.rows.slice(0, 2), faults: [] };
    const { violations } = check(overlapping);
    assert.deepEqual(
      violations.map((v) => [v.kind, v.at, v.nodes]),
      [['overlap', 900, ['node-1', 'node-2']]],
    );
  });

  it('reports a term that does not grow', () => {
    const log = cleanLog();
    const reports = log.reports.map((r) => (r.node === 'node-2' && r.term === 2 ? { ...r, term: 1 } : r));
    assert.ok(kinds({ ...log, reports, rows: log.rows.slice(0, 2) }).includes('term-order'));
  });

  it('reports a write committed under a term that was no longer live', () => {
    const log = cleanLog();
    // node-1 writes seq 4 under term 1 at 3500, after node-2 began term 2 at 3000.
    const stale = { ...log, reports: [...log.reports, ...write('node-1', 4, 1, 3500)], rows: [...log.rows, row('node-1', 4, 1)] };
    const found = check(stale).violations;
    assert.deepEqual(
      found.map((v) => [v.kind, v.at, v.nodes]),
      [['stale-write', 3505, ['node-1']]],
    );
    assert.match(found[0]?.message ?? '', /node-2 term 2/);
  });

  it('reports a write whose transaction saw another term in the election row', () => {
    const log = cleanLog();
    const witnessed = { ...log, rows: [row('node-1', 1, 1, 2), ...log.rows.slice(1)] };
    assert.deepEqual(kinds(witnessed), ['stale-write']);
  });

  it('reports a commit sent after its own tenure had ended', () => {
    const log = cleanLog();
    const late = { ...log, reports: [...log.reports, ...write('node-1', 4, 1, 1200)], rows: [...log.rows, row('node-1', 4, 1)] };
    assert.deepEqual(kinds(late), ['late-commit']);
  });

  it('reports an acknowledged write missing from the table (a lost sequence number)', () => {
    const log = cleanLog();
    const { violations } = check({ ...log, rows: [row('node-1', 1, 1), row('node-2', 1, 2)] });
    assert.deepEqual(
      violations.map((v) => [v.kind, v.nodes]),
      [['lost-write', ['node-1']]],
    );
    assert.match(violations[0]?.message ?? '', /seq 2/);
  });

  it('reports a write present twice, and rows of refused or unknown writes', () => {
    const log = cleanLog();
    const rows = [...log.rows, row('node-1', 2, 1), row('node-2', 2, 2), row('node-3', 1, 2)];
    assert.deepEqual(kinds({ ...log, rows }).sort(), ['duplicate-write', 'phantom-write', 'phantom-write']);
  });

  it('keeps the tenure of a killed process when a new process of the same name is elected later', () => {
    const reports = [
      at('node-1', 0, 'elected', { term: 1, until: 1900 }),
      at('node-1', 700, 'exited', { reason: 'SIGKILL' }),
      ...tenure('node-1', 2, 3000, 4000, 2),
    ];
    assert.deepEqual(
      tenuresOfRun(reports, 9000).map((t) => [t.term, t.start, t.end]),
      [
        [1, 0, 700],
        [2, 3000, 4000],
      ],
    );
  });

  it("exempts exactly the acknowledged writes of a failover's loss window, never more than the promotion lost", () => {
    // Replication paused at 150, promoted (without the last writes) at 400, a fresh replica at 900.
    const failover: FaultRecord = {
      id: 2,
      kind: 'failover',
      target: 'database',
      start: 150,
      heal: 900,
      detail: 'failover',
      replicationPausedAt: 150,
      promotedAt: 400,
      lostTransactions: 2,
      graceEndsAt: 2400,
    };
    const base = cleanLog();
    const log: RunLog = {
      ...base,
      cluster: 'replicated',
      kinds: ['kill', 'failover'],
      faults: [...base.faults, failover],
      reports: [
        ...base.reports,
        ...write('node-1', 4, 1, 300), // acknowledged at 310, inside the window: lost with the old primary
        ...write('node-1', 5, 1, 500), // begun after the promotion: it cannot have been lost
      ],
      // seq 1 (acknowledged at 110, before the pause), 4 and 5 are missing.
      rows: [row('node-1', 2, 1), row('node-2', 1, 2)],
    };
    const verdict = check(log);
    assert.deepEqual(
      verdict.violations.map((v) => [v.kind, v.message]),
      [
        ['lost-write', 'node-1 seq 1 (term 1) was acknowledged but is not in the table'],
        ['lost-write', 'node-1 seq 5 (term 1) was acknowledged but is not in the table'],
      ],
    );
    // A reply held by a fault proxy may arrive after the promotion: begun inside, acknowledged at 410, still exempt.
    const late = {
      ...log,
      reports: [
        ...log.reports.filter((r) => !(r.node === 'node-1' && r['seq'] === 4)),
        ...write('node-1', 4, 1, 390).map((r) => (r['phase'] === 'acked' ? { ...r, mono: 410 } : r)),
      ],
    };
    assert.deepEqual(
      check(late).violations.map((v) => v.message),
      verdict.violations.map((v) => v.message),
    );
    // More missing writes in the window than the promotion lost: reported.
    const overcounted = { ...log, faults: [base.faults[0] as FaultRecord, { ...failover, lostTransactions: 0 }] };
    assert.match(
      check(overcounted).violations.find((v) => v.message.startsWith('failover'))?.message ?? '',
      /failover 2: 1 acknowledged writes .* more than the 0 transactions/,
    );
    // The failover's bound has the grace period (2 × age + tick); for the kill, the failover is in force until its grace ends (2400).
    assert.deepEqual(
      verdict.recoveries.map((r) => [r.fault, r.ms, r.bound]),
      [
        [1, 1500, AGE + TICK + 900],
        [2, 0, 2 * AGE + TICK],
      ],
    );
    const summary = summarize(log, verdict);
    assert.equal(summary.cluster, 'replicated');
    assert.deepEqual(summary.replicated?.failovers, [
      {
        id: 2,
        lossWindowMs: 250,
        lostTransactions: 2,
        lostAckedWrites: 1,
        highestTermBefore: 1,
        firstTermAfter: 2,
        firstClaimAfterMs: 2600,
        leaderlessMs: 0,
        recoveryMs: 0,
        boundMs: 2 * AGE + TICK,
      },
    ]);
  });

  it('reports a recovery over its bound, and lets faults still in force extend the bound', () => {
    // With age 1000 the bound is 1500 ms; no leader from 1000 to 3000.
    const log = { ...cleanLog(), age: 1000 };
    const slow: FaultRecord = { id: 1, kind: 'partition', target: 'node-1', start: 500, heal: 1000, detail: '' };
    const { violations } = check({ ...log, faults: [slow] });
    assert.deepEqual(
      violations.map((v) => [v.kind, v.at]),
      [['slow-recovery', 1000]],
    );
    // The server was still down for 600 ms of that wait.
    const crash: FaultRecord = { id: 2, kind: 'db-crash', target: 'database', start: 900, heal: 1600, detail: '' };
    const verdict = check({ ...log, faults: [slow, crash] });
    assert.deepEqual(verdict.violations, []);
    assert.deepEqual(
      verdict.recoveries.map((r) => [r.fault, r.ms, r.bound]),
      [
        [1, 2000, 1000 + TICK + 600],
        [2, 1400, 1000 + TICK],
      ],
    );
  });

  it("adds a Galera node fault's measured reconfiguration to its bound, and counts it as in force until writes came back", () => {
    // With age 1000 the bound is 1500 ms; no leader from 1000 to 3000.
    const log = { ...cleanLog(), age: 1000, cluster: 'galera' as const };
    const partition: FaultRecord = { id: 1, kind: 'partition', target: 'node-1', start: 500, heal: 1000, detail: '' };
    // Node 2 frozen until 1000, but writes through another node waited 1400 ms, until 1950.
    const frozen: FaultRecord = {
      id: 2,
      kind: 'node-pause',
      target: 'galera-2',
      start: 550,
      heal: 1000,
      detail: '',
      reconfigurationMs: 1400,
      reconfigurationAt: 550,
      writesBackAt: 1950,
    };
    const verdict = check({ ...log, faults: [partition, frozen] });
    assert.deepEqual(verdict.violations, []);
    assert.deepEqual(
      verdict.recoveries.map((r) => [r.fault, r.ms, r.bound]),
      [
        // The partition's wait overlapped the node fault's reconfiguration from 1000 to 1950.
        [1, 2000, 1000 + TICK + 950],
        // Its own bound has its reconfiguration.
        [2, 2000, 1000 + TICK + 1400],
      ],
    );
    // Without the measure, both are too slow.
    const unmeasured: FaultRecord = { id: 2, kind: 'node-pause', target: 'galera-2', start: 550, heal: 1000, detail: '' };
    assert.deepEqual(
      check({ ...log, faults: [partition, unmeasured] }).violations.map((v) => [v.kind, v.at]),
      [
        ['slow-recovery', 1000],
        ['slow-recovery', 1000],
      ],
    );
    const summary = summarize({ ...log, kinds: ['partition', 'node-pause'], placement: { 'node-1': 1, 'node-2': 2 }, faults: [partition, frozen] }, verdict);
    assert.equal(summary.cluster, 'galera');
    assert.deepEqual(summary.galera?.nodeFaults, [
      { id: 2, kind: 'node-pause', node: 'galera-2', durationMs: 450, reconfigurationMs: 1400, reconfigurationFromStartMs: 0, recoveryMs: 2000, boundMs: 2900 },
    ]);
    assert.deepEqual(summary.faults.byKind['node-pause'], 1);
    assert.equal(summary.faults.byKind['db-crash'], undefined); // not a kind of the mode
  });

  it('reports a participant that exited by itself, with its last words, and a campaign that gave up', () => {
    const log = cleanLog();
    const reports = [
      ...log.reports,
      at('node-2', 5500, 'stderr', { text: 'TypeError: boom' }),
      at('node-2', 5501, 'exited', { reason: 'exit 1', expected: false }),
      at('node-1', 5600, 'failed', { message: 'DatabaseError: gone' }, 2),
    ];
    const { violations } = check({ ...log, reports });
    assert.deepEqual(
      violations.map((v) => [v.kind, v.at, v.nodes]),
      [
        ['crash', 5501, ['node-2']],
        ['crash', 5600, ['node-1']],
      ],
    );
    assert.match(violations[0]?.message ?? '', /exit 1.*TypeError: boom/);
  });

  it('reports a fenced call still pending past its bound while its process ran on, with its name and age', () => {
    const log = cleanLog();
    // node-2 begins seq 3 at 4000 under term 2 (its tenure ends at 5000); it never settles, and node-2 runs on until 9000.
    const stuck = { ...log, ended: 9000, reports: [...log.reports, at('node-2', 4000, 'write', { seq: 3, phase: 'begin' })] };
    const { violations } = check(stuck);
    assert.deepEqual(
      violations.map((v) => [v.kind, v.at, v.nodes]),
      [['stuck-call', 5000 + 2 * TICK + 1000, ['node-2']]],
    );
    assert.match(violations[0]?.message ?? '', /withLeadership\(\) of node-2 seq 3, begun at 4\.000 s, was still pending 5\.0 s later/);
    // Killed before the bound: it had no time to settle.
    assert.deepEqual(kinds({ ...stuck, reports: [...stuck.reports, at('node-2', 6000, 'exited', { reason: 'SIGKILL', expected: true })] }), []);
    // Paused by a fault meanwhile: the pause extends the bound.
    const paused: FaultRecord = { id: 2, kind: 'pause', target: 'node-2', start: 5200, heal: 8500, detail: 'SIGSTOP' };
    assert.deepEqual(
      kinds({ ...stuck, faults: [...stuck.faults, paused] }).filter((kind) => kind === 'stuck-call'),
      [],
    );
  });

  /**
   * The clean log, with a hand-over asked for after the kill healed: node-2
   * (leading under term 2) is told to resign at 4000, its resign() begins at
   * 4002 and ends at 4010, and node-1 is elected `ms` after it began.
   */
  function probedLog(ms: number): RunLog {
    const log = cleanLog();
    const reports = log.reports.flatMap((r) => (r.node === 'node-2' && r.mono >= 3000 ? [] : [r]));
    return {
      ...log,
      ended: 7000,
      reports: [
        ...reports,
        ...tenure('node-2', 2, 3000, 4003),
        ...write('node-2', 1, 2, 3100),
        at('node-2', 4002, 'resign', { phase: 'begin', leading: true, term: 2, handoverLock: true }),
        at('node-2', 4010, 'resign', { phase: 'done' }),
        ...tenure('node-1', 3, 4002 + ms, 6000, 2),
      ],
      probes: [{ id: 1, node: 'node-2', sent: 4000, after: [1] }],
    };
  }

  it('measures a hand-over after a heal, and reports one over its bound with the fault before it', () => {
    const fast = check(probedLog(12));
    assert.deepEqual(fast.violations, []);
    assert.deepEqual(
      fast.handovers.map((h) => [h.probe, h.node, h.next?.node, h.ms]),
      [[1, 'node-2', 'node-1', 12]],
    );
    const { violations } = check(probedLog(HANDOVER_BOUND + 200));
    assert.deepEqual(
      violations.map((v) => [v.kind, v.at, v.nodes]),
      [['slow-handover', 4002, ['node-2', 'node-1']]],
    );
    assert.match(
      violations[0]?.message ?? '',
      /after fault 1 \(kill on node-1\) healed: resign\(\) of node-2 at 4\.002 s, then node-1 elected 450 ms later; bound 250 ms/,
    );
  });

  it('judges hand-overs on Galera against a tick plus the margin: a follower on another node polls', () => {
    assert.equal(handoverBoundOf({ tick: TICK }), HANDOVER_BOUND);
    assert.equal(handoverBoundOf({ cluster: 'galera', tick: TICK }), TICK + HANDOVER_BOUND);
    // 450 ms: too slow on one server, within a tick + 250 ms on Galera.
    assert.deepEqual(check({ ...probedLog(HANDOVER_BOUND + 200), cluster: 'galera' }).violations, []);
    const { violations } = check({ ...probedLog(TICK + HANDOVER_BOUND + 1), cluster: 'galera' });
    assert.deepEqual(
      violations.map((v) => v.kind),
      ['slow-handover'],
    );
    assert.match(violations[0]?.message ?? '', /bound 750 ms/);
  });

  it('reports a hand-over after a heal that never came', () => {
    const log = probedLog(12);
    const none = { ...log, reports: log.reports.filter((r) => !(r.node === 'node-1' && r.run === 2)) };
    const { violations } = check(none);
    assert.deepEqual(
      violations.map((v) => v.kind),
      ['slow-handover'],
    );
    assert.match(violations[0]?.message ?? '', /no other leader before the run ended/);
  });

  it('reports a resign() still pending past its bound, with its name and age', () => {
    const log = probedLog(12);
    const pending = { ...log, ended: 12_000, reports: log.reports.filter((r) => !(r.event === 'resign' && r['phase'] === 'done')) };
    const { violations } = check(pending);
    const bound = 4002 + resignBound(AGE, TICK) + 1000;
    assert.equal(resignBound(AGE, TICK), AGE + 4 * TICK);
    assert.deepEqual(
      violations.map((v) => [v.kind, v.at, v.nodes]),
      [['stuck-call', bound, ['node-2']]],
    );
    assert.match(violations[0]?.message ?? '', /resign\(\) of node-2, begun at 4\.002 s, was still pending 8\.0 s later/);
    // Its process ended before the bound: no verdict.
    const killed = { ...pending, reports: [...pending.reports, at('node-2', bound - 1, 'exited', { reason: 'SIGKILL', expected: true })] };
    assert.deepEqual(kinds(killed), []);
  });

  it('computes covered time and nearest-rank percentiles', () => {
    assert.equal(
      coveredTime(
        [
          [0, 10],
          [5, 20],
          [30, 40],
        ],
        2,
        35,
      ),
      23,
    );
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    assert.equal(percentile([5, 1, 3, 2, 4], 99), 5);
    assert.equal(percentile([], 50), undefined);
  });
});

describe('chaos options: --cluster', () => {
  it('defaults to one server, takes galera with its own kinds, and names the flag when the value is wrong', () => {
    const single = parseChaosArgs(['--seed', '1']);
    assert.ok(single !== 'help');
    assert.equal(single.cluster, 'single');
    assert.ok(single.kinds.includes('db-crash') && !single.kinds.includes('node-kill'));
    const galera = parseChaosArgs(['--cluster', 'galera', '--seed', '1']);
    assert.ok(galera !== 'help');
    assert.equal(galera.cluster, 'galera');
    assert.deepEqual(galera.kinds, kindsOf('galera'));
    assert.ok(!galera.kinds.includes('db-crash'));
    for (const kind of ['node-kill', 'node-isolate', 'node-pause', 'node-skew', 'kill', 'fence-cut'] as const) assert.ok(galera.kinds.includes(kind), kind);
    assert.throws(
      () => parseChaosArgs(['--cluster', 'raft']),
      (error: Error) => error instanceof UsageError && /--cluster must be single, galera or replicated, received "raft"/.test(error.message),
    );
    assert.throws(() => parseChaosArgs(['--cluster', 'galera', '--faults', 'db-crash']), /--faults: "db-crash" is not a fault kind of --cluster galera/);
    assert.throws(() => parseChaosArgs(['--faults', 'node-kill']), /--faults: "node-kill" is not a fault kind of --cluster single/);
    const replicated = parseChaosArgs(['--cluster', 'replicated', '--seed', '1']);
    assert.ok(replicated !== 'help');
    assert.deepEqual(replicated.kinds, kindsOf('replicated'));
    assert.ok(replicated.kinds.includes('failover') && replicated.kinds.includes('db-kill-conn') && !replicated.kinds.includes('db-crash'));
    assert.throws(
      () => parseChaosArgs(['--cluster', 'replicated', '--faults', 'db-crash']),
      /--faults: "db-crash" is not a fault kind of --cluster replicated/,
    );
    assert.throws(() => parseChaosArgs(['--cluster', 'galera', '--faults', 'failover']), /--faults: "failover" is not a fault kind of --cluster galera/);
  });
});
