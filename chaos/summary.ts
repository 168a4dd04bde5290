/**
 * The figures of a run (`summary.json`) and their printed form. Times are
 * in ms; instants are counted from the start of the run.
 */
import { coveredTime, handoverBoundOf, inLossWindow, lossWindowsOf, percentile, type Verdict, type ViolationKind } from './checker.js';
import { CLAIM_BOUND, type JobTally } from './job-checker.js';
import { TASK_SLACK, pausedTime } from './key-checker.js';
import { TASK_DRAIN_MS } from './keys.js';
import { isNodeFault, kindsOf, type ClusterMode, type FaultKind, type RunLog } from './records.js';

/** What `summary.json` holds. */
export interface Summary {
  /** Every violation the checker found: 0 for a passing run. */
  readonly violations: number;
  readonly violationsByKind: Partial<Record<ViolationKind, number>>;
  /** `single`: one private server; `galera`: a private 3-node Galera cluster; `replicated`: a primary with a replica that fails over. */
  readonly cluster: ClusterMode;
  readonly seed: number;
  readonly durationMs: number;
  readonly participants: number;
  readonly age: number;
  readonly tick: number;
  readonly faults: {
    readonly total: number;
    /** Every kind of the mode, injected or not. */
    readonly byKind: Partial<Record<FaultKind, number>>;
    /** Requested kinds that were never injected (the run was too short for them). */
    readonly missingKinds: readonly FaultKind[];
  };
  /** The time the server was down (database crashes), in total. */
  readonly databaseDownMs: number;
  /**
   * Galera only: where each participant connects, and each node fault with
   * the cluster's reconfiguration it measured (the longest wait for a commit
   * through a surviving node, from the fault's start until the first commit
   * after its heal), which its recovery bound includes.
   */
  readonly galera?: {
    readonly placement: Readonly<Record<string, number>>;
    readonly nodeFaults: readonly {
      readonly id: number;
      readonly kind: FaultKind;
      readonly node: string;
      readonly durationMs: number;
      readonly reconfigurationMs: number | undefined;
      /** When the longest wait began, from the fault's start. */
      readonly reconfigurationFromStartMs: number | undefined;
      readonly recoveryMs: number | undefined;
      readonly boundMs: number | undefined;
    }[];
    /** The hand-overs after heals by where the next leader was: on the resigning leader's node (woken by the lock), or on another (polling). */
    readonly handover: {
      readonly sameNode: { readonly count: number; readonly maxMs: number | undefined };
      readonly otherNode: { readonly count: number; readonly maxMs: number | undefined };
    };
    readonly reconfiguration: {
      readonly count: number;
      readonly p50Ms: number | undefined;
      readonly maxMs: number | undefined;
      readonly byKind: Partial<Record<FaultKind, { readonly count: number; readonly maxMs: number | undefined }>>;
    };
  };
  /**
   * Replicated only: each failover, with what its promotion lost, the
   * acknowledged writes of its loss window missing from the table (exempt
   * from `lost-write`, never more than the lost transactions), the highest
   * term before the promotion and the first term claimed after it, and its
   * recovery against its bound (`2 × age + tick` + other faults in force).
   */
  readonly replicated?: {
    readonly recoveryBoundWhy: string;
    readonly failovers: readonly {
      readonly id: number;
      /** From the start of the replication pause to the end of the promotion. */
      readonly lossWindowMs: number | undefined;
      readonly lostTransactions: number | undefined;
      readonly lostAckedWrites: number;
      readonly highestTermBefore: number | undefined;
      readonly firstTermAfter: number | undefined;
      /** From the end of the promotion to that first claim (the grace period is `age`). */
      readonly firstClaimAfterMs: number | undefined;
      /** How long no participant believed it led, from the start of the failover (the replication pause) until a leader after the heal. */
      readonly leaderlessMs: number | undefined;
      readonly recoveryMs: number | undefined;
      readonly boundMs: number | undefined;
    }[];
  };
  readonly recovery: {
    readonly count: number;
    readonly p50Ms: number | undefined;
    readonly p99Ms: number | undefined;
    readonly maxMs: number | undefined;
    readonly withinBound: number;
  };
  /** The hand-overs asked for after heals (`resign()` → another's `elected`). */
  readonly handover: {
    readonly count: number;
    readonly p50Ms: number | undefined;
    readonly p99Ms: number | undefined;
    readonly maxMs: number | undefined;
    readonly boundMs: number;
    /** How the bound is made. */
    readonly boundWhy: string;
    readonly withinBound: number;
    /** Heals whose next hand-over was within its bound, of `heals`. */
    readonly healsBackToNormal: number;
    readonly heals: number;
  };
  readonly tenures: number;
  readonly lastTerm: number | undefined;
  readonly writes: { readonly attempted: number; readonly acked: number; readonly rejected: number; readonly unknown: number; readonly rows: number };
  /**
   * A jobs run (`--jobs`) only: each job's slots of the run, how many a
   * healthy tenure owed, ran, doubled, lost and skipped, and why the others
   * did not run (chaos/job-checker.ts).
   */
  readonly jobs?: {
    readonly owedWhy: string;
    readonly byJob: readonly JobTally[];
  };
  /**
   * A keys run (`--keys`) only: the keys' tenures and how they ended, the
   * highest term of a key, the tasks (the longest from a tenure's end to its
   * task's abort, and from the abort to the task's return, less the time
   * their process was paused by a fault meanwhile), and the balance
   * after the last heal against its bound; each member's last view.
   */
  readonly keys?: {
    readonly count: number;
    readonly tenures: number;
    readonly endedBy: Readonly<Record<string, number>>;
    readonly highestTerm: number | undefined;
    readonly overlaps: number;
    readonly tasks: number;
    readonly abortLagMaxMs: number | undefined;
    readonly drainMaxMs: number | undefined;
    readonly taskBoundWhy: string;
    /** After each heal with no other fault in force: how long until the keys were balanced and stayed so until the next fault (`undefined`: not before it). */
    readonly rebalance: {
      readonly measured: number;
      readonly notBeforeNextFault: number;
      readonly p50Ms: number | undefined;
      readonly maxMs: number | undefined;
      readonly byKind: Partial<Record<FaultKind, { readonly count: number; readonly maxMs: number | undefined }>>;
    };
    readonly balance: {
      readonly lastHealMs: number;
      readonly balancedAtMs: number | undefined;
      readonly ms: number | undefined;
      readonly boundMs: number;
      readonly boundWhy: string;
    };
    readonly lastViews: Readonly<Record<string, { readonly owned: number; readonly target: number; readonly members: readonly string[] }>>;
  };
  readonly details: readonly { readonly kind: ViolationKind; readonly atMs: number; readonly message: string }[];
}

