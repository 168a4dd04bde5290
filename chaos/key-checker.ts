/**
 * The checker of the keys workload (`--keys`, chaos/keys.ts): pure functions
 * from a run log to what it proves about the shared keys.
 *
 * Safety, judged on each key's believed tenures as the leadership check
 * judges the leader's (chaos/checker.ts): a tenure runs from its
 * `key-acquired` report to the earliest of its `key-released` report, its
 * last local deadline (`until` of the acquisition or of a renewal: the
 * longest it could have believed it owned the key without a further
 * renewal), and its process's exit. All on the machine's shared monotonic
 * clock, so the tenures of different processes compare. A deadline the
 * participant found already passed when it looked (`expired`: a pause
 * fell between the election setting it and the participant reading
 * `remainingMs`, in one synchronous run) extends nothing: no task, no
 * other callback ran in between, so the member could not act on it.
 * - `key-overlap`: two tenures of one key at the same instant.
 * - `key-term-order`: a key's tenure (by start) whose term is not above the
 *   one before.
 * - `late-task`: a task that went on past its signal's abort by more than
 *   its drain ({@link TASK_DRAIN_MS}) and {@link TASK_SLACK}, or whose
 *   signal aborted more than {@link TASK_SLACK} after its tenure ended
 *   (time its process spent paused by a fault added to both).
 * - `task-overlap`: a task whose tenure was given up (`resigned`, `closed`)
 *   still running when another member's tenure of its key began: a graceful
 *   give-up drains the task before it releases the key. Unless its process
 *   was paused meanwhile (its lease then ran out on its own), or the
 *   tenure was lost (the lease is gone, only the abort is owed).
 *
 * Liveness (`unbalanced`): from the last heal of a fault, within
 * {@link balanceBound}, a moment comes after which, until the participants
 * were stopped, every key has exactly one owner and each running member
 * holds ⌊M/N⌋ or ⌈M/N⌉ of the M keys (N: the participant processes
 * running).
 */
import { coveredTime, findOverlaps, findTermDisorder, type Tenure, type Violation } from './checker.js';
import { TASK_DRAIN_MS } from './keys.js';
import type { ChaosReport, FaultKind, FaultRecord, RunLog } from './records.js';

/** One believed tenure of a key, by one process of one participant. */
export interface KeyTenure extends Tenure {
  readonly key: string;
  /** Which process of that name it was. */
  readonly run: number;
  /** Why it ended, as `key-released` said; `undefined` if it did not say (killed, or still open at the end). */
  readonly reason: string | undefined;
}

/** One run of a key's task, as it reported it. */
export interface TaskRun {
  readonly node: string;
  readonly run: number;
  readonly key: string;
  readonly term: number;
  readonly started: number;
  /** When it saw its signal abort, and why (the tenure's end reason). */
  readonly aborted: number | undefined;
  readonly reason: string | undefined;
  /** When it returned, having drained. */
  readonly ended: number | undefined;
}

/** How the keys came to balance after the last heal. */
export interface Balance {
  /** The last heal (or 0 without faults): the time is counted from here. */
  readonly from: number;
  /** From when on the keys stayed balanced until the stop; `undefined` if they were not balanced at the stop. */
  readonly balancedAt: number | undefined;
  /** `balancedAt - from`. */
  readonly ms: number | undefined;
  readonly bound: number;
  /** What was wrong just before the stop, when not balanced. */
  readonly problem: string | undefined;
}

/**
 * How long the keys took to balance again after one heal, when no other
 * fault was in force then: measured up to the next fault's start (or the
 * stop). A figure, not a rule: only the last heal is bound ({@link Balance}).
 */
export interface Rebalance {
  readonly fault: number;
  readonly kind: FaultKind;
  readonly heal: number;
  /** From the heal until the keys were balanced and stayed so until the next fault; `undefined` if they were not before it. */
  readonly ms: number | undefined;
  /** From the heal to the next fault's start (or the stop). */
  readonly windowMs: number;
}

/** What the keys checker found. */
export interface KeyVerdict {
  readonly tenures: readonly KeyTenure[];
  readonly tasks: readonly TaskRun[];
  readonly balance: Balance | undefined;
  readonly rebalances: readonly Rebalance[];
  readonly violations: readonly Violation[];
}

/**
 * What a busy machine may add to a task's reaction (ms): the step-down
 * timer's or the abort's lateness on two cores shared with five processes,
 * the harness, the proxies and the server (the main checker allows as much
 * for a fenced call).
 */
