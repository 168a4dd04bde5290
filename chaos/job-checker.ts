/**
 * The checker of the jobs workload (`--jobs`, chaos/jobs.ts): pure functions
 * from a run log to what it proves about each job's slots.
 *
 * Safety (`doubled-slot`, `stale-job-row`): no slot ran twice. Fenced: at
 * most one row of `chaos_job_rows` per slot, written under the term that
 * claimed the slot (its fires row, `done`, same term and node) by a node
 * that believed it led under that term. At-most-once: at most one start of
 * `fn` per slot, attempt 1. At-least-once: each start numbered above the
 * one before (never the same attempt twice), under a later term.
 *
 * Liveness (`lost-slot`): every slot due inside a healthy tenure ran. A
 * tenure owes the slot due at `d` when it began before `d` and its job was
 * running in it by then (it had claimed an earlier slot under that term
 * before `d`, or the tenure began at least {@link WARM_UP}, `age`, before
 * `d`: a job that never starts in a tenure is caught too), it lasted at least
 * {@link CLAIM_BOUND} (the fire's work plus a second) after `d`, and no fault
 * aimed at its node or at the database was in force from `d` (from the
 * tenure's start, for a job not yet seen running) to that bound, nor in the
 * {@link FAULT_LINGER} (`age + tick`) after its heal (a skew fault only at
 * its two restarts). The due time is the slot by the database clock, placed
 * on the run's clock by `dbOffset`. A fenced slot also counts as lost when
 * its fires row says `done` without its row. Skipped slots (the previous
 * fire still ran) are accounted for, never lost.
 *
 * Accounting (`unaccounted-slot`): each slot of the run that did not run
 * must be explained by the policy in force: `skipped` (its fires row),
 * `failed`, `rolled back` (fenced: `fn` began, its tenure ended before the
 * commit), `in doubt` (claimed, never begun: the claim's reply was lost or
 * its node died first), `missed` (a leader's `missed` event names it, by
 * its `catchUp`), `claim failed` (its leader reported an error of the job
 * then), or `not looked at` (no leader looked at it or a later slot before
 * the run ended).
 */
import type { Tenure } from '../src/cli/harness/tenures.js';
import type { Violation } from './checker.js';
import { CHAOS_JOBS, FIRE_WORK_MS, type ChaosJob } from './jobs.js';
import type { ChaosReport, FaultRecord, FireRow, JobRow, RunLog } from './records.js';

/** Why a slot that did not run is accounted for (see the header). */
export type NotRunReason = 'skipped' | 'failed' | 'rolled back' | 'in doubt' | 'missed' | 'claim failed' | 'not looked at' | 'unaccounted';

/** The figures of one job. */
export interface JobTally {
  readonly job: string;
  readonly mode: ChaosJob['mode'];
  readonly catchUp: ChaosJob['catchUp'];
  /** The slots of the run: from the first tenure's start to the stop of the participants minus {@link CLAIM_BOUND}. */
  readonly due: number;
  /** Slots that ran (fenced: their row is there; otherwise `fn` began). */
  readonly ran: number;
  /** Of those, runs that began but never finished (their tenure or process ended first). */
  readonly cut: number;
  /** Of those, slots run more than once by at-least-once (an attempt after one that did not record its end). */
  readonly retried: number;
  /** Slots owed by a healthy tenure. */
  readonly owed: number;
  readonly doubled: number;
  readonly lost: number;
  readonly skipped: number;
  /** The slots that did not run, by reason. */
  readonly notRun: Partial<Record<NotRunReason, number>>;
}

/** What the jobs checker found. */
export interface JobVerdict {
  readonly tallies: readonly JobTally[];
  readonly violations: readonly Violation[];
}

/** The slot period of the jobs (`* * * * * *`), ms. */
const PERIOD = 1000;
/** `catchUpMaxCount`, as the jobs leave it: the default. */
const CATCH_UP_MAX_COUNT = 10;

/**
 * How long before a slot's due time a tenure must have begun to owe it, when
 * its job has claimed nothing under it yet: its job reads the clock and
 * settles what earlier terms left running (at-least-once runs those again,
 * {@link FIRE_WORK_MS} each) before it fires.
 */
export const WARM_UP = (age: number): number => age;
/**
 * How long after a slot's due time a tenure must last to owe it: the
 * wake-up, the clock read, the claim and (fenced) the fire's work and commit,
 * plus a second of slack for busy cores (as the main checker's stuck calls).
 */