/** The figures of a checked run. */
export function summarize(log: RunLog, verdict: Verdict): Summary {
  const mode = log.cluster ?? 'single';
  const byKind: Partial<Record<FaultKind, number>> = Object.fromEntries(kindsOf(mode).map((kind) => [kind, log.faults.filter((f) => f.kind === kind).length]));
  const handoverBound = handoverBoundOf(log);
  const times = verdict.recoveries.flatMap((r) => (r.ms === undefined ? [] : [r.ms]));
  const violationsByKind: Partial<Record<ViolationKind, number>> = {};
  for (const v of verdict.violations) violationsByKind[v.kind] = (violationsByKind[v.kind] ?? 0) + 1;
  const count = (outcome: string): number => verdict.writes.filter((w) => w.outcome === outcome).length;
  const round = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : Math.round(ms));
  const handovers = verdict.handovers.flatMap((h) => (h.ms === undefined ? [] : [h.ms]));
  const normal = verdict.handovers.filter((h) => h.ms !== undefined && h.ms <= handoverBound);
  const nodeFaults = log.faults.filter((f) => isNodeFault(f.kind));
  const handoversWhere = (same: boolean): { count: number; maxMs: number | undefined } => {
    const placement = log.placement ?? {};
    const own = verdict.handovers.filter((h) => h.next && h.ms !== undefined && (placement[h.next.node] === placement[h.node]) === same).map((h) => h.ms ?? 0);
    return { count: own.length, maxMs: round(percentile(own, 100)) };
  };
  const reconfigurations = nodeFaults.flatMap((f) => (f.reconfigurationMs === undefined ? [] : [f.reconfigurationMs]));
  return {
    violations: verdict.violations.length,
    violationsByKind,
    cluster: mode,
    seed: log.seed,
    durationMs: Math.round(log.ended),
    participants: log.nodes.length,
    age: log.age,
    tick: log.tick,
    faults: { total: log.faults.length, byKind, missingKinds: log.kinds.filter((kind) => !byKind[kind]) },
    databaseDownMs: Math.round(log.faults.filter((f) => f.kind === 'db-crash').reduce((sum, f) => sum + f.heal - f.start, 0)),
    ...(mode === 'galera' && {
      galera: {
        placement: log.placement ?? {},
        nodeFaults: nodeFaults.map((f) => {
          const recovery = verdict.recoveries.find((r) => r.fault === f.id);
          return {
            id: f.id,
            kind: f.kind,
            node: f.target,
            durationMs: Math.round(f.heal - f.start),
            reconfigurationMs: f.reconfigurationMs,
            reconfigurationFromStartMs: round(f.reconfigurationAt === undefined ? undefined : f.reconfigurationAt - f.start),
            recoveryMs: round(recovery?.ms),
            boundMs: round(recovery?.bound),
          };
        }),
        handover: {
          sameNode: handoversWhere(true),
          otherNode: handoversWhere(false),
        },
        reconfiguration: {
          count: reconfigurations.length,
          p50Ms: round(percentile(reconfigurations, 50)),
          maxMs: round(percentile(reconfigurations, 100)),
          byKind: Object.fromEntries(
            [...new Set(nodeFaults.map((f) => f.kind))].map((kind) => {
              const own = nodeFaults.filter((f) => f.kind === kind).flatMap((f) => (f.reconfigurationMs === undefined ? [] : [f.reconfigurationMs]));
              return [kind, { count: own.length, maxMs: round(percentile(own, 100)) }];
            }),
          ),
        },
      },
    }),
    ...(mode === 'replicated' && {
      replicated: {
        recoveryBoundWhy:
          '2 × age + tick after a failover heal (age + tick, plus the grace period: a participant that sees another server watches the row a full age before it claims), plus the time other faults were in force',
        failovers: log.faults
          .filter((f) => f.kind === 'failover')
          .map((f) => {
            const recovery = verdict.recoveries.find((r) => r.fault === f.id);
            const window = lossWindowsOf([f])[0];
            const present = new Set(log.rows.map((r) => `${r.participant}\u0000${r.seq}`));
            const lostAckedWrites = window
              ? verdict.writes.filter((w) => w.outcome === 'acked' && !present.has(`${w.node}\u0000${w.seq}`) && inLossWindow(w, window)).length
              : 0;
            const promoted = f.promotedAt ?? f.heal;
            const before = verdict.tenures.filter((t) => t.start < promoted).map((t) => t.term);
            const after = verdict.tenures.filter((t) => t.start >= promoted).sort((a, b) => a.start - b.start)[0];
            return {
              id: f.id,
              lossWindowMs: round(window && window.to - window.from),
              lostTransactions: f.lostTransactions,
              lostAckedWrites,
              highestTermBefore: before.length > 0 ? Math.max(...before) : undefined,
              firstTermAfter: after?.term,
              firstClaimAfterMs: round(after && after.start - promoted),
              leaderlessMs: round(
                recovery?.leaderAt === undefined
                  ? undefined
                  : recovery.leaderAt -
                      f.start -
                      coveredTime(
                        verdict.tenures.map((t) => [t.start, t.end] as const),
                        f.start,
                        recovery.leaderAt,
                      ),
              ),
              recoveryMs: round(recovery?.ms),
              boundMs: round(recovery?.bound),
            };
          }),
      },
    }),
    recovery: {
      count: times.length,
      p50Ms: round(percentile(times, 50)),
      p99Ms: round(percentile(times, 99)),
      maxMs: round(percentile(times, 100)),
      withinBound: verdict.recoveries.filter((r) => r.ms !== undefined && r.ms <= r.bound).length,
    },
    handover: {
      count: verdict.handovers.length,
      p50Ms: round(percentile(handovers, 50)),
      p99Ms: round(percentile(handovers, 99)),
      maxMs: round(percentile(handovers, 100)),
      boundMs: handoverBound,
      boundWhy:
        mode === 'galera'
          ? `tick + 250 ms: the hand-over lock wakes only followers on the leader's node; one on another node polls (a tick)`
          : "250 ms: the issue's 100 ms plus 150 ms for the participants, proxies and server on 2 busy cores",
      withinBound: normal.length,
      healsBackToNormal: new Set(normal.flatMap((h) => h.after)).size,
      heals: log.faults.length,
    },
    tenures: verdict.tenures.length,
    lastTerm: verdict.tenures.reduce<number | undefined>((last, t) => Math.max(last ?? 0, t.term), undefined),
    writes: { attempted: verdict.writes.length, acked: count('acked'), rejected: count('rejected'), unknown: count('unknown'), rows: log.rows.length },
    ...(log.jobs && {
      jobs: {
        owedWhy: `a tenure owes the slot due at d when it began before d and its job was running in it by then (it had claimed an earlier slot under that term, or the tenure began age, ${log.age} ms, before d), it lasted ${CLAIM_BOUND} ms (the work plus a second) after d, and no fault aimed at its node or at the database was in force from d to that bound, nor age + tick before (a skew only at its restarts)`,
        byJob: verdict.jobs.tallies,
      },
    }),
    ...(log.keys && { keys: keysSummary(log, verdict) }),
    details: verdict.violations.map((v) => ({ kind: v.kind, atMs: Math.round(v.at), message: v.message })),
  };
}

