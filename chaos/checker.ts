/**
 * The checker: pure functions from what a run recorded ({@link RunLog}) to
 * what it proves. Safety: no two believed tenures overlap, terms grow from
 * one tenure to the next, every committed fenced write committed under the
 * live term and was sent while its node's tenure lasted, no acknowledged
 * write is lost (but those a failover lost by design: acknowledged by the
 * old primary after replication was paused, see {@link inLossWindow}) and
 * none is written twice, and no write said to be rolled back is there. Liveness: after each fault heals, a leader exists again
 * within `age + tick` (plus the time other faults were still in force), and
 * no fenced call nor `resign()` stays pending past its bound. As good as
 * before: the hand-over the harness asks for after heals (a `resign()` in
 * a quiet moment, chaos/probe.ts) is as fast as on a healthy server. A jobs
 * run adds the rules of chaos/job-checker.ts: no slot ran twice, every slot
 * due in a healthy tenure ran, every other one is accounted for. A keys
 * run adds those of chaos/key-checker.ts: no key with two believed owners at
 * once, each key's terms growing, no task on past its abort, the keys
 * balanced after the last heal.
 */
import { tenuresOf, type Tenure } from '../src/cli/harness/tenures.js';
import { checkJobs, type JobVerdict } from './job-checker.js';
import { checkKeys, type KeyVerdict } from './key-checker.js';
import type { ChaosReport, FaultKind, FaultRecord, LogRow, ProbeRecord, RunLog, WritePhase } from './records.js';

export type { Tenure } from '../src/cli/harness/tenures.js';

/** What can go wrong. */
export type ViolationKind =
  /** Two participants believed they led at the same instant. */
  | 'overlap'
  /** A tenure's term is not greater than the previous tenure's. */
  | 'term-order'
  /** A row whose term was not the live term when it committed (a later term had begun, or it never was this node's). */
  | 'stale-write'
  /** A row committed by a node whose own tenure of that term had ended before the commit was sent. */
  | 'late-commit'
  /** An acknowledged write missing from the table. */
  | 'lost-write'
  /** A write present more than once. */
  | 'duplicate-write'
  /** A row for a write that was refused or rolled back, or that nobody attempted. */
  | 'phantom-write'
  /** No leader within the bound after a fault healed. */
  | 'slow-recovery'
  /** A participant process died on its own, or its `acquire()` rejected (it stopped campaigning). */
  | 'crash'
  /** A fenced call (`withLeadership`) or a `resign()` still pending past its bound while its process ran on. */
  | 'stuck-call'
  /** After heals, a hand-over (`resign()` → another participant's `elected`) over its normal bound, or none. */
  | 'slow-handover'
  /** A jobs run: a slot that ran twice (fenced: two rows; at-most-once: two starts; at-least-once: an attempt repeated). */
  | 'doubled-slot'
  /** A jobs run: a fenced row of a slot written under a term that did not claim it. */
  | 'stale-job-row'
  /** A jobs run: a slot due inside a healthy tenure that did not run, or a fenced claim recorded done without its row. */
  | 'lost-slot'
  /** A jobs run: a slot that did not run, and that no policy accounts for. */
  | 'unaccounted-slot'
  /** A keys run: two participants believed they owned one key at the same instant. */
  | 'key-overlap'
  /** A keys run: a key's tenure whose term is not greater than that key's previous tenure's. */
  | 'key-term-order'
  /** A keys run: a task that ran on past its signal's abort, or whose signal aborted late after its tenure ended. */
  | 'late-task'
  /** A keys run: a task of a key given up still running when another member's tenure of the key began. */
  | 'task-overlap'
  /** A keys run: the keys not all owned and balanced within the bound after the last heal. */
  | 'unbalanced';

/** One violation, placed in time (shared monotonic clock, ms) and on the participants involved. */
export interface Violation {
  readonly kind: ViolationKind;
  readonly at: number;
  readonly nodes: readonly string[];
  readonly message: string;
}

/** One fenced write, as its participant reported it. */
export interface Write {
  readonly node: string;
  /** Which process of that name made it. */
  readonly run: number;
  readonly seq: number;
  /** When the attempt began. */
  readonly begun: number;
  /** The fenced term, once the insert was done. */
  readonly term: number | undefined;
  /** When the insert returned: the commit was sent after this. */
  readonly inserted: number | undefined;
  /** `undefined` when the process died before the outcome was known. */
  readonly outcome: 'acked' | 'rejected' | 'unknown' | undefined;
  /** When the outcome was reported (`undefined` with it). */
  readonly settled: number | undefined;
}

