import type { Batcher } from './batcher.js';
import type { ClaimItem, HeldItem } from './mysql/batches.js';
import type { Driver } from './mysql/driver.js';
import type { RenewalSchedule, Renewable } from './renewals.js';
import type { StatementTimer } from './statement-timer.js';
import type { StepGate } from './step-gate.js';
import type { HeldTenure, HoldingStore, Observation, ObservedLease } from './store.js';

/** What an election's {@link BatchedStore} needs of its engine. */
export interface StoreEngine {
  /** The engine's driver of its `db`. */
  readonly driver: Driver;
  /** The timer of every statement of the engine's elections. */
  readonly statements: StatementTimer;
  /** The line of its elections' follower steps (see {@link StepGate}). */
  readonly steps: StepGate;
  readonly reads: Batcher<string, Observation>;
  readonly claims: Batcher<ClaimItem, number | undefined>;
  readonly renewals: RenewalSchedule;
  readonly releases: Batcher<HeldItem, boolean>;
  /** Claims by itself, outside the batches. */
  claimOne(item: ClaimItem, signal: AbortSignal): Promise<number | undefined>;
  /** The election closed: its name is free in the engine again. */
  closed(store: BatchedStore): void;
}

/**
 * Decides, before each claim of an election, whether it goes out: `claim`
 * sends it; resolving `undefined` without calling it refuses it, which the
 * elector takes for a lost race (see `Leases.share`).
 */
export type ClaimGate = (seen: ObservedLease | undefined, claim: () => Promise<number | undefined>) => Promise<number | undefined>;

/** What a waiting lock learns of each attempt to take the lease (see `Leases.withLock`). */
export type AttemptOutcome = 'busy' | 'lost' | 'failed';

/**
 * The {@link HoldingStore} of one election of a `Leases` engine: its reads,
 * claims and releases go into the engine's batches, one statement for many
 * elections, and while it leads its elector hands it the tenure, which the
 * engine's one {@link RenewalSchedule} renews in batches too. The elector
 * above it is the one of a standalone `MysqlLeader`, and so is the safety
 * rule: the elector takes its local deadline from the moment the renewal or
 * the claim was asked for (`HeldTenure.ask`, `Elector#follow`: `sent` is
 * read before the store is called), which comes before the batch's
 * statement is sent, so the database computed `expires_at` after it. A
 * renewal counts only when the batch says that row was written (see
 * `MysqlBatches`); time spent waiting for a batch counts against a read's
 * or a claim's limit (`StatementTimer`).
 *
 * Two things go apart, by themselves:
 * - a renewal while a fenced transaction of this election holds its row
 *   (`fence`): it waits for that transaction, which must not hold up the
 *   batch of every other election;
 * - every claim after one whose outcome is unknown (an error, a time-out):
 *   a claim in doubt may still land, and only a claim sent alone can tell
 *   its own write from that one (see `MysqlBatches`, which relies on it).
 */
export class BatchedStore implements HoldingStore, Renewable {
  readonly name: string;
  readonly #engine: StoreEngine;
  /** Fenced transactions of this election in progress: its renewals go apart meanwhile. */
  #fenced = 0;
  /** Where the engine's renewal schedule holds this election (the schedule's). */
  slot: number | undefined;
  #tenure: HeldTenure | undefined;
  /** A renewal of this election is in a batch now. */
  #inBatch = false;
  /** Fences waiting for the renewal in a batch to be answered (made when one waits). */
  #afterBatch: (() => void)[] | undefined;
  /** A claim of this election ended in doubt: the later ones go apart. */
  #claimInDoubt = false;
  /** From a read to the outcome of the claim it leads to, if any. */
  #attempting = false;
  /** Told how each attempt to take the lease ends, when it does not win (a waiting lock). */
  onAttempt: ((outcome: AttemptOutcome) => void) | undefined;
  /** Asked before each claim of this election, when set (a share's balance). */
  claimGate: ClaimGate | undefined;

