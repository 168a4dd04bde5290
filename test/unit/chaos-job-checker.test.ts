/**
 * The jobs checker (chaos/job-checker.ts) on hand-made logs: a clean jobs
 * run reports nothing, and a doubled slot, a fenced row under the wrong
 * term, a lost healthy slot and a slot no policy explains are each reported.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check, type ViolationKind } from '../../chaos/checker.js';
import { CLAIM_BOUND, healthyOwner, missedCovers } from '../../chaos/job-checker.js';
import { UsageError, parseChaosArgs } from '../../chaos/options.js';
import type { ChaosReport, FaultRecord, FireRow, JobRow, RunLog } from '../../chaos/records.js';
import { formatSummary, summarize } from '../../chaos/summary.js';

const AGE = 2000;
const TICK = 500;
/** The database clock at the run's 0: slot `t` ms into the run is this plus `t`. */
const EPOCH = Date.parse('2026-01-01T00:00:00.000Z');
const slot = (t: number): string => new Date(EPOCH + t).toISOString();

function at(node: string, mono: number, event: string, fields: Record<string, unknown> = {}, run = 1): ChaosReport {
  return { node, run, mono, wall: mono, event, ...fields };
}

/** A fire of `job` for the slot due at `t`, by node-1 under term 1: its reports, its fires row, and (fenced) its row. */
function fire(job: string, t: number, { node = 'node-1', term = 1, attempt = 1, ok = true } = {}): { reports: ChaosReport[]; fire: FireRow; rows: JobRow[] } {
  const fields = { job, slot: slot(t), term, attempt };
  return {
    reports: [
      at(node, t + 10, 'fire-start', fields),
      at(node, t + 260, 'fire-end', { ...fields, ok }),
      at(node, t + 265, 'fire', { ...fields, outcome: ok ? 'done' : 'interrupted' }),
    ],
    fire: { job, slot: slot(t), node, term, attempt, outcome: ok ? 'done' : 'interrupted' },
    rows: job === 'fenced' ? [{ job, slot: slot(t), term, node }] : [],
  };
}

const JOBS = ['fenced', 'at-most-once', 'at-least-once'];
/** The slots of the clean log: every second from 1 s to 11 s (those of the run: 1 s to 10 s, stoppedAt − CLAIM_BOUND; owed: 2 s to 10 s). */
const TIMES = Array.from({ length: 11 }, (_, i) => (i + 1) * 1000);

/** A clean jobs run: node-1 leads under term 1 from 0.5 s to 12 s, no fault, every slot of every job fired once. */
function cleanLog(): RunLog {
  const fires = JOBS.flatMap((job) => TIMES.map((t) => fire(job, t)));
  return {
    seed: 1,
    age: AGE,
    tick: TICK,
    nodes: ['node-1', 'node-2'],
    kinds: ['pause'],
    ended: 12_500,
    reports: [
      at('node-1', 500, 'elected', { term: 1, until: 2400 }),
      at('node-1', 11_000, 'renewed', { term: 1, until: 12_900 }),
      at('node-1', 12_000, 'revoked', { term: 1, reason: 'closed' }),
      ...fires.flatMap((f) => f.reports),
    ].sort((a, b) => a.mono - b.mono),
    faults: [],
    probes: [],
    rows: [],
    jobs: { dbOffset: EPOCH, stoppedAt: 12_000, fires: fires.map((f) => f.fire), rows: fires.flatMap((f) => f.rows) },
  };
}

/** The log without anything of `job`'s slot at `t`. */
function without(log: RunLog, job: string, t: number): RunLog {
  const jobs = log.jobs;
  assert.ok(jobs);
  const other = (x: FireRow | JobRow | ChaosReport): boolean => !(x['job'] === job && x['slot'] === slot(t));
  return {
    ...log,
    reports: log.reports.filter((r) => other(r)),
    jobs: { ...jobs, fires: jobs.fires.filter((f) => other(f)), rows: jobs.rows.filter((r) => other(r)) },
  };
}

function withJobs(log: RunLog, change: { fires?: FireRow[]; rows?: JobRow[]; reports?: ChaosReport[] }): RunLog {
  const jobs = log.jobs;
  assert.ok(jobs);
  return {
    ...log,
    reports: [...log.reports, ...(change.reports ?? [])],
    jobs: { ...jobs, fires: [...jobs.fires, ...(change.fires ?? [])], rows: [...jobs.rows, ...(change.rows ?? [])] },
  };
}

const kinds = (log: RunLog): ViolationKind[] => check(log).violations.map((v) => v.kind);
const pause = (start: number, heal: number, target = 'node-1'): FaultRecord => ({ id: 1, kind: 'pause', target, start, heal, detail: 'SIGSTOP' });