export const CLAIM_BOUND = FIRE_WORK_MS + 1000;
/** How long a fault's effects may outlast its heal (held bytes, a lapsed lease, a restarting process). */
export const FAULT_LINGER = (age: number, tick: number): number => age + tick;

/** One start (`fire-start`) or end (`fire-end`) of `fn`, as reported. */
interface Run {
  readonly node: string;
  readonly term: number;
  readonly attempt: number;
  readonly at: number;
}

/** Everything recorded about one slot of one job. */
interface SlotRecord {
  readonly slot: string;
  readonly starts: Run[];
  readonly ends: (Run & { readonly ok: boolean })[];
  fire: FireRow | undefined;
  readonly rows: JobRow[];
}

/** Checks the jobs of a run (`log.jobs` absent: nothing to check). */
export function checkJobs(log: RunLog, tenures: readonly Tenure[]): JobVerdict {
  if (!log.jobs) return { tallies: [], violations: [] };
  const verdicts = CHAOS_JOBS.map((job) => checkJob(log, tenures, job));
  return { tallies: verdicts.map((v) => v.tally), violations: verdicts.flatMap((v) => v.violations) };
}

function checkJob(log: RunLog, tenures: readonly Tenure[], job: ChaosJob): { tally: JobTally; violations: Violation[] } {
  const jobs = log.jobs;
  if (!jobs) throw new TypeError('not a jobs run');
  const { age, tick } = log;
  const dueAt = (slot: string): number => Date.parse(slot) - jobs.dbOffset;
  const reports = log.reports.filter((r) => r['job'] === job.name);
  const slots = slotRecords(reports, jobs.fires, jobs.rows, job.name);
  const violations: Violation[] = [];
  const violation = (kind: Violation['kind'], slot: string, nodes: readonly string[], problem: string): void =>
    void violations.push({ kind, at: dueAt(slot), nodes: [...new Set(nodes)], message: `${job.name} slot ${slot}: ${problem}` });

  // Safety: no slot ran twice.
  let doubled = 0;
  for (const record of slots.values()) {
    const problems = doubledRuns(job, record, tenures);
    if (problems.some((p) => p.kind === 'doubled-slot')) doubled++;
    for (const problem of problems) violation(problem.kind, record.slot, problem.nodes, problem.message);
  }
  // Fenced: a claim recorded done without its write is a lost slot, wherever it falls.
  const doneWithoutRow = (record: SlotRecord): boolean => job.mode === 'fenced' && record.fire?.outcome === 'done' && record.rows.length === 0;
  let lost = 0;
  for (const record of slots.values()) {
    if (!doneWithoutRow(record) || !record.fire) continue;
    lost++;
    violation('lost-slot', record.slot, [record.fire.node], `its fires row says done (term ${record.fire.term}), but its fenced row is not there`);
  }

  // Liveness and accounting, over the slots of the run.
  const from = Math.min(...tenures.map((t) => t.start));
  const to = jobs.stoppedAt - CLAIM_BOUND;
  const claims = claimEvidence(job, reports);
  const firstClaims = new Map<string, number>();
  for (const c of claims) if (!firstClaims.has(`${c.node}\u0000${c.term}`)) firstClaims.set(`${c.node}\u0000${c.term}`, c.at);
  const tally = { due: 0, ran: 0, cut: 0, retried: 0, owed: 0, lost, skipped: 0, notRun: {} as Partial<Record<NotRunReason, number>> };
  const missed = reports.filter((r) => r.event === 'missed');
  const errors = reports.filter((r) => r.event === 'job-error');
  for (let t = Math.ceil((from + jobs.dbOffset) / PERIOD) * PERIOD; t - jobs.dbOffset <= to; t += PERIOD) {
    const slot = new Date(t).toISOString();
    const due = t - jobs.dbOffset;
    const record = slots.get(slot) ?? { slot, starts: [], ends: [], fire: undefined, rows: [] };
    tally.due++;
    const owner = healthyOwner(due, tenures, log.faults, { age, tick, firstClaim: (t) => firstClaims.get(`${t.node}\u0000${t.term}`) });
    if (owner) tally.owed++;
    if (doneWithoutRow(record)) continue; // reported above
    const ran = job.mode === 'fenced' ? record.rows.length > 0 : record.starts.length > 0;
    if (ran) {
      tally.ran++;
      if (!record.ends.some((e) => e.ok)) tally.cut++;
      if (new Set(record.starts.map((s) => s.attempt)).size > 1) tally.retried++;
      continue;
    }
    const reason = notRunReason(job, record, due, { claims, missed, errors, tenures, age });
    tally.notRun[reason] = (tally.notRun[reason] ?? 0) + 1;
    if (reason === 'skipped') tally.skipped++;
    if (owner && reason !== 'skipped') {
      tally.lost++;
      violation(
        'lost-slot',
        slot,
        [owner.node],
        `due at ${seconds(due)} inside the healthy tenure of ${owner.node} (term ${owner.term}, ${seconds(owner.start)} to ${seconds(owner.end)}), yet it did not run (${reason})`,
      );
    } else if (reason === 'unaccounted') {
      violation('unaccounted-slot', slot, [], `due at ${seconds(due)}, did not run, and no policy accounts for it`);
    }
  }
  return { tally: { job: job.name, mode: job.mode, catchUp: job.catchUp, ...tally, doubled }, violations };
}

