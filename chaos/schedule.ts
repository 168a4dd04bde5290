/**
 * The fault scheduler: starts a fault every `interval` or so (uniformly
 * between half and one and a half of it), several at a time up to
 * `concurrency`, each healed after a random while, until `until`.
 *
 * Kinds come round-robin from a fresh seeded shuffle of the requested kinds,
 * so every kind is injected once in the first round: a run long enough for
 * that many faults covers them all, whatever the seed. A participant has one
 * fault at a time, and the server one (a crash, or a KILL of sessions; on
 * Galera, one node fault at a time, or a KILL of sessions; with a replicated
 * primary, a failover or a KILL of sessions, and no participant process
 * starts during a failover).
 * Targets lean towards the leader, where faults hurt. A {@link FaultGate}
 * (the hand-over probe) can hold new faults back for a while.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { sharedNow } from '../src/cli/shared-clock.js';
import { FAULTS, type FaultContext, type FaultType } from './faults.js';
import type { ChaosNode } from './node.js';
import type { FaultKind, FaultRecord } from './records.js';

/** How the scheduler paces faults. */
export interface ScheduleOptions {
  readonly kinds: readonly FaultKind[];
  /** Mean time between two fault starts, ms. */
  readonly interval: number;
  /** Most faults in force at once. */
  readonly concurrency: number;
  /** No fault starts after this instant, and every fault has healed by then (shared monotonic clock, ms). */
  readonly until: number;
  /** Aborts the run (Ctrl-C): no new fault, no heal. */
  readonly signal: AbortSignal;
  /** Told of every fault; may hold new ones back. */
  readonly gate?: FaultGate;
}

/** What the scheduler tells of each fault, and asks before starting one. */
export interface FaultGate {
  /** Whether a new fault may start now (the scheduler asks again every 100 ms until it may). */
  readonly open: boolean;
  /** A fault is being injected. */
  began(): void;
  /** A fault healed (`undefined`: it failed to inject or heal). */
  ended(fault: FaultRecord | undefined): void;
}

/** Chance that a participant fault picks the leader, when the leader is free. */
const LEADER_BIAS = 0.6;
/** How often a fault waiting for a free target looks again, ms. */
const RETRY = 100;

/** Injects faults until `options.until`; calls `record` as each one heals; resolves when all have. */
export async function injectFaults(
  context: FaultContext,
  nodes: readonly ChaosNode[],
  options: ScheduleOptions,
  record: (fault: FaultRecord) => void,
): Promise<void> {
  const { random } = context;
  const busy = new Set<string>(); // participants under a fault, 'database' while the server has one, 'failover' during a failover
  let restarting = 0; // faults in force that start new participant processes (kill, skew)
  const running = new Set<Promise<void>>();
  const failures: unknown[] = [];
  let cycle: FaultKind[] = [];
  let id = 0;

  const freeNode = (type: FaultType): ChaosNode | undefined => {
    const free = nodes.filter((node) => !busy.has(node.name) && (type.fits?.(node) ?? true));
    const leader = free.find((node) => node.leading);
    if (leader && random.chance(LEADER_BIAS)) return leader;
    return free.length > 0 ? random.pick(free) : undefined;
  };

  const run = async (kind: FaultKind, node: ChaosNode | undefined, duration: number): Promise<void> => {
    const target = node?.name ?? 'database';
    const held = [target, ...(FAULTS[kind].onServer ? ['database'] : []), ...(kind === 'failover' ? ['failover'] : [])];
    for (const name of held) busy.add(name);
    if (FAULTS[kind].restarts) restarting++;
    options.gate?.began();
    let healed: FaultRecord | undefined;
    try {
      const faultId = ++id;
      const start = sharedNow();
      const injection = await FAULTS[kind].inject(context, node, faultId);
      if (duration > 0) await delay(duration, undefined, { signal: options.signal });
      await injection.heal();
      const heal = sharedNow();
      const measured = await injection.measured?.(heal);
      healed = { id: faultId, kind, target: injection.target ?? target, start, heal, detail: injection.detail, ...measured };
      record(healed);
    } finally {
      for (const name of held) busy.delete(name);
      if (FAULTS[kind].restarts) restarting--;
      options.gate?.ended(healed);
    }
  };

  try {
    schedule: for (;;) {
      await delay(random.between(0.5, 1.5) * options.interval, undefined, { signal: options.signal });
      if (failures.length > 0) throw failures[0];
      if (cycle.length === 0) cycle = random.shuffle(options.kinds);
      const kind = cycle.shift() as FaultKind;
      const type = FAULTS[kind];
      const { min, max } = type.duration(context);
      let duration = Math.round(random.between(min, max));
      // Wait for a free slot and target; give up when the fault would no longer fit.
      let node: ChaosNode | undefined;
      for (;;) {
        const left = options.until - sharedNow();
        if (left <= min) break schedule;
        duration = Math.min(duration, left);
        // No new participant process during a failover, and no failover while one may start (see FaultType.restarts).
        const apart = type.restarts ? !busy.has('failover') : kind !== 'failover' || restarting === 0;
        const free = running.size < options.concurrency && !(type.onServer && busy.has('database')) && apart && (options.gate?.open ?? true);
        if (free && type.target === 'database') break;
        if (free && (node = freeNode(type))) break;
        await delay(RETRY, undefined, { signal: options.signal });
      }
      const task = run(kind, node, duration);
      running.add(task);
      // A fault that fails to inject or heal stops the run at the next step.
      task.catch((error: unknown) => failures.push(error)).finally(() => running.delete(task));
    }
  } finally {
    await Promise.allSettled(running);
  }
  if (failures.length > 0) throw failures[0];
}