/** How long the election had no leader after one fault healed. */
export interface Recovery {
  readonly fault: number;
  readonly kind: FaultKind;
  readonly heal: number;
  /** When a leader existed again (`heal` itself if one did then), or `undefined` if none did before the run ended. */
  readonly leaderAt: number | undefined;
  /** `leaderAt - heal`. */
  readonly ms: number | undefined;
  /**
   * The longest acceptable: `age + tick` plus the time other faults were in
   * force meanwhile, plus, for a Galera node fault, the cluster's
   * reconfiguration it measured, and for a failover the grace period (`age`).
   */
  readonly bound: number;
}

/** One hand-over the harness asked for after heals. */
export interface Handover {
  readonly probe: number;
  /** The faults it comes after. */
  readonly after: readonly number[];
  /** The participant told to resign. */
  readonly node: string;
  /** When its `resign()` began, or `undefined` if it never did. */
  readonly resigned: number | undefined;
  /** Who was elected next, and when; `undefined` if nobody was before the run ended. */
  readonly next: { readonly node: string; readonly at: number } | undefined;
  /** `next.at - resigned`. */
  readonly ms: number | undefined;
}

/** Everything the checker found. */
export interface Verdict {
  readonly tenures: readonly Tenure[];
  readonly writes: readonly Write[];
  readonly recoveries: readonly Recovery[];
  readonly handovers: readonly Handover[];
  /** A jobs run: each job's slots (chaos/job-checker.ts); no tallies otherwise. */
  readonly jobs: JobVerdict;
  /** A keys run: each key's tenures, the tasks, the balance (chaos/key-checker.ts); empty otherwise. */
  readonly keys: KeyVerdict;
  readonly violations: readonly Violation[];
}

/** Checks a whole run. */
export function check(log: RunLog): Verdict {
  const tenures = tenuresOfRun(log.reports, log.ended);
  const writes = writesOf(log.reports);
  const recoveries = recoveriesOf(log.faults, tenures, log.age + log.tick, log.ended, log.age);
  const handoverBound = handoverBoundOf(log);
  const handovers = handoversOf(log.probes, log.reports);
  const jobs = checkJobs(log, tenures);
  const keys = checkKeys(log);
  const violations = [
    ...findOverlaps(tenures),
    ...findTermDisorder(tenures),
    ...checkRows(log.rows, writes, tenures, lossWindowsOf(log.faults)),
    ...recoveries.filter((r) => r.ms === undefined || r.ms > r.bound).map(slowRecovery),
    ...findCrashes(log.reports),
    ...findStuckCalls(log, writes, tenures),
    ...findStuckResigns(log),
    ...handovers.filter((h) => h.ms === undefined || h.ms > handoverBound).map((h) => slowHandover(h, log.faults, handoverBound)),
    ...jobs.violations,
    ...keys.violations,
  ].sort((a, b) => a.at - b.at);
  return { tenures, writes, recoveries, handovers, jobs, keys, violations };
}

/**
 * Every believed tenure, each process of each participant on its own: a
 * tenure still open when its process exited ends there, or at its deadline
 * if that came first.
 */
export function tenuresOfRun(reports: readonly ChaosReport[], ended: number): Tenure[] {
  const processes = new Map<string, ChaosReport[]>();
  for (const report of reports) {
    const key = `${report.node}\u0000${report.run}`;
    const own = processes.get(key);
    if (own) own.push(report);
    else processes.set(key, [report]);
  }
  return [...processes.values()].flatMap((own) => tenuresOf(own, own.find((r) => r.event === 'exited')?.mono ?? ended)).sort((a, b) => a.start - b.start);
}

/** The fenced writes in the reports, by participant and sequence number. */
export function writesOf(reports: readonly ChaosReport[]): Write[] {
  const writes = new Map<string, { -readonly [K in keyof Write]: Write[K] }>();
  for (const report of reports) {
    if (report.event !== 'write') continue;
    const seq = Number(report['seq']);
    const key = `${report.node}\u0000${seq}`;
    const phase = report['phase'] as WritePhase;
    if (phase === 'begin') {
      writes.set(key, {
        node: report.node,
        run: report.run,
        seq,
        begun: report.mono,
        term: undefined,
        inserted: undefined,
        outcome: undefined,
        settled: undefined,
      });
      continue;
    }
    const write = writes.get(key);
    if (!write) continue;
    if (phase === 'inserted') {
      write.inserted = report.mono;
      write.term = report.term;
    } else {
      write.outcome = phase;
      write.settled = report.mono;
    }
  }
  return [...writes.values()];
}

