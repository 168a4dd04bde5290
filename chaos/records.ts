/**
 * What a chaos run records, and all the checker reads: the participants'
 * reports, the faults injected, the rows of the log table. Every time is in
 * ms on the machine's shared monotonic clock (`sharedNow()` of
 * src/cli/shared-clock.ts), counted from the start of the run.
 */
import type { Report } from '../src/cli/harness/tenures.js';

/** The fault kinds, in the order of the `--faults` help. */
export const FAULT_KINDS = ['kill', 'pause', 'partition', 'latency', 'db-crash', 'db-kill-conn', 'skew', 'fence-cut'] as const;

/** A kind of fault. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * One line a chaos participant printed (chaos/participant.ts), or that the
 * harness added for it (`exited`). `run` counts the processes that bore the
 * participant's name: 1, then one more per restart.
 *
 * Events: `ready`; `elected` and `renewed` (`term`, `until`: the last instant
 * it would have said it leads); `revoked` (`term`, `reason`); `write`
 * (`seq`, `phase`: `begin`, `inserted` with `term`, then `acked`,
 * `rejected` or `unknown`); `resign` (`phase`: `begin` with `leading`,
 * `term` and `handoverLock`, then `done` or `failed`); `lock` (`active`:
 * each change of `handoverLockActive`); `error`; `exited`
 * (the process is gone).
 */
export interface ChaosReport extends Report {
  readonly run: number;
}

/** The phases of one fenced write, in its participant's reports. */
export type WritePhase = 'begin' | 'inserted' | 'acked' | 'rejected' | 'unknown';

/** The phases of one `resign()` call, in its participant's reports. */
export type ResignPhase = 'begin' | 'done' | 'failed';

/** One fault, injected at `start` and healed at `heal` (equal for an instant fault). */
export interface FaultRecord {
  readonly id: number;
  readonly kind: FaultKind;
  /** A participant's name, or `database`. */
  readonly target: string;
  readonly start: number;
  readonly heal: number;
  /** What exactly was done, for people: `latency 840 ms each way`, `clock +2h`… */
  readonly detail: string;
}

/**
 * A hand-over the harness asked for after heals: once no fault was in force
 * and a leader existed, it told that leader to `resign()` at `sent`.
 */
export interface ProbeRecord {
  readonly id: number;
  /** The leader told to resign. */
  readonly node: string;
  readonly sent: number;
  /** The faults that healed since the previous probe (ids): the hand-over is judged as coming after them. */
  readonly after: readonly number[];
}

/** A row of the log table: one committed fenced write. */
export interface LogRow {
  readonly term: number;
  readonly participant: string;
  readonly seq: number;
  /** The election row's term, read in the write's own transaction when it inserted the row. */
  readonly liveTerm: number | null;
}

/** Everything a run recorded. */
export interface RunLog {
  readonly seed: number;
  readonly age: number;
  readonly tick: number;
  /** The participants' names, in lane order. */
  readonly nodes: readonly string[];
  /** The fault kinds the run was asked to inject. */
  readonly kinds: readonly FaultKind[];
  /** The end of the run (its start is 0). */
  readonly ended: number;
  readonly reports: readonly ChaosReport[];
  readonly faults: readonly FaultRecord[];
  readonly probes: readonly ProbeRecord[];
  readonly rows: readonly LogRow[];
}