/** The reports, fires rows and job rows of one job, by slot. */
function slotRecords(reports: readonly ChaosReport[], fires: readonly FireRow[], rows: readonly JobRow[], job: string): Map<string, SlotRecord> {
  const slots = new Map<string, SlotRecord>();
  const of = (slot: string): SlotRecord => {
    let record = slots.get(slot);
    if (!record) slots.set(slot, (record = { slot, starts: [], ends: [], fire: undefined, rows: [] }));
    return record;
  };
  for (const r of reports) {
    if (r.event !== 'fire-start' && r.event !== 'fire-end') continue;
    const run = { node: r.node, term: Number(r.term), attempt: Number(r['attempt']), at: r.mono };
    if (r.event === 'fire-start') of(String(r['slot'])).starts.push(run);
    else of(String(r['slot'])).ends.push({ ...run, ok: r['ok'] === true });
  }
  for (const fire of fires) if (fire.job === job) of(fire.slot).fire = fire;
  for (const row of rows) if (row.job === job) of(row.slot).rows.push(row);
  return slots;
}

/** The ways a slot ran more than once, or wrote under a term that did not claim it. */
function doubledRuns(job: ChaosJob, record: SlotRecord, tenures: readonly Tenure[]): { kind: Violation['kind']; nodes: string[]; message: string }[] {
  const problems: { kind: Violation['kind']; nodes: string[]; message: string }[] = [];
  const describe = (runs: readonly Run[]): string => runs.map((r) => `${r.node} term ${r.term} attempt ${r.attempt} at ${seconds(r.at)}`).join(', ');
  if (job.mode === 'fenced') {
    const { rows, fire } = record;
    if (rows.length > 1) {
      problems.push({
        kind: 'doubled-slot',
        nodes: rows.map((r) => r.node),
        message: `${rows.length} fenced rows (${rows.map((r) => `${r.node} term ${r.term}`).join(', ')})`,
      });
    }
    for (const row of rows) {
      const claimedBy = fire ? `its fires row says ${fire.outcome}, ${fire.node} term ${fire.term}` : 'it has no fires row';
      if (!fire || fire.outcome !== 'done' || fire.term !== row.term || fire.node !== row.node) {
        problems.push({ kind: 'stale-job-row', nodes: [row.node], message: `a fenced row of ${row.node} term ${row.term}, but ${claimedBy}` });
      } else if (!tenures.some((t) => t.node === row.node && t.term === row.term)) {
        problems.push({
          kind: 'stale-job-row',
          nodes: [row.node],
          message: `a fenced row of ${row.node} term ${row.term}, a term it never believed it led under`,
        });
      }
    }
    return problems;
  }
  const starts = [...record.starts].sort((a, b) => a.at - b.at);
  if (job.mode === 'at-most-once' && (starts.length > 1 || starts.some((s) => s.attempt !== 1))) {
    problems.push({ kind: 'doubled-slot', nodes: starts.map((s) => s.node), message: `at-most-once, yet run ${starts.length} times: ${describe(starts)}` });
  }
  if (job.mode === 'at-least-once') {
    // A repeated attempt number is out of order too.
    const ordered = starts.every((s, i) => i === 0 || (s.attempt > (starts[i - 1]?.attempt ?? 0) && s.term > (starts[i - 1]?.term ?? 0)));
    if (!ordered) {
      problems.push({
        kind: 'doubled-slot',
        nodes: starts.map((s) => s.node),
        message: `at-least-once attempts must each be numbered above the one before, under a later term: ${describe(starts)}`,
      });
    }
  }
  return problems;
}

/**
 * A tenure that owes the slot due at `due`, if any (see the header).
 * `firstClaim` tells when the job first claimed a slot under a tenure.
 */