/** Tenures that began before an earlier one (by start) had ended. */
export function findOverlaps(tenures: readonly Tenure[]): Violation[] {
  const violations: Violation[] = [];
  let latest: Tenure | undefined; // of the tenures so far, the one that ends last
  for (const current of [...tenures].sort((a, b) => a.start - b.start)) {
    if (latest && current.start < latest.end) {
      violations.push({
        kind: 'overlap',
        at: current.start,
        nodes: [latest.node, current.node],
        message: `two leaders at once for ${(Math.min(latest.end, current.end) - current.start).toFixed(1)} ms: ${describe(latest)} and ${describe(current)}`,
      });
    }
    if (!latest || current.end > latest.end) latest = current;
  }
  return violations;
}

/** Tenures whose term is not greater than the previous tenure's (by start). */
export function findTermDisorder(tenures: readonly Tenure[]): Violation[] {
  const sorted = [...tenures].sort((a, b) => a.start - b.start);
  return sorted.flatMap((current, i) => {
    const previous = sorted[i - 1];
    if (!previous || current.term > previous.term) return [];
    return [
      {
        kind: 'term-order',
        at: current.start,
        nodes: [previous.node, current.node],
        message: `terms do not grow: ${describe(previous)}, then ${describe(current)}`,
      },
    ];
  });
}

/**
 * The rows against the writes and the tenures. A row must belong to an
 * attempted write that was not refused or rolled back, and be there once;
 * every acknowledged write must be there (a write whose outcome is unknown
 * may be there or not).
 *
 * A row's term must have been the live term when it committed: the
 * election row held it when the row was inserted (`liveTerm`, read in the
 * same transaction), its participant believed it led under it, and no later
 * tenure had begun before the commit was sent. The commit is sent after
 * the insert returned, so that instant is a sure lower bound of the commit;
 * a tenure of the row's own term that had ended by then is a late commit.
 */
export function checkRows(rows: readonly LogRow[], writes: readonly Write[], tenures: readonly Tenure[], lossWindows: readonly LossWindow[] = []): Violation[] {
  const violations: Violation[] = [];
  const key = (node: string, seq: number): string => `${node}\u0000${seq}`;
  const writeOf = new Map(writes.map((w) => [key(w.node, w.seq), w]));
  const tenureOf = new Map(tenures.map((t) => [key(t.node, t.term), t]));
  const count = new Map<string, number>();

  for (const row of rows) {
    const k = key(row.participant, row.seq);
    count.set(k, (count.get(k) ?? 0) + 1);
    const write = writeOf.get(k);
    const name = `row (term ${row.term}, ${row.participant}, seq ${row.seq})`;
    const violation = (kind: ViolationKind, at: number, problem: string): void =>
      void violations.push({ kind, at, nodes: [row.participant], message: `${name}: ${problem}` });
    if (!write) {
      violation('phantom-write', tenures.find((t) => t.term === row.term)?.start ?? 0, 'no such write was attempted');
      continue;
    }
    if (write.outcome === 'rejected') violation('phantom-write', write.begun, 'the write was refused or rolled back, yet committed');
    const committedAfter = write.inserted ?? write.begun;
    const tenure = tenureOf.get(key(row.participant, row.term));
    const later = tenures.find((t) => t.term > row.term && t.start < committedAfter);
    if (row.liveTerm !== null && row.liveTerm !== row.term) {
      violation('stale-write', committedAfter, `the election row held term ${row.liveTerm} when it was inserted`);
    } else if (!tenure) {
      violation('stale-write', committedAfter, `${row.participant} never believed it led under term ${row.term}`);
    } else if (later) {
      violation('stale-write', committedAfter, `committed after ${describe(later)} had begun (the commit was sent after ${seconds(committedAfter)})`);
    } else if (tenure.end < committedAfter) {
      violation('late-commit', committedAfter, `its tenure ended at ${seconds(tenure.end)}, and the commit was sent after ${seconds(committedAfter)}`);
    }
  }
  for (const [k, n] of count) {
    const write = writeOf.get(k);
    if (n > 1 && write) {
      violations.push({ kind: 'duplicate-write', at: write.begun, nodes: [write.node], message: `${write.node} seq ${write.seq} is in the table ${n} times` });
    }
  }
  const lostIn = new Map<LossWindow, Write[]>();
  for (const write of writes) {
    if (write.outcome !== 'acked' || count.has(key(write.node, write.seq))) continue;
    const window = lossWindows.find((w) => inLossWindow(write, w));
    if (window) {
      lostIn.set(window, [...(lostIn.get(window) ?? []), write]);
      continue;
    }
    violations.push({
      kind: 'lost-write',
      at: write.inserted ?? write.begun,
      nodes: [write.node],
      message: `${write.node} seq ${write.seq} (term ${write.term}) was acknowledged but is not in the table`,
    });
  }
  // Each lost write is a transaction the old primary committed and the new one never got: never more than promote() counted.
  for (const [window, lost] of lostIn) {
    if (lost.length <= window.lostTransactions) continue;
    violations.push({
      kind: 'lost-write',
      at: window.from,
      nodes: [...new Set(lost.map((w) => w.node))],
      message: `failover ${window.fault}: ${lost.length} acknowledged writes of its loss window are missing, more than the ${window.lostTransactions} transactions the promotion lost (${lost.map((w) => `${w.node} seq ${w.seq}`).join(', ')})`,
    });
  }
  return violations;
}