export const TASK_SLACK = 1000;

/**
 * The margin of the balance bound (ms): the start of a restarted process on
 * busy cores (node and tsx load in about a second) and a second of
 * scheduling and statement slack.
 */
export const BALANCE_MARGIN = 2000;

/**
 * The longest from the last heal until the keys are balanced (ms): the
 * issue's `age + 2 × tick` after a join or a leave, plus an `age` for a
 * member restarted under its old name (it must watch its own old
 * registration and keys unchanged for a full `age` before it claims them,
 * like any newcomer), plus {@link BALANCE_MARGIN}.
 */
export const balanceBound = (age: number, tick: number): number => 2 * age + 2 * tick + BALANCE_MARGIN;

/** Checks the keys of a run (`log.keys` absent: nothing to check). */
export function checkKeys(log: RunLog): KeyVerdict {
  if (!log.keys) return { tenures: [], tasks: [], balance: undefined, rebalances: [], violations: [] };
  const tenures = keyTenuresOf(log.reports, log.ended);
  const tasks = taskRunsOf(log.reports);
  const byKey = groupBy(tenures, (t) => t.key);
  const perKey = (kind: Violation['kind'], find: (tenures: readonly Tenure[]) => Violation[]): Violation[] =>
    [...byKey].flatMap(([key, own]) => find(own).map((v) => ({ ...v, kind, message: `key ${key}: ${v.message}` })));
  const balance = balanceOf(log, tenures);
  const violations = [
    ...perKey('key-overlap', findOverlaps),
    ...perKey('key-term-order', findTermDisorder),
    ...findLateTasks(log, tasks, tenures),
    ...findTaskOverlaps(log, tasks, tenures),
    ...(balance.ms === undefined || balance.ms > balance.bound ? [unbalanced(balance)] : []),
  ];
  return { tenures, tasks, balance, rebalances: rebalancesOf(log, tenures), violations };
}

/** Every believed tenure of a key, each process on its own (see the header). */
export function keyTenuresOf(reports: readonly ChaosReport[], ended: number): KeyTenure[] {
  const tenures: KeyTenure[] = [];
  for (const own of groupBy(reports, (r) => `${r.node}\u0000${r.run}`).values()) {
    const exit = own.find((r) => r.event === 'exited')?.mono ?? ended;
    const open = new Map<string, { node: string; run: number; key: string; term: number; start: number; until: number; released?: number; reason?: string }>();
    const id = (key: string, term: number): string => `${key}\u0000${term}`;
    for (const r of own) {
      if (r.event === 'key-acquired' && r.term !== undefined) {
        const key = String(r['key']);
        // Found expired already, `until` is the instant it was looked at: the tenure ends where it began.
        open.set(id(key, r.term), { node: r.node, run: r.run, key, term: r.term, start: r.mono, until: r.until ?? r.mono });
      } else if (r.event === 'key-renewed') {
        for (const [key, term, until, expired] of r['renewed'] as [string, number, number, 'expired'?][]) {
          const tenure = open.get(id(key, term));
          if (tenure && expired === undefined) tenure.until = Math.max(tenure.until, until);
        }
      } else if (r.event === 'key-released' && r.term !== undefined) {
        const tenure = open.get(id(String(r['key']), r.term));
        if (tenure && tenure.released === undefined) Object.assign(tenure, { released: r.mono, reason: r.reason });
      }
    }
    for (const t of open.values()) {
      tenures.push({
        node: t.node,
        run: t.run,
        key: t.key,
        term: t.term,
        start: t.start,
        end: Math.min(t.until, t.released ?? Infinity, exit),
        reason: t.reason,
      });
    }
  }
  return tenures.sort((a, b) => a.start - b.start);
}

/** The tasks' runs in the reports. */
export function taskRunsOf(reports: readonly ChaosReport[]): TaskRun[] {
  const runs = new Map<string, { -readonly [K in keyof TaskRun]: TaskRun[K] }>();
  for (const r of reports) {
    if ((r.event !== 'task-start' && r.event !== 'task-abort' && r.event !== 'task-end') || r.term === undefined) continue;
    const key = String(r['key']);
    const id = `${r.node}\u0000${r.run}\u0000${key}\u0000${r.term}`;
    if (r.event === 'task-start') {
      runs.set(id, { node: r.node, run: r.run, key, term: r.term, started: r.mono, aborted: undefined, reason: undefined, ended: undefined });
      continue;
    }
    const run = runs.get(id);
    if (!run) continue;
    if (r.event === 'task-abort') Object.assign(run, { aborted: r.mono, reason: r.reason });
    else run.ended = r.mono;
  }
  return [...runs.values()];
}