export function healthyOwner(
  due: number,
  tenures: readonly Tenure[],
  faults: readonly FaultRecord[],
  { age, tick, firstClaim }: { readonly age: number; readonly tick: number; readonly firstClaim: (tenure: Tenure) => number | undefined },
): Tenure | undefined {
  const to = due + CLAIM_BOUND;
  return tenures.find((t) => {
    const claimed = firstClaim(t);
    const running = claimed !== undefined && claimed < due;
    if (t.start > due || !(running || t.start <= due - WARM_UP(age)) || t.end < to) return false;
    // Fault-free from the due time (a fault's linger reaches back), or, for a job not yet seen running, from the tenure's start.
    const from = running ? due : t.start;
    return !faults.some((f) => (f.target === t.node || f.target === 'database') && faultSpans(f, age, tick).some(([a, b]) => a <= to && b >= from));
  });
}

/** When a fault may disturb its target: from its start to its heal plus the linger; a skew fault only at its two restarts. */
function faultSpans(fault: FaultRecord, age: number, tick: number): (readonly [number, number])[] {
  const linger = FAULT_LINGER(age, tick);
  if (fault.kind === 'skew') return [[fault.start, fault.start + linger] as const, [fault.heal, fault.heal + linger] as const];
  return [[fault.start, fault.heal + linger] as const];
}

/** A committed claim the reports show: its slot (ms), when it was reported, by whom under which term. */
interface Claim {
  readonly slot: number;
  readonly at: number;
  readonly node: string;
  readonly term: number;
}

/** The committed claims the reports show, in report order. */
function claimEvidence(job: ChaosJob, reports: readonly ChaosReport[]): Claim[] {
  // A fenced fire-start comes before its commit: only the `fire` event (after it) proves a claim.
  return reports
    .filter((r) => r.event === 'fire' || (r.event === 'fire-start' && job.mode !== 'fenced'))
    .map((r) => ({ slot: Date.parse(String(r['slot'])), at: r.mono, node: r.node, term: Number(r.term) }));
}

/**
 * Why a slot did not run (see the header): the first reason that applies,
 * `unaccounted` when none does.
 */
function notRunReason(
  job: ChaosJob,
  record: SlotRecord,
  due: number,
  context: {
    readonly claims: readonly Claim[];
    readonly missed: readonly ChaosReport[];
    readonly errors: readonly ChaosReport[];
    readonly tenures: readonly Tenure[];
    readonly age: number;
  },
): NotRunReason {
  const { fire } = record;
  if (fire?.outcome === 'skipped') return 'skipped';
  if (fire?.outcome === 'failed') return 'failed';
  if (job.mode === 'fenced' && record.starts.length > 0) return 'rolled back';
  if (fire) return 'in doubt';
  const slot = Date.parse(record.slot);
  const claimedLaterBefore = (at: number): boolean => context.claims.some((c) => c.slot >= slot && c.at < at);
  if (context.missed.some((m) => missedCovers(job, m, slot) && !claimedLaterBefore(m.mono))) return 'missed';
  const leaders = context.tenures.filter((t) => t.start <= due + CLAIM_BOUND && t.end >= due);
  if (context.errors.some((e) => leaders.some((t) => t.node === e.node && e.mono >= due && e.mono <= t.end + CLAIM_BOUND))) return 'claim failed';
  const lookedAt = context.claims.some((c) => c.slot >= slot) || context.missed.some((m) => Date.parse(String(m['latest'])) >= slot);
  if (!lookedAt) return 'not looked at';
  return 'unaccounted';
}

/**
 * Whether a `missed` event (`count` slots, the latest due one `latest`) left
 * `slot` unfired, by the job's `catchUp`: `latest` fires the latest due slot
 * and misses the `count` before it (or every earlier one, when the count is
 * capped at `catchUpMaxCount`); `all` fires the `catchUpMaxCount` latest and
 * misses the earlier ones.
 */
export function missedCovers(job: Pick<ChaosJob, 'catchUp'>, event: ChaosReport, slot: number): boolean {
  const latest = Date.parse(String(event['latest']));
  const count = Number(event['count']);
  const back = latest - slot;
  if (job.catchUp === 'all') return back >= CATCH_UP_MAX_COUNT * PERIOD;
  if (job.catchUp === 'latest') return back >= PERIOD && (back <= count * PERIOD || count >= CATCH_UP_MAX_COUNT);
  return back >= 0 && back < count * PERIOD;
}

const seconds = (t: number): string => `${(t / 1000).toFixed(3)} s`;