/**
 * The span of a failover in which acknowledged writes may be lost by design
 * (asynchronous replication): from the instant the harness began pausing
 * replication (`from`: everything committed before it had reached the
 * replica once the pause took effect) to the end of the promotion (`to`: the
 * old primary killed, the name moved).
 */
export interface LossWindow {
  readonly fault: number;
  readonly from: number;
  readonly to: number;
  /** What `promote()` counted as lost. */
  readonly lostTransactions: number;
}

/** The loss windows of the failovers among `faults`. */
export function lossWindowsOf(faults: readonly FaultRecord[]): LossWindow[] {
  return faults.flatMap((f) =>
    f.kind === 'failover' && f.replicationPausedAt !== undefined && f.promotedAt !== undefined
      ? [{ fault: f.id, from: f.replicationPausedAt, to: f.promotedAt, lostTransactions: f.lostTransactions ?? 0 }]
      : [],
  );
}

/**
 * Whether an acknowledged write may have been lost with the old primary of a
 * failover: it committed there after replication was paused, so it was
 * acknowledged after `from`, and it was begun before `to` (a write begun
 * later cannot reach the old primary, whose connections the name had reset
 * and which was dead by then). Its acknowledgement itself may come after
 * `to`: a fault proxy holding the reply (a partition, latency) delivers it late.
 */
export const inLossWindow = (write: Write, window: LossWindow): boolean =>
  write.settled !== undefined && write.settled > window.from && write.begun < window.to;

/** Processes that exited without the harness ending them, and campaigns that gave up; with the process's last lines on stderr. */
export function findCrashes(reports: readonly ChaosReport[]): Violation[] {
  return reports
    .filter((r) => (r.event === 'exited' && r['expected'] === false) || r.event === 'failed')
    .map((r) => {
      const stderr = reports.filter((s) => s.event === 'stderr' && s.node === r.node && s.run === r.run).slice(-5);
      const what = r.event === 'failed' ? `acquire() rejected: ${String(r['message'])}` : `the process exited by itself (${String(r.reason)})`;
      const tail = stderr.length > 0 ? `; stderr: ${stderr.map((s) => String(s['text'])).join(' | ')}` : '';
      return { kind: 'crash', at: r.mono, nodes: [r.node], message: `${r.node} (process ${r.run}): ${what}${tail}` };
    });
}

/** What a busy machine may add to the bound of a fenced call (ms). */
const STUCK_SLACK = 1000;

/**
 * Fenced calls that never settled although their process lived on past
 * their bound. A fenced call settles at once when its tenure ends before its
 * COMMIT is sent, and within `queryTimeout` (the participants' default, a
 * tick) of the COMMIT otherwise, plus as much again to give its connection
 * back: so by the end of the tenure it ran under (or its start, if it ran
 * under none) plus two ticks. Time its process spent paused by a fault, and
 * a second of slack, are added.
 */