/** Tasks that went on too long past their abort, or whose abort came too long after their tenure ended. */
export function findLateTasks(log: RunLog, tasks: readonly TaskRun[], tenures: readonly KeyTenure[]): Violation[] {
  const tenureOf = new Map(tenures.map((t) => [`${t.node}\u0000${t.run}\u0000${t.key}\u0000${t.term}`, t]));
  return tasks.flatMap((task) => {
    const exit = exitOf(log, task.node, task.run);
    const paused = (from: number, to: number): number => coveredTime(pausesOf(log.faults, task.node), from, to);
    const name = `the task of key ${task.key} on ${task.node} (process ${task.run}, term ${task.term})`;
    const tenure = tenureOf.get(`${task.node}\u0000${task.run}\u0000${task.key}\u0000${task.term}`);
    if (task.aborted === undefined) {
      // Its tenure ended, yet the signal never aborted while the process lived on.
      if (!tenure) return [];
      const bound = tenure.end + TASK_SLACK + paused(tenure.end, exit);
      if (exit <= bound) return [];
      return [
        late(bound, task, `${name}: its tenure ended at ${seconds(tenure.end)}, its signal had not aborted by ${seconds(exit)} (bound ${seconds(bound)})`),
      ];
    }
    const problems: Violation[] = [];
    if (tenure) {
      const bound = tenure.end + TASK_SLACK + paused(tenure.end, task.aborted);
      if (task.aborted > bound)
        problems.push(
          late(
            task.aborted,
            task,
            `${name}: its tenure ended at ${seconds(tenure.end)}, its signal aborted at ${seconds(task.aborted)} (bound ${seconds(bound)})`,
          ),
        );
    }
    const bound = task.aborted + TASK_DRAIN_MS + TASK_SLACK + paused(task.aborted, task.ended ?? exit);
    const stopped = task.ended ?? exit;
    if (stopped > bound) {
      const what = task.ended === undefined ? `was still running when its process ended at ${seconds(exit)}` : `returned at ${seconds(task.ended)}`;
      problems.push(late(bound, task, `${name}: its signal aborted at ${seconds(task.aborted)}, it ${what} (bound ${seconds(bound)})`));
    }
    return problems;
  });
}

/** Tasks of given-up tenures still running when another member's tenure of their key began. */
export function findTaskOverlaps(log: RunLog, tasks: readonly TaskRun[], tenures: readonly KeyTenure[]): Violation[] {
  const byKey = groupBy(tenures, (t) => t.key);
  return tasks.flatMap((task) => {
    if (task.aborted === undefined || (task.reason !== 'resigned' && task.reason !== 'closed')) return [];
    const stopped = task.ended ?? exitOf(log, task.node, task.run);
    const next = (byKey.get(task.key) ?? []).find((t) => t.start > task.started && t.start < stopped && !(t.node === task.node && t.run === task.run));
    if (!next || coveredTime(pausesOf(log.faults, task.node), task.aborted, next.start) > 0) return [];
    return [
      {
        kind: 'task-overlap',
        at: next.start,
        nodes: [task.node, next.node],
        message: `key ${task.key}: ${task.node} gave it up (${task.reason}, term ${task.term}) at ${seconds(task.aborted)}, yet its task still ran until ${seconds(stopped)} when ${next.node} began term ${next.term} at ${seconds(next.start)}`,
      },
    ];
  });
}

/** For each heal with no other fault in force then, how long the keys took to balance again before the next fault. */
export function rebalancesOf(log: RunLog, tenures: readonly KeyTenure[]): Rebalance[] {
  const stop = log.keys?.stoppedAt ?? log.ended;
  return log.faults.flatMap((fault) => {
    if (log.faults.some((f) => f !== fault && f.start <= fault.heal && f.heal > fault.heal)) return [];
    const to = Math.min(stop, ...log.faults.filter((f) => f.start > fault.heal).map((f) => f.start));
    const { ms } = balanceOf(log, tenures, fault.heal, to);
    return [{ fault: fault.id, kind: fault.kind, heal: fault.heal, ms, windowMs: to - fault.heal }];
  });
}