/** The keys part of the summary. */
function keysSummary(log: RunLog, verdict: Verdict): NonNullable<Summary['keys']> {
  const { tenures, tasks, balance, rebalances } = verdict.keys;
  const rebalanced = rebalances.flatMap((r) => (r.ms === undefined ? [] : [r]));
  const round = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : Math.round(ms));
  const endedBy: Record<string, number> = {};
  for (const t of tenures) endedBy[t.reason ?? 'no report'] = (endedBy[t.reason ?? 'no report'] ?? 0) + 1;
  const tenureEnd = new Map(tenures.map((t) => [`${t.node}\u0000${t.run}\u0000${t.key}\u0000${t.term}`, t.end]));
  const lags = tasks.flatMap((task) => {
    const end = tenureEnd.get(`${task.node}\u0000${task.run}\u0000${task.key}\u0000${task.term}`);
    return task.aborted === undefined || end === undefined ? [] : [task.aborted - end - pausedTime(log.faults, task.node, end, task.aborted)];
  });
  const drains = tasks.flatMap((task) =>
    task.aborted === undefined || task.ended === undefined ? [] : [task.ended - task.aborted - pausedTime(log.faults, task.node, task.aborted, task.ended)],
  );
  const lastViews: Record<string, { owned: number; target: number; members: readonly string[] }> = {};
  for (const r of log.reports) {
    if (r.event === 'key-view') lastViews[r.node] = { owned: Number(r['owned']), target: Number(r['target']), members: r['members'] as string[] };
  }
  return {
    count: log.keys?.count ?? 0,
    tenures: tenures.length,
    endedBy,
    highestTerm: tenures.reduce<number | undefined>((high, t) => Math.max(high ?? 0, t.term), undefined),
    overlaps: verdict.violations.filter((v) => v.kind === 'key-overlap').length,
    tasks: tasks.length,
    abortLagMaxMs: round(percentile(lags, 100)),
    drainMaxMs: round(percentile(drains, 100)),
    taskBoundWhy: `a task's signal aborts within ${TASK_SLACK} ms of its tenure's end, and the task returns within its ${TASK_DRAIN_MS} ms drain and ${TASK_SLACK} ms of the abort (time paused by a fault added)`,
    rebalance: {
      measured: rebalanced.length,
      notBeforeNextFault: rebalances.length - rebalanced.length,
      p50Ms: round(
        percentile(
          rebalanced.map((r) => r.ms ?? 0),
          50,
        ),
      ),
      maxMs: round(
        percentile(
          rebalanced.map((r) => r.ms ?? 0),
          100,
        ),
      ),
      byKind: Object.fromEntries(
        [...new Set(rebalanced.map((r) => r.kind))].map((kind) => {
          const own = rebalanced.filter((r) => r.kind === kind).map((r) => r.ms ?? 0);
          return [kind, { count: own.length, maxMs: round(percentile(own, 100)) }];
        }),
      ),
    },
    balance: {
      lastHealMs: Math.round(balance?.from ?? 0),
      balancedAtMs: round(balance?.balancedAt),
      ms: round(balance?.ms),
      boundMs: balance?.bound ?? 0,
      boundWhy:
        'age + 2 × tick, plus an age for a member restarted under its old name (it watches its old rows a full age), plus 2 s for a process start on busy cores',
    },
    lastViews,
  };
}

