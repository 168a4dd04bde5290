/**
 * What a chaos run records, and all the checker reads: the participants'
 * reports, the faults injected, the rows of the log table. Every time is in
 * ms on the machine's shared monotonic clock (`sharedNow()` of
 * src/cli/shared-clock.ts), counted from the start of the run.
 */
import type { Report } from '../src/cli/harness/tenures.js';

/** The fault kinds of a run on one server, in the order of the `--faults` help. */
export const SINGLE_FAULT_KINDS = ['kill', 'pause', 'partition', 'latency', 'db-crash', 'db-kill-conn', 'skew', 'fence-cut'] as const;

/** The faults of one node of a Galera cluster (`--cluster galera` only). */
export const NODE_FAULT_KINDS = ['node-kill', 'node-isolate', 'node-pause', 'node-skew'] as const;

/**
 * The failover of a primary with an asynchronous replica (`--cluster replicated`
 * only): replication paused, the participants write on, the replica promoted
 * without the last writes, a fresh replica built (the heal).
 */
export const REPLICATED_FAULT_KINDS = ['failover'] as const;

/** Every fault kind. */
export const FAULT_KINDS = [...SINGLE_FAULT_KINDS, ...NODE_FAULT_KINDS, ...REPLICATED_FAULT_KINDS] as const;

/** A kind of fault. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * What the participants talk to: one private server, a private 3-node Galera
 * cluster, or a primary with an asynchronous replica behind a name that moves.
 */
export type ClusterMode = 'single' | 'galera' | 'replicated';

/** The cluster modes, in the order of the `--cluster` help. */
export const CLUSTER_MODES: readonly ClusterMode[] = ['single', 'galera', 'replicated'];

/**
 * The kinds a mode injects. On Galera the crash of the one server
 * (`db-crash`) makes no sense: the node faults replace it. With a replicated
 * primary, a crash of the primary is a failover: `failover` replaces it.
 */
export function kindsOf(mode: ClusterMode): readonly FaultKind[] {
  const participantFaults = SINGLE_FAULT_KINDS.filter((kind) => kind !== 'db-crash');
  if (mode === 'galera') return [...participantFaults, ...NODE_FAULT_KINDS];
  if (mode === 'replicated') return [...participantFaults, ...REPLICATED_FAULT_KINDS];
  return SINGLE_FAULT_KINDS;
}

/** Whether a kind acts on one node of a Galera cluster. */
export const isNodeFault = (kind: FaultKind): boolean => (NODE_FAULT_KINDS as readonly string[]).includes(kind);

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
 * (the process is gone). A jobs run adds `fire-start`, `fire-end`, `fire`,
 * `missed` and `job-error` (see chaos/jobs.ts). A keys run adds
 * `key-acquired`, `key-renewed`, `key-released`, `task-start`, `task-abort`,
 * `task-end`, `key-view`, `key-task-error` and `key-error` (see chaos/keys.ts).
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
  /** A participant's name, `database`, or a Galera node (`galera-2`). */
  readonly target: string;
  readonly start: number;
  readonly heal: number;
  /** What exactly was done, for people: `latency 840 ms each way`, `clock +2h`… */
  readonly detail: string;
  /**
   * A Galera node fault only: the cluster's own reconfiguration, measured by
   * writes through a surviving node from the fault's start until the first
   * commit after its heal: the longest wait for a commit (ms). The checker
   * adds it to the fault's recovery bound.
   */
  readonly reconfigurationMs?: number;
  /** A Galera node fault only: when that longest wait began (the fault's start, or a commit). */
  readonly reconfigurationAt?: number;
  /** A Galera node fault only: when a write through a surviving node first committed after the heal. */
  readonly writesBackAt?: number;
  /**
   * A failover only: when the harness began pausing replication. Whatever
   * the old primary committed from then on may be lost with it.
   */
  readonly replicationPausedAt?: number;
  /** A failover only: when `promote({ lostWrites: true })` returned (the old primary killed, the name moved). */
  readonly promotedAt?: number;
  /** A failover only: transactions the old primary committed that the new one never got (`promote()`'s count). */
  readonly lostTransactions?: number;
  /**
   * A failover only: the end of the participants' grace period (`promotedAt +
   * age`: one that sees another server watches the row a full `age` before it
   * claims). For the other faults' bounds the failover is in force until then.
   */
  readonly graceEndsAt?: number;
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

/** A row of the fires table at the end of a jobs run (`--jobs`): one claimed slot of one job. */
export interface FireRow {
  readonly job: string;
  /** The slot, ISO 8601 in UTC. */
  readonly slot: string;
  readonly node: string;
  readonly term: number;
  readonly attempt: number;
  /** `done`, `failed`, `skipped`, `interrupted` or `running`. */
  readonly outcome: string;
}

/** A row the fenced job wrote (`chaos_job_rows`), in the transaction that claimed its slot. */
export interface JobRow {
  readonly job: string;
  /** The slot, ISO 8601 in UTC. */
  readonly slot: string;
  readonly term: number;
  readonly node: string;
}

/** What a jobs run (`--jobs`) adds to its log: the database's tables at the end, and the database clock against the run's. */
export interface JobsRecord {
  /**
   * The database clock minus the run's clock (ms): a slot due at `t` (ms
   * since the epoch, by the database clock) came due at `t - dbOffset` in
   * the run's time. Measured at the start, from one `UTC_TIMESTAMP(6)` read.
   */
  readonly dbOffset: number;
  /** When the harness began stopping the participants (run time): no slot is owed after it. */
  readonly stoppedAt: number;
  readonly fires: readonly FireRow[];
  readonly rows: readonly JobRow[];
}

/** What a keys run (`--keys`) adds to its log. */
export interface KeysRecord {
  /** How many keys the participants shared (`'0'` … `String(count - 1)`). */
  readonly count: number;
  /** When the harness began stopping the participants (run time): the keys are judged balanced up to it. */
  readonly stoppedAt: number;
}

/** Everything a run recorded. */
export interface RunLog {
  /** `galera` or `replicated` for those `--cluster` modes; absent in runs on one server (and in logs from before the modes). */
  readonly cluster?: ClusterMode;
  /** Galera only: the node each participant talks to (1-based), by participant name. */
  readonly placement?: Readonly<Record<string, number>>;
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
  /** A jobs run (`--jobs`) only: the fires table, the fenced job's rows, the database clock. */
  readonly jobs?: JobsRecord;
  /** A keys run (`--keys`) only: the number of keys, and when the participants were stopped. */
  readonly keys?: KeysRecord;
}