/**
 * How the keys came to balance from `from` (by default the last heal) to
 * `to` (by default the stop): from when on they stayed balanced until `to`
 * (see the header).
 */
export function balanceOf(
  log: RunLog,
  tenures: readonly KeyTenure[],
  from = Math.max(0, ...log.faults.map((f) => f.heal)),
  stop = log.keys?.stoppedAt ?? log.ended,
): Balance {
  const count = log.keys?.count ?? 0;
  const bound = balanceBound(log.age, log.tick);
  const processes = [...groupBy(log.reports, (r) => `${r.node}\u0000${r.run}`).values()].map((own) => ({
    node: own[0]?.node ?? '',
    run: own[0]?.run ?? 0,
    start: own[0]?.mono ?? 0,
    end: own.find((r) => r.event === 'exited')?.mono ?? log.ended,
  }));
  const points = [from, stop, ...tenures.flatMap((t) => [t.start, t.end]), ...processes.flatMap((p) => [p.start, p.end])]
    .filter((t) => t >= from && t <= stop)
    .sort((a, b) => a - b);
  /** What is wrong at instant `t`, or `undefined` when balanced. */
  const problemAt = (t: number): string | undefined => {
    const running = processes.filter((p) => p.start <= t && t < p.end);
    const owners = new Map<string, string[]>();
    const held = new Map(running.map((p) => [`${p.node}\u0000${p.run}`, 0]));
    for (const tenure of tenures) {
      if (tenure.start > t || t >= tenure.end) continue;
      owners.set(tenure.key, [...(owners.get(tenure.key) ?? []), tenure.node]);
      const id = `${tenure.node}\u0000${tenure.run}`;
      held.set(id, (held.get(id) ?? 0) + 1);
    }
    const unowned = count - owners.size;
    if (unowned > 0) return `${unowned} of ${count} keys had no owner`;
    const n = running.length;
    const low = Math.floor(count / Math.max(1, n));
    const high = Math.ceil(count / Math.max(1, n));
    const off = running.filter((p) => {
      const own = held.get(`${p.node}\u0000${p.run}`) ?? 0;
      return own < low || own > high;
    });
    if (off.length > 0)
      return `with ${n} members running, ${off.map((p) => `${p.node} held ${held.get(`${p.node}\u0000${p.run}`) ?? 0}`).join(', ')} (not ${low === high ? low : `${low} or ${high}`})`;
    return undefined;
  };
  let balancedAt: number | undefined;
  let problem: string | undefined;
  // Back from the stop: the segments between change points, each judged at its middle.
  for (let i = points.length - 1; i > 0; i--) {
    const a = points[i - 1] ?? from;
    const b = points[i] ?? stop;
    if (b <= a) continue;
    problem = problemAt((a + b) / 2);
    if (problem !== undefined) break;
    balancedAt = a;
  }
  return { from, balancedAt, ms: balancedAt === undefined ? undefined : balancedAt - from, bound, problem: balancedAt === undefined ? problem : undefined };
}

function unbalanced(balance: Balance): Violation {
  const what =
    balance.ms === undefined
      ? `the keys were not balanced when the participants were stopped: ${balance.problem ?? 'unknown'}`
      : `the keys were balanced ${balance.ms.toFixed(0)} ms after the last heal at ${seconds(balance.from)}`;
  return { kind: 'unbalanced', at: balance.from, nodes: [], message: `${what}; bound ${balance.bound} ms` };
}

function late(at: number, task: TaskRun, message: string): Violation {
  return { kind: 'late-task', at, nodes: [task.node], message };
}

const exitOf = (log: RunLog, node: string, run: number): number =>
  log.reports.find((r) => r.event === 'exited' && r.node === node && r.run === run)?.mono ?? log.ended;

/** How much of `[from, to]` a fault kept `node` paused (SIGSTOP). */
export const pausedTime = (faults: readonly FaultRecord[], node: string, from: number, to: number): number => coveredTime(pausesOf(faults, node), from, to);

/** The spans during which a fault kept `node` paused (SIGSTOP). */
const pausesOf = (faults: readonly FaultRecord[], node: string): (readonly [number, number])[] =>
  faults.filter((f) => f.kind === 'pause' && f.target === node).map((f) => [f.start, f.heal] as const);

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const own = groups.get(key);
    if (own) own.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

const seconds = (t: number): string => `${(t / 1000).toFixed(3)} s`;