export function findStuckCalls(log: RunLog, writes: readonly Write[], tenures: readonly Tenure[]): Violation[] {
  return writes.flatMap((write) => {
    if (write.outcome !== undefined) return [];
    const exited = log.reports.find((r) => r.event === 'exited' && r.node === write.node && r.run === write.run)?.mono ?? log.ended;
    const tenure = tenures.find((t) => t.node === write.node && t.start <= write.begun && write.begun < t.end);
    const from = Math.max(write.begun, tenure?.end ?? write.begun);
    const paused = coveredTime(pausesOf(log.faults, write.node), write.begun, exited);
    const bound = from + 2 * log.tick + STUCK_SLACK + paused;
    if (exited <= bound) return [];
    const since = tenure ? `its tenure (term ${tenure.term}) ended at ${seconds(tenure.end)}` : 'it ran under no tenure';
    return [
      {
        kind: 'stuck-call',
        at: bound,
        nodes: [write.node],
        message: `withLeadership() of ${write.node} seq ${write.seq}, begun at ${seconds(write.begun)}, was still pending ${((exited - write.begun) / 1000).toFixed(1)} s later, when its process ended (${since}; bound ${seconds(bound)})`,
      },
    ];
  });
}

/**
 * The longest a `resign()` may take (ms), with the participants' defaults:
 * it ends the tenure, waits for the tenure's work at most `drainTimeout`
 * (`age`), then the election loop releases in turn with its other
 * statements, each within `queryTimeout` (a tick): a renewal in flight, the
 * hand-over lock's re-check, the release `UPDATE` and the lock's
 * `RELEASE_LOCK`. So `drainTimeout + 4 × queryTimeout`.
 */
export const resignBound = (age: number, tick: number): number => Math.min(age, 10_000) + 4 * tick;

/**
 * `resign()` calls that never settled although their process lived on past
 * {@link resignBound} (plus the time a fault paused the process, and
 * {@link STUCK_SLACK}).
 */
export function findStuckResigns(log: RunLog): Violation[] {
  const resigns = log.reports.filter((r) => r.event === 'resign');
  return resigns.flatMap((begin) => {
    if (begin['phase'] !== 'begin') return [];
    const sameProcess = (r: ChaosReport): boolean => r.node === begin.node && r.run === begin.run;
    const settled = resigns.some((r) => sameProcess(r) && r.mono >= begin.mono && r['phase'] !== 'begin');
    if (settled) return [];
    const exited = log.reports.find((r) => r.event === 'exited' && sameProcess(r))?.mono ?? log.ended;
    const paused = coveredTime(pausesOf(log.faults, begin.node), begin.mono, exited);
    const bound = begin.mono + resignBound(log.age, log.tick) + STUCK_SLACK + paused;
    if (exited <= bound) return [];
    return [
      {
        kind: 'stuck-call',
        at: bound,
        nodes: [begin.node],
        message: `resign() of ${begin.node}, begun at ${seconds(begin.mono)}, was still pending ${((exited - begin.mono) / 1000).toFixed(1)} s later, when its process ended (bound ${seconds(bound)})`,
      },
    ];
  });
}

/**
 * The normal bound of a hand-over (ms): from a leader's `resign()` to the
 * `elected` of another participant, on a healthy server with the hand-over
 * lock in use. The bench measures 200 such hand-overs on a quiet 2-core
 * machine at p99 16 ms and max 35 ms (bench/results.json, `handover`), and
 * the issue sets 100 ms as the worst acceptable. Here five participants,
 * the harness, the proxies and the server share 2 cores (with whatever
 * else runs there), and a hand-over crosses two proxies and four
 * statements (the release, `RELEASE_LOCK`, the woken follower's read and
 * claim): 150 ms of scheduling slack on top of the 100 ms. A follower that
 * polls instead (the lock off) takes up to a tick (500 ms) and is caught
 * most of the time, one stuck a tick behind always.
 */
export const HANDOVER_BOUND = 250;

/**
 * The hand-over bound of a run: {@link HANDOVER_BOUND} on one server. On
 * Galera the hand-over lock only wakes followers on the leader's node, and
 * a follower on another node polls (it reads just after each renewal was
 * due): a tick, plus the same {@link HANDOVER_BOUND} of margin.
 */
export const handoverBoundOf = (log: Pick<RunLog, 'cluster' | 'tick'>): number => (log.cluster === 'galera' ? log.tick + HANDOVER_BOUND : HANDOVER_BOUND);

/** For each probe: when the resign began, and the next `elected` of another participant. */
export function handoversOf(probes: readonly ProbeRecord[], reports: readonly ChaosReport[]): Handover[] {
  return probes.map((probe) => {
    const begin = reports.find((r) => r.event === 'resign' && r['phase'] === 'begin' && r.node === probe.node && r.mono >= probe.sent);
    const resigned = begin?.mono;
    const elected = resigned === undefined ? undefined : reports.find((r) => r.event === 'elected' && r.node !== probe.node && r.mono >= resigned);
    const next = elected && { node: elected.node, at: elected.mono };
    return { probe: probe.id, after: probe.after, node: probe.node, resigned, next, ms: next && resigned !== undefined ? next.at - resigned : undefined };
  });
}