describe('chaos jobs checker', () => {
  it('reports nothing for a clean jobs run, and counts every slot owed and run', () => {
    const verdict = check(cleanLog());
    assert.deepEqual(verdict.violations, []);
    assert.deepEqual(
      verdict.jobs.tallies.map((t) => [t.job, t.due, t.owed, t.ran, t.doubled, t.lost, t.skipped]),
      JOBS.map((job) => [job, 10, 9, 10, 0, 0, 0]),
    );
  });

  it('reports a fenced slot with two rows as doubled', () => {
    const log = cleanLog();
    const doubled = withJobs(log, { rows: [{ job: 'fenced', slot: slot(5000), term: 1, node: 'node-1' }] });
    const verdict = check(doubled);
    assert.deepEqual(
      verdict.violations.map((v) => [v.kind, v.at]),
      [['doubled-slot', 5000]],
    );
    assert.equal(verdict.jobs.tallies[0]?.doubled, 1);
    // Two doubled slots (in the same hour, whose times share their first colon) count as two.
    const twice = withJobs(doubled, { rows: [{ job: 'fenced', slot: slot(6000), term: 1, node: 'node-1' }] });
    assert.equal(check(twice).jobs.tallies[0]?.doubled, 2);
  });

  it('reports a fenced row written under a term that did not claim its slot', () => {
    const log = cleanLog();
    // node-2 wrote slot 5 s under term 2, which never claimed it (the fires row is node-1's, term 1): doubled, and stale.
    const stale = withJobs(log, { rows: [{ job: 'fenced', slot: slot(5000), term: 2, node: 'node-2' }] });
    assert.deepEqual(kinds(stale).sort(), ['doubled-slot', 'stale-job-row']);
    // Its only row, under a term node-1 never believed it led under, though the fires row agrees.
    const base = without(log, 'fenced', 6000);
    const jobs = base.jobs;
    assert.ok(jobs);
    const unled = withJobs(base, {
      fires: [{ job: 'fenced', slot: slot(6000), node: 'node-1', term: 7, attempt: 1, outcome: 'done' }],
      rows: [{ job: 'fenced', slot: slot(6000), term: 7, node: 'node-1' }],
    });
    assert.deepEqual(kinds(unled), ['stale-job-row']);
    // Its only row, written by node-2 under its own term 2 (a tenure it did lead), while the fires row says node-1 term 1 claimed the slot.
    const other = withJobs(without(log, 'fenced', 5000), {
      fires: [{ job: 'fenced', slot: slot(5000), node: 'node-1', term: 1, attempt: 1, outcome: 'done' }],
      rows: [{ job: 'fenced', slot: slot(5000), term: 2, node: 'node-2' }],
      reports: [at('node-2', 12_100, 'elected', { term: 2, until: 12_400 })],
    });
    assert.deepEqual(kinds(other), ['stale-job-row']);
    // A row for a slot its fires row says was skipped.
    const skipped = withJobs(without(log, 'fenced', 5000), {
      fires: [{ job: 'fenced', slot: slot(5000), node: 'node-1', term: 1, attempt: 1, outcome: 'skipped' }],
      rows: [{ job: 'fenced', slot: slot(5000), term: 1, node: 'node-1' }],
    });
    assert.deepEqual(kinds(skipped), ['stale-job-row']);
  });

  it('reports a fenced slot whose fires row says done without its row as lost', () => {
    const log = cleanLog();
    const jobs = log.jobs;
    assert.ok(jobs);
    // Slot 11 s is past the owed range (stoppedAt − age): the rule holds wherever the slot falls.
    const lost = { ...log, jobs: { ...jobs, rows: jobs.rows.filter((r) => r.slot !== slot(11_000)) } };
    const verdict = check(lost);
    assert.deepEqual(
      verdict.violations.map((v) => [v.kind, v.nodes]),
      [['lost-slot', ['node-1']]],
    );
    assert.match(verdict.violations[0]?.message ?? '', /fires row says done/);
    // Inside the owed range it is reported once, as lost, not also as a slot that did not run.
    const inside = { ...log, jobs: { ...jobs, rows: jobs.rows.filter((r) => r.slot !== slot(5000)) } };
    const found = check(inside);
    assert.deepEqual(
      found.violations.map((v) => v.kind),
      ['lost-slot'],
    );
    assert.deepEqual([found.jobs.tallies[0]?.lost, found.jobs.tallies[0]?.notRun], [1, {}]);
  });

  it('reports an at-most-once slot run twice, and an at-least-once attempt run twice', () => {
    const log = cleanLog();
    const again = fire('at-most-once', 4000, { node: 'node-2', term: 2 }).reports.map((r) => ({ ...r, mono: r.mono + 100 }));
    assert.deepEqual(kinds(withJobs(log, { reports: again })), ['doubled-slot']);
    const sameAttempt = fire('at-least-once', 4000, { node: 'node-2', term: 2 }).reports.map((r) => ({ ...r, mono: r.mono + 100 }));
    assert.deepEqual(kinds(withJobs(log, { reports: sameAttempt })), ['doubled-slot']);
    // An attempt under an earlier term than the one before it is out of order.
    const earlier = fire('at-least-once', 4000, { node: 'node-2', term: 0, attempt: 2 }).reports.map((r) => ({ ...r, mono: r.mono + 100 }));
    assert.deepEqual(kinds(withJobs(log, { reports: earlier })), ['doubled-slot']);
  });

  it('accepts an at-least-once retry: attempt 2 under a later term, after attempt 1 was cut', () => {
    const base = without(cleanLog(), 'at-least-once', 4000);
    const first = fire('at-least-once', 4000, { ok: false });
    const retry = fire('at-least-once', 4000, { node: 'node-2', term: 2, attempt: 2 });
    const log = withJobs(base, { reports: [...first.reports, ...retry.reports.map((r) => ({ ...r, mono: r.mono + 500 }))], fires: [retry.fire] });
    const verdict = check(log);
    assert.deepEqual(verdict.violations, []);
    const tally = verdict.jobs.tallies.find((t) => t.job === 'at-least-once');
    assert.deepEqual([tally?.ran, tally?.retried, tally?.cut], [10, 1, 0]);
  });

  it('reports a slot due inside a healthy tenure that did not run, for each mode', () => {
    for (const job of JOBS) {
      const verdict = check(without(cleanLog(), job, 6000));
      assert.deepEqual(
        verdict.violations.map((v) => [v.kind, v.at, v.nodes]),
        [['lost-slot', 6000, ['node-1']]],
        job,
      );
      assert.equal(verdict.jobs.tallies.find((t) => t.job === job)?.lost, 1);
    }
  });

  it('accounts for a slot skipped in a healthy tenure (its previous fire still ran), never as lost', () => {
    const log = without(cleanLog(), 'at-most-once', 6000);
    const skipped = withJobs(log, {
      fires: [{ job: 'at-most-once', slot: slot(6000), node: 'node-1', term: 1, attempt: 1, outcome: 'skipped' }],
      reports: [at('node-1', 6010, 'fire', { job: 'at-most-once', slot: slot(6000), term: 1, attempt: 1, outcome: 'skipped' })],
    });
    const verdict = check(skipped);
    assert.deepEqual(verdict.violations, []);
    assert.deepEqual(verdict.jobs.tallies.find((t) => t.job === 'at-most-once')?.notRun, { skipped: 1 });
  });

  it('owes nothing to a faulted tenure: a slot it missed is accounted by a missed event, and reported when nothing accounts for it', () => {
    // node-1 paused from 5.5 s to 6.5 s: the slot at 6 s is not owed.
    const log = { ...without(cleanLog(), 'at-most-once', 6000), faults: [pause(5500, 6500)] };
    assert.deepEqual(
      check(log).violations.map((v) => [v.kind, v.at]),
      [['unaccounted-slot', 6000]],
    );
    // The leader found it missed when it looked at 7 s: its catchUp 'latest' fired 7 s and left 6 s.
    const missed = withJobs(log, { reports: [at('node-1', 7005, 'missed', { job: 'at-most-once', count: 1, latest: slot(7000) })] });
    const verdict = check(missed);
    assert.deepEqual(verdict.violations, []);
    const tally = verdict.jobs.tallies.find((t) => t.job === 'at-most-once');
    assert.deepEqual([tally?.owed, tally?.notRun], [4, { missed: 1 }]);
    // A missed event reported after a later slot was claimed does not account for it.
    const late = withJobs(log, { reports: [at('node-1', 8500, 'missed', { job: 'at-most-once', count: 1, latest: slot(9000) })] });
    assert.deepEqual(kinds(late), ['unaccounted-slot']);
  });

  it('accounts for slots nobody looked at before the run ended, and for a fenced fire rolled back', () => {
    // The leader's tenure ends at 7 s; nobody leads after it.
    const base = cleanLog();
    let log: RunLog = base;
    for (const job of JOBS) for (const t of TIMES.filter((t) => t >= 7000)) log = without(log, job, t);
    log = {
      ...log,
      reports: log.reports.map((r) => (r.event === 'renewed' ? { ...r, mono: 6000, until: 7000 } : r.event === 'revoked' ? { ...r, mono: 7000 } : r)),
    };
    // The fenced fire of 6 s began and was rolled back when the tenure ended (no row, no fires row).
    log = withJobs(without(log, 'fenced', 6000), { reports: [at('node-1', 6010, 'fire-start', { job: 'fenced', slot: slot(6000), term: 1, attempt: 1 })] });
    const verdict = check(log);
    assert.deepEqual(verdict.violations, []);
    assert.deepEqual(verdict.jobs.tallies.find((t) => t.job === 'fenced')?.notRun, { 'rolled back': 1, 'not looked at': 4 });
  });

  it('owes a slot only to a tenure whose job was running by its due time and that lasted the claim bound after it, with no fault on its node or the database', () => {
    const tenure = { node: 'node-1', term: 1, start: 0, end: 10_000 };
    const owner = (due: number, faults: FaultRecord[] = [], firstClaim?: number): unknown =>
      healthyOwner(due, [tenure], faults, { age: AGE, tick: TICK, firstClaim: () => firstClaim });
    assert.equal(CLAIM_BOUND, 1250);
    assert.equal(owner(2000), tenure); // begun age before: owed even if its job claimed nothing yet
    assert.equal(owner(1999), undefined); // begun less than age before, and nothing claimed
    assert.equal(owner(600, [], 400), tenure); // its job claimed a slot at 400: running
    assert.equal(owner(400, [], 400), undefined); // …but not yet at 400
    assert.equal(owner(10_000 - CLAIM_BOUND), tenure);
    assert.equal(owner(10_001 - CLAIM_BOUND), undefined); // ends less than the claim bound after
    assert.equal(owner(5000, [pause(5000, 5100, 'node-2')]), tenure); // another node's fault
    assert.equal(owner(5000, [{ ...pause(6200, 6300), kind: 'db-crash', target: 'database' }]), undefined);
    // A fault's effects linger age + tick after its heal (to 3000 here); a job not yet seen running must have had none since its tenure began.
    assert.equal(owner(2000, [pause(100, 500)]), undefined);
    assert.equal(owner(3000, [pause(100, 500)], 400), undefined);
    assert.equal(owner(3001, [pause(100, 500)], 400), tenure);
    // A skew fault disturbs only at its restarts.
    const skew: FaultRecord = { ...pause(1000, 9000), kind: 'skew' };
    assert.equal(owner(6000, [skew], 400), tenure);
    assert.equal(owner(8000, [skew], 400), undefined); // the restart at 9000 is within the claim bound
  });

  it('reads a missed event as its catchUp policy fires', () => {
    const event = (count: number): ChaosReport => at('node-1', 0, 'missed', { count, latest: slot(10_000) });
    // latest: the latest due fired, the `count` before it missed; a count of catchUpMaxCount (10) means more were dropped.
    assert.deepEqual(
      [8000, 9000, 10_000].map((t) => missedCovers({ catchUp: 'latest' }, event(2), EPOCH + t)),
      [true, true, false],
    );
    assert.equal(missedCovers({ catchUp: 'latest' }, event(2), EPOCH + 7000), false);
    assert.equal(missedCovers({ catchUp: 'latest' }, event(10), EPOCH - 5000), true);
    // all: the 10 latest fired, the earlier ones missed.
    assert.deepEqual(
      [0, 1000].map((t) => missedCovers({ catchUp: 'all' }, event(1), EPOCH + t)),
      [true, false],
    );
  });

  it('prints each job with its slots and the reasons of those that did not run', () => {
    const log = { ...without(cleanLog(), 'at-most-once', 6000), faults: [pause(5500, 6500)] };
    const lines = formatSummary(summarize(log, check(log)));
    const line = lines.find((l) => l.includes('job at-most-once'));
    assert.match(line ?? '', /10 due, 4 owed by a healthy tenure; ran 9, doubled 0, lost 0, skipped 0; not run: unaccounted 1/);
  });

  it('parses --jobs: three participants, faults 5 s apart, one server only', () => {
    const args = parseChaosArgs(['--jobs', '--seed', '1']);
    assert.ok(args !== 'help');
    assert.deepEqual([args.jobs, args.participants, args.interval], [true, 3, 5000]);
    const more = parseChaosArgs(['--jobs', '--participants', '4', '--interval', '2000']);
    assert.ok(more !== 'help');
    assert.deepEqual([more.participants, more.interval], [4, 2000]);
    assert.equal((parseChaosArgs([]) as { jobs: boolean }).jobs, false);
    assert.throws(() => parseChaosArgs(['--jobs', '--cluster', 'galera']), UsageError);
  });
});
