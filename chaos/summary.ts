/**
 * The figures of a run (`summary.json`) and their printed form. Times are
 * in ms; instants are counted from the start of the run.
 */
import { HANDOVER_BOUND, percentile, type Verdict, type ViolationKind } from './checker.js';
import { FAULT_KINDS, type FaultKind, type RunLog } from './records.js';

/** What `summary.json` holds. */
export interface Summary {
  /** Every violation the checker found: 0 for a passing run. */
  readonly violations: number;
  readonly violationsByKind: Partial<Record<ViolationKind, number>>;
  readonly seed: number;
  readonly durationMs: number;
  readonly participants: number;
  readonly age: number;
  readonly tick: number;
  readonly faults: {
    readonly total: number;
    readonly byKind: Record<FaultKind, number>;
    /** Requested kinds that were never injected (the run was too short for them). */
    readonly missingKinds: readonly FaultKind[];
  };
  /** The time the server was down (database crashes), in total. */
  readonly databaseDownMs: number;
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
    readonly withinBound: number;
    /** Heals whose next hand-over was within its bound, of `heals`. */
    readonly healsBackToNormal: number;
    readonly heals: number;
  };
  readonly tenures: number;
  readonly lastTerm: number | undefined;
  readonly writes: { readonly attempted: number; readonly acked: number; readonly rejected: number; readonly unknown: number; readonly rows: number };
  readonly details: readonly { readonly kind: ViolationKind; readonly atMs: number; readonly message: string }[];
}

/** The figures of a checked run. */
export function summarize(log: RunLog, verdict: Verdict): Summary {
  const byKind = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, log.faults.filter((f) => f.kind === kind).length])) as Record<FaultKind, number>;
  const times = verdict.recoveries.flatMap((r) => (r.ms === undefined ? [] : [r.ms]));
  const violationsByKind: Partial<Record<ViolationKind, number>> = {};
  for (const v of verdict.violations) violationsByKind[v.kind] = (violationsByKind[v.kind] ?? 0) + 1;
  const count = (outcome: string): number => verdict.writes.filter((w) => w.outcome === outcome).length;
  const round = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : Math.round(ms));
  const handovers = verdict.handovers.flatMap((h) => (h.ms === undefined ? [] : [h.ms]));
  const normal = verdict.handovers.filter((h) => h.ms !== undefined && h.ms <= HANDOVER_BOUND);
  return {
    violations: verdict.violations.length,
    violationsByKind,
    seed: log.seed,
    durationMs: Math.round(log.ended),
    participants: log.nodes.length,
    age: log.age,
    tick: log.tick,
    faults: { total: log.faults.length, byKind, missingKinds: log.kinds.filter((kind) => byKind[kind] === 0) },
    databaseDownMs: Math.round(log.faults.filter((f) => f.kind === 'db-crash').reduce((sum, f) => sum + f.heal - f.start, 0)),
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
      boundMs: HANDOVER_BOUND,
      withinBound: normal.length,
      healsBackToNormal: new Set(normal.flatMap((h) => h.after)).size,
      heals: log.faults.length,
    },
    tenures: verdict.tenures.length,
    lastTerm: verdict.tenures.reduce<number | undefined>((last, t) => Math.max(last ?? 0, t.term), undefined),
    writes: { attempted: verdict.writes.length, acked: count('acked'), rejected: count('rejected'), unknown: count('unknown'), rows: log.rows.length },
    details: verdict.violations.map((v) => ({ kind: v.kind, atMs: Math.round(v.at), message: v.message })),
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
    `  run:         ${(summary.durationMs / 1000).toFixed(1)} s, seed ${summary.seed}, ${summary.participants} participants, age ${summary.age} ms, tick ${summary.tick} ms`,
    `  faults:      ${faults.total} (${kinds || 'none'})${faults.missingKinds.length > 0 ? `; never injected: ${faults.missingKinds.join(', ')}` : ''}`,
    `  database down: ${summary.databaseDownMs} ms in all`,
    `  recovery:    p50 ${ms(recovery.p50Ms)}, p99 ${ms(recovery.p99Ms)}, max ${ms(recovery.maxMs)}; ${recovery.withinBound} of ${recovery.count} within bound`,
    `  hand-over after heals: p50 ${ms(handover.p50Ms)}, p99 ${ms(handover.p99Ms)}, max ${ms(handover.maxMs)}; ${handover.withinBound} of ${handover.count} within ${handover.boundMs} ms; back to normal after ${handover.healsBackToNormal} of ${handover.heals} heals`,
    `  tenures:     ${summary.tenures}, last term ${summary.lastTerm ?? '–'}`,
    `  writes:      ${writes.attempted} attempted, ${writes.acked} acknowledged, ${writes.rejected} refused, ${writes.unknown} unknown; ${writes.rows} rows`,
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