/** The summary as lines for the terminal. */
export function formatSummary(summary: Summary): string[] {
  const { faults, recovery, handover, writes } = summary;
  const ms = (value: number | undefined): string => (value === undefined ? '–' : `${value} ms`);
  const kinds = Object.entries(faults.byKind)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  return [
    'Summary',
    `  run:         ${{ single: '', galera: 'Galera, ', replicated: 'a primary that fails over, ' }[summary.cluster]}${(summary.durationMs / 1000).toFixed(1)} s, seed ${summary.seed}, ${summary.participants} participants, age ${summary.age} ms, tick ${summary.tick} ms`,
    `  faults:      ${faults.total} (${kinds || 'none'})${faults.missingKinds.length > 0 ? `; never injected: ${faults.missingKinds.join(', ')}` : ''}`,
    ...(summary.galera
      ? [
          `  cluster:     3-node Galera (${Object.entries(summary.galera.placement)
            .map(([name, node]) => `${name}→${node}`)
            .join(', ')})`,
          `  reconfiguration (longest wait for a commit through a surviving node, in each node fault's bound): ${summary.galera.reconfiguration.count} measured, p50 ${ms(summary.galera.reconfiguration.p50Ms)}, max ${ms(summary.galera.reconfiguration.maxMs)}`,
          `  hand-overs to the leader's node (lock): ${summary.galera.handover.sameNode.count}, max ${ms(summary.galera.handover.sameNode.maxMs)}; to another node (polling): ${summary.galera.handover.otherNode.count}, max ${ms(summary.galera.handover.otherNode.maxMs)}`,
          ...summary.galera.nodeFaults.map(
            (f) =>
              `    fault ${f.id} ${f.kind} of ${f.node}, ${f.durationMs} ms: reconfiguration ${ms(f.reconfigurationMs)}${f.reconfigurationFromStartMs === undefined ? '' : ` (from +${f.reconfigurationFromStartMs} ms)`}; a leader ${ms(f.recoveryMs)} after the heal (bound ${ms(f.boundMs)})`,
          ),
        ]
      : summary.replicated
        ? [
            `  failovers:   ${summary.replicated.failovers.length}; recovery bound ${summary.replicated.recoveryBoundWhy}`,
            ...summary.replicated.failovers.map(
              (f) =>
                `    fault ${f.id} failover: loss window ${ms(f.lossWindowMs)}, ${f.lostTransactions ?? '–'} transactions lost (${f.lostAckedWrites} acknowledged fenced writes among them, exempt); highest term before ${f.highestTermBefore ?? '–'}, first after ${f.firstTermAfter ?? '–'} (claimed ${ms(f.firstClaimAfterMs)} after the promotion); no leader for ${ms(f.leaderlessMs)} in all since the pause; a leader ${ms(f.recoveryMs)} after the heal (bound ${ms(f.boundMs)})`,
            ),
          ]
        : [`  database down: ${summary.databaseDownMs} ms in all`]),
    `  recovery:    p50 ${ms(recovery.p50Ms)}, p99 ${ms(recovery.p99Ms)}, max ${ms(recovery.maxMs)}; ${recovery.withinBound} of ${recovery.count} within bound`,
    `  hand-over after heals: p50 ${ms(handover.p50Ms)}, p99 ${ms(handover.p99Ms)}, max ${ms(handover.maxMs)}; ${handover.withinBound} of ${handover.count} within ${handover.boundMs} ms${summary.galera ? ' (tick + 250 ms: followers on other nodes poll)' : ''}; back to normal after ${handover.healsBackToNormal} of ${handover.heals} heals`,
    `  tenures:     ${summary.tenures}, last term ${summary.lastTerm ?? '–'}`,
    `  writes:      ${writes.attempted} attempted, ${writes.acked} acknowledged, ${writes.rejected} refused, ${writes.unknown} unknown; ${writes.rows} rows`,
    ...(summary.jobs ? summary.jobs.byJob.map(formatJob) : []),
    ...(summary.keys ? formatKeys(summary.keys) : []),
    `  violations:  ${summary.violations}${
      summary.violations > 0
        ? ` (${Object.entries(summary.violationsByKind)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')})`
        : ''
    }`,
    ...summary.details.slice(0, 20).map((d) => `    ${(d.atMs / 1000).toFixed(2)}s ${d.kind}: ${d.message}`),
    ...(summary.details.length > 20 ? [`    … and ${summary.details.length - 20} more in summary.json`] : []),
  ];
}

/** The keys' lines: tenures, tasks, balance. */
function formatKeys(keys: NonNullable<Summary['keys']>): string[] {
  const ms = (value: number | undefined): string => (value === undefined ? '–' : `${value} ms`);
  const ends = Object.entries(keys.endedBy)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const { balance, rebalance } = keys;
  const byKind = Object.entries(rebalance.byKind)
    .map(([kind, r]) => `${kind} ${ms(r.maxMs)}`)
    .join(', ');
  return [
    `  keys:        ${keys.count}; ${keys.tenures} tenures (ended: ${ends || 'none'}), highest term ${keys.highestTerm ?? '–'}; ${keys.overlaps} overlaps of believed ownership`,
    `  key tasks:   ${keys.tasks}; abort at most ${ms(keys.abortLagMaxMs)} after its tenure's end, return at most ${ms(keys.drainMaxMs)} after the abort (time paused by a fault left out)`,
    `  rebalance:   after ${rebalance.measured} heals, p50 ${ms(rebalance.p50Ms)}, max ${ms(rebalance.maxMs)} (max by kind: ${byKind || '–'}); ${rebalance.notBeforeNextFault} not before the next fault`,
    `  balance:     ${balance.balancedAtMs === undefined ? 'not balanced at the stop' : `balanced ${ms(balance.ms)} after the last heal (at ${(balance.lastHealMs / 1000).toFixed(1)} s)`}; bound ${balance.boundMs} ms`,
    `  key views:   ${Object.entries(keys.lastViews)
      .map(([node, view]) => `${node} ${view.owned}/${view.target} of ${view.members.length}`)
      .join(', ')}`,
  ];
}

/** One job's line: its slots, and why those that did not run did not. */
function formatJob(job: JobTally): string {
  const reasons = Object.entries(job.notRun)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const notes = [job.cut > 0 && `${job.cut} cut short`, job.retried > 0 && `${job.retried} retried`].filter(Boolean).join(', ');
  return `  job ${`${job.job}, catchUp ${job.catchUp}:`.padEnd(28)} ${job.due} due, ${job.owed} owed by a healthy tenure; ran ${job.ran}${notes ? ` (${notes})` : ''}, doubled ${job.doubled}, lost ${job.lost}, skipped ${job.skipped}; not run: ${reasons || 'none'}`;
}
