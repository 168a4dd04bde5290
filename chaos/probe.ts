/**
 * The hand-over probe: after faults heal, it asks the leader to `resign()`,
 * so that the checker can judge the hand-over that follows against its
 * normal bound: the library must be as good as before the fault.
 *
 * It probes in a quiet moment only: no fault in force, a leader, every
 * running participant's hand-over lock back in use (the library takes it
 * back after a lease's length, longer after repeated starvations), and all
 * of that for {@link SETTLE_TICKS} ticks. From a heal until its probe is over it
 * holds new faults back (it is the scheduler's {@link FaultGate}), so that
 * the hand-over measured is the library's own, not another fault's.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { sharedNow } from '../src/cli/shared-clock.js';
import type { ChaosNode } from './node.js';
import type { ChaosReport, FaultRecord, ProbeRecord } from './records.js';
import type { FaultGate } from './schedule.js';

/**
 * How long the quiet must last before the leader is told to resign, in
 * ticks: a new leader takes the hand-over lock at its first renewal, a tick
 * after it was elected, and every follower is back waiting on the lock by
 * the end of its next pause, a tick at most. (The bench's hand-over rounds
 * likewise wait at least a tick.) A resign() before that is answered by
 * polling, as after any election, fault or not.
 */
const SETTLE_TICKS = 2;
/** How often the probe looks for a quiet moment (ms). */
const LOOK = 50;

/** Asks leaders to resign after heals; see the file's header. */
export class HandoverProbe implements FaultGate {
  readonly #nodes: readonly ChaosNode[];
  readonly #signal: AbortSignal;
  readonly #record: (probe: ProbeRecord) => void;
  /** Faults that healed since the last probe (ids). */
  #healed: number[] = [];
  #inForce = 0;
  #probing: Promise<void> | undefined;
  #id = 0;
  /** The probe in progress: who resigned, and what it waits for. */
  #waiting: { readonly node: string; readonly begun: (leading: boolean) => void; readonly elected: () => void } | undefined;

  /**
   * `tick`: the participants' election interval; `wait`: the longest a
   * probe waits for another participant's `elected` before it lets faults
   * start again (the checker judges it anyway).
   */
  constructor(
    nodes: readonly ChaosNode[],
    readonly tick: number,
    readonly wait: number,
    signal: AbortSignal,
    record: (probe: ProbeRecord) => void,
  ) {
    this.#nodes = nodes;
    this.#signal = signal;
    this.#record = record;
  }

  get open(): boolean {
    return this.#healed.length === 0 && this.#probing === undefined;
  }

  began(): void {
    this.#inForce++;
  }

  ended(fault: FaultRecord | undefined): void {
    this.#inForce--;
    if (!fault) return;
    this.#healed.push(fault.id);
    this.#probing ??= this.#probeAll().finally(() => (this.#probing = undefined));
  }

  /** Every participant report, for the resign and the election that follows. */
  observe(report: ChaosReport): void {
    const waiting = this.#waiting;
    if (!waiting) return;
    if (report.event === 'resign' && report['phase'] === 'begin' && report.node === waiting.node) waiting.begun(report['leading'] === true);
    else if (report.event === 'elected' && report.node !== waiting.node) waiting.elected();
  }

  /** Resolves once the probe in progress, if any, is over (or the run was interrupted). */
  async settled(): Promise<void> {
    await this.#probing;
  }

  /** Probes until no heal is left unprobed; one probe covers every heal before it. */
  async #probeAll(): Promise<void> {
    try {
      while (this.#healed.length > 0) {
        const leader = await this.#quietLeader();
        const after = this.#healed;
        this.#healed = [];
        if (!(await this.#probe(leader, after))) this.#healed.unshift(...after); // it had stopped leading: again.
      }
    } catch (error) {
      if (!this.#signal.aborted) throw error;
    }
  }

  /** Waits for a quiet moment that lasts {@link SETTLE_TICKS} ticks; resolves to the leader then. */
  async #quietLeader(): Promise<ChaosNode> {
    for (;;) {
      const leader = this.#quiet();
      if (leader) {
        await delay(SETTLE_TICKS * this.tick, undefined, { signal: this.#signal });
        if (this.#quiet() === leader) return leader;
      }
      await delay(LOOK, undefined, { signal: this.#signal });
    }
  }

  /** The leader, if no fault is in force and every running participant's hand-over lock is in use. */
  #quiet(): ChaosNode | undefined {
    if (this.#inForce > 0) return undefined;
    const running = this.#nodes.filter((node) => node.running);
    if (!running.every((node) => node.lockActive)) return undefined;
    const leaders = running.filter((node) => node.leading);
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  /** Tells `leader` to resign and waits for the next leader; resolves `false` if it no longer led when its resign() began. */
  async #probe(leader: ChaosNode, after: readonly number[]): Promise<boolean> {
    let begun: (leading: boolean) => void = () => {};
    let elected: () => void = () => {};
    const resignBegun = new Promise<boolean>((resolve) => (begun = resolve));
    const nextLeader = new Promise<void>((resolve) => (elected = resolve));
    this.#waiting = { node: leader.name, begun, elected };
    const done = new AbortController();
    const timeout = delay(this.wait, false, { signal: AbortSignal.any([this.#signal, done.signal]) });
    timeout.catch(() => {}); // aborted by `done` below, or by the run's signal, which the race passes on.
    try {
      const sent = sharedNow();
      leader.resign();
      if (!(await Promise.race([resignBegun, timeout]))) return false;
      this.#record({ id: ++this.#id, node: leader.name, sent, after });
      await Promise.race([nextLeader, timeout]);
      return true;
    } finally {
      this.#waiting = undefined;
      done.abort();
    }
  }
}