  /** The line this election's follower steps go through: the engine's, unless it goes unpaced (a lock, a semaphore's permit, a share's key or registration: see `Leases`). */
  readonly steps: StepGate | undefined;

  /** The election `name` of `engine`, its follower steps in the engine's line if `paced`. */
  constructor(engine: StoreEngine, name: string, paced: boolean) {
    this.#engine = engine;
    this.name = name;
    this.steps = paced ? engine.steps : undefined;
  }

  /** The engine's driver, which its elections share. */
  get driver(): Driver {
    return this.#engine.driver;
  }

  /** The engine's statement timer, which its elections share. */
  get statements(): StatementTimer {
    return this.#engine.statements;
  }

  /** Whether a fenced transaction of this election is open or about to open (its renewals then go apart). */
  get fenced(): boolean {
    return this.#fenced > 0;
  }

  /** Whether an attempt to take the lease is in progress: a read, and the claim that follows it. */
  get attempting(): boolean {
    return this.#attempting;
  }

  async read(signal: AbortSignal): Promise<Observation> {
    this.#attempting = true;
    let observation: Observation;
    try {
      observation = await this.#engine.reads.submit(this.name, signal);
    } catch (error) {
      this.#endAttempt('failed');
      throw error;
    }
    // Held by someone (or by a term of ours the elector will release first): no claim follows this read.
    if (observation.lease !== undefined && !observation.lease.released) this.#endAttempt('busy');
    return observation;
  }

  async claim(_nodeName: string, seen: ObservedLease | undefined, minTerm: number, signal: AbortSignal): Promise<number | undefined> {
    const item: ClaimItem = { name: this.name, seen, minTerm };
    let term: number | undefined;
    try {
      const send = (): Promise<number | undefined> => (this.#claimInDoubt ? this.#engine.claimOne(item, signal) : this.#engine.claims.submit(item, signal));
      term = await (this.claimGate ? this.claimGate(seen, send) : send());
    } catch (error) {
      this.#claimInDoubt = true;
      this.#endAttempt('failed');
      throw error;
    }
    if (term === undefined) this.#endAttempt('lost');
    else this.#attempting = false;
    return term;
  }

  /** The tenure the engine's renewal schedule renews, while this election leads. */
  get tenure(): HeldTenure | undefined {
    return this.#tenure;
  }

  hold(tenure: HeldTenure): void {
    // A new tenure while the last one is still scheduled: the schedule holds a lease once.
    if (tenure !== this.#tenure && this.slot !== undefined) this.#engine.renewals.forget(this);
    this.#tenure = tenure;
    this.#engine.renewals.hold(this);
  }

  /** A renewal of this election went into a batch, or its answer came: a fence waits for the one in a batch. */
  inBatch(inFlight: boolean): void {
    this.#inBatch = inFlight;
    const waiting = this.#afterBatch;
    if (inFlight || !waiting) return;
    this.#afterBatch = undefined;
    for (const resolve of waiting) resolve();
  }

  release(_nodeName: string, term: number, signal: AbortSignal): Promise<boolean> {
    return this.#engine.releases.submit({ name: this.name, term }, signal);
  }

  async close(): Promise<void> {
    this.#engine.closed(this);
  }

  /**
   * Runs a fenced transaction of this election (`run`): from now until it
   * settles, renewals go apart; a renewal already in a batch is waited for
   * first, so that the transaction's lock on the row never holds up a batch.
   */
  async fence<T>(run: () => Promise<T>): Promise<T> {
    this.#fenced++;
    try {
      if (this.#inBatch) await new Promise<void>((resolve) => (this.#afterBatch ??= []).push(resolve)); // its outcome is the elector's.
      return await run();
    } finally {
      this.#fenced--;
    }
  }

  #endAttempt(outcome: AttemptOutcome): void {
    if (!this.#attempting) return;
    this.#attempting = false;
    this.onAttempt?.(outcome);
  }
}