/**
 * For each fault, how long after its heal a leader existed again. The bound
 * is `leaseAndTick` (`age + tick`: the longest a lease of the dead tenure can
 * keep others out, plus one election interval) plus the time, in that
 * window, during which other faults were in force (a database still down, a
 * second participant killed). A Galera node fault adds the cluster's own
 * reconfiguration it measured (`reconfigurationMs`) to its bound, and, as
 * another fault, is in force until writes commit again after its heal
 * (`writesBackAt`). A failover adds the participants' grace period, `age`
 * (one that sees another server watches the row a full `age` before it
 * claims): `2 × age + tick`; and, as another fault, is in force until that
 * grace period ends (`graceEndsAt`).
 */
export function recoveriesOf(faults: readonly FaultRecord[], tenures: readonly Tenure[], leaseAndTick: number, ended: number, age = 0): Recovery[] {
  return faults.map((fault) => {
    const starts = tenures.filter((t) => t.end > fault.heal).map((t) => Math.max(t.start, fault.heal));
    const leaderAt = starts.length > 0 ? Math.min(...starts) : undefined;
    const others = faults.filter((f) => f !== fault).map((f) => [f.start, Math.max(f.heal, f.writesBackAt ?? f.heal, f.graceEndsAt ?? f.heal)] as const);
    const grace = fault.kind === 'failover' ? age : 0;
    const bound = leaseAndTick + grace + (fault.reconfigurationMs ?? 0) + coveredTime(others, fault.heal, leaderAt ?? ended);
    return { fault: fault.id, kind: fault.kind, heal: fault.heal, leaderAt, ms: leaderAt === undefined ? undefined : leaderAt - fault.heal, bound };
  });
}

/** How much of `[from, to]` the `spans` cover together. */
export function coveredTime(spans: readonly (readonly [number, number])[], from: number, to: number): number {
  const clipped = spans
    .map(([a, b]) => [Math.max(a, from), Math.min(b, to)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let reach = from;
  for (const [a, b] of clipped) {
    if (b <= reach) continue;
    total += b - Math.max(a, reach);
    reach = b;
  }
  return total;
}

/**
 * The p-th percentile (0–100) of `values`, by the nearest-rank method;
 * `undefined` for no values.
 */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The spans during which a fault kept `node` paused (SIGSTOP). */
function pausesOf(faults: readonly FaultRecord[], node: string): (readonly [number, number])[] {
  return faults.filter((f) => f.kind === 'pause' && f.target === node).map((f) => [f.start, f.heal] as const);
}

function slowHandover(handover: Handover, faults: readonly FaultRecord[], bound: number): Violation {
  const after = handover.after.map((id) => faults.find((f) => f.id === id)).map((f) => (f ? `fault ${f.id} (${f.kind} on ${f.target})` : 'an unknown fault'));
  const what =
    handover.resigned === undefined
      ? `${handover.node} was told to resign and never began`
      : handover.next === undefined
        ? `resign() of ${handover.node} at ${seconds(handover.resigned)}, then no other leader before the run ended`
        : `resign() of ${handover.node} at ${seconds(handover.resigned)}, then ${handover.next.node} elected ${(handover.ms ?? 0).toFixed(0)} ms later`;
  return {
    kind: 'slow-handover',
    at: handover.resigned ?? handover.next?.at ?? 0,
    nodes: [handover.node, ...(handover.next ? [handover.next.node] : [])],
    message: `after ${after.join(', ')} healed: ${what}; bound ${bound} ms`,
  };
}

function slowRecovery(recovery: Recovery): Violation {
  const took = recovery.ms === undefined ? 'no leader before the run ended' : `a leader after ${recovery.ms.toFixed(0)} ms`;
  return {
    kind: 'slow-recovery',
    at: recovery.heal,
    nodes: [],
    message: `fault ${recovery.fault} (${recovery.kind}) healed, then ${took}; bound ${recovery.bound.toFixed(0)} ms`,
  };
}

const seconds = (t: number): string => `${(t / 1000).toFixed(3)} s`;

const describe = (tenure: Tenure): string => `${tenure.node} term ${tenure.term} [${seconds(tenure.start)}, ${seconds(tenure.end)}]`;
