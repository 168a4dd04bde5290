import { EventEmitter } from 'node:events';
import { CampaignStop } from './campaign-stop.js';
import { systemClock, type Clock } from './clock.js';
import { ClosedError, DatabaseError, LeadershipEndedError, MysqlLeaderError, NotLeaderError, QueryTimeoutError, type RevokeReason } from './errors.js';
import type { LeaderEvents, LeaderInfo } from './events.js';
import { LeaderWork } from './leader-work.js';
import type { Leader } from './leader.js';
import type { ResolvedOptions } from './options.js';
import { SPARE_CONTROLLERS, StatementTimer } from './statement-timer.js';
import type { StepGate } from './step-gate.js';
import type { HandoverLock, HeldTenure, HoldingStore, Lease, LeaseStore, ObservedLease } from './store.js';
import type { TaskHandle, TenureContext, TenureTask } from './tenure.js';

/** This node's own tenure: it leads under `term` until `deadline` (monotonic ms) unless renewed. */
interface LocalTenure {
  readonly term: number;
  deadline: number;
  /** Made when the tenure's signal is first asked for (see `#signalOf`): many held leases never need one. */
  controller: AbortController | undefined;
  stepDown: unknown;
  /** The duration the step-down timer was set with (ms). */
  stepDownMs: number;
  /** The step-down timer's callback, made once per tenure. */
  readonly onDeadline: () => void;
}

/** A row version this follower has watched, and when it first saw it (monotonic ms, when the read's reply arrived). */
interface Watch {
  readonly term: number;
  readonly version: string;
  readonly since: number;
}

/** The running `acquire()` call: aborting `stop` ends the campaign. */
interface Campaign {
  readonly stop: CampaignStop;
  readonly done: Promise<void>;
}

/**
 * What the loop does after a step: wait `ms`, on the hand-over lock if
 * `lock` (`if-held`: only if another session holds it), else on a timer.
 */
interface Pause {
  readonly ms: number;
  readonly lock?: 'wait' | 'if-held' | undefined;
}

/** How long a new leader waits for the hand-over lock, which a follower holds only while it reads the row (ms). */
const HOLD_WAIT = 100;

/** The drivers' codes of a connection that could not be made at all (`DatabaseError.sqlCode`): before a campaign's first answer, a wrong address more likely than an outage. */
const CONNECT_FAILURES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** The reason `close()` gives the campaign's stop signal, to tell it from the caller's abort. */
const CLOSING = Symbol('closing');

/** The step-down timer of a tenure fires at least this share of a lease's local life (`age - margin`) apart (see `#armStepDown`). */
const STEP_DOWN_SHARE = 0.5;

/** Followers look at the row every tick minus up to this fraction, so that they do not move in step. */
const JITTER = 0.2;

/**
 * A follower reads the row this long (ms, up to three times as long, at random)
 * after the leader's next renewal is due by the row's `renewed_at`: it then
 * sees each version soon after it is written, which keeps fail-over after a
 * crash close to `age` (see `#nextRead`).
 */
const AFTER_RENEWAL = 8;

/**
 * After a failover (another server answers, or the row's term went back),
 * the first claim jumps the term by this much above every term this node
 * knows: the old primary may have issued terms that never reached the new
 * one, and no tenure may ever reuse a term.
 */
export const TERM_JUMP = 1_000_000;

/**
 * The election state machine: follower → leader → follower, the local
 * deadline, timers and events. It knows nothing of SQL: every statement goes
 * through a {@link LeaseStore}, and time comes from a {@link Clock}.
 *
 * Safety rests on two rules, on monotonic clocks only, so that no database
 * clock (skewed between Galera nodes, stepped, or of a new primary) can
 * break them:
 * - the leader believes it leads only until `sent + age - margin`
 *   (`#deadlineFrom`), where `sent` is when the statement that wrote its
 *   lease was sent;
 * - a follower takes over a lease that was not released only once it has
 *   seen the same row version (term and `renewed_at`) unchanged for `age`,
 *   counted from the arrival of the read that first showed it (`#watch`),
 *   and only by a compare-and-set on that version. That read came after the
 *   write of the version, which came after its statement was sent: the
 *   leader's belief ended at least `margin` before.
 * A released lease is claimed at once. The database clock only times reads.
 *
 * States, and the fields that hold them:
 * - follower: no `#tenure`. Each step of the loop is `#follow`: read the row,
 *   claim it when vacant (absent, released, or watched unchanged for `age`
 *   in `#watched`), else wait (on the hand-over lock, or a timer).
 * - leader: `#tenure` (term, local deadline, the tenure's AbortController,
 *   the step-down timer), and `#heldTerm` is its term. Each step is `#renew`.
 *   Where the store has a hand-over lock (`store.handoverLock`), the leader
 *   holds it; a follower holds it only from being woken by it to its claim's end.
 * - stale lease of ours: no `#tenure`, but `#heldTerm` set: the row may
 *   name this node under a term it does not believe in (resigned, a renewal
 *   or a claim in doubt that may still land, a reply that came too late).
 *   The next `#follow` that finds it releases it.
 * - resigning: `#resigning`, a `resign()` waiting for the loop to release the
 *   lease; until then `#holdOffUntil` is `Infinity`.
 * - held off: `#holdOffUntil` in the future (after `resign()`, or a renewal
 *   the database refused): a follower that does not claim before then.
 * Around them: `#campaign` while `acquire()` runs, `#closing` once `close()`
 * was called; `#work` is the leader-only work a release waits for.
 */
export class Elector extends EventEmitter<LeaderEvents> implements Leader {
  readonly #store: LeaseStore | HoldingStore;
  readonly #options: ResolvedOptions;
  readonly #clock: Clock;
  #tenure: LocalTenure | undefined;
  /** A term this node obtained, or may have obtained, in the row and has not released yet (its tenure may be over). */
  #heldTerm: number | undefined;
  #observed: LeaderInfo | undefined;
  /** The row version this follower is watching (see the safety rule). */
  #watched: Watch | undefined;
  /** The highest term this node has seen in the row or held. */
  #maxTerm = 0;
  /** The coordinator that answered the last read (see `Observation.coordinator`). */
  #coordinator: string | undefined;
  /** A failover was noticed: claims jump the term above this one (see TERM_JUMP) until a term past the jump is seen. */
  #jumpFrom: number | undefined;
  /**
   * After a failover, no claim before this time (monotonic ms), not even of
   * a released or missing row: the new primary's row may not carry the
   * newest term, whose holder may still believe in it (Chubby's grace period).
   */
  #graceUntil = 0;
  /** The hand-over lock woke this follower while this term held the row: the lock is not where that leader is (see `#lockWait`). */
  #lockAway: number | undefined;
  #campaign: Campaign | undefined;
  /** Ends the campaign loop's current pause early (see `#nudge`): a timer's, or a tenure held by the store (woken). */
  #endPause: (() => void) | { wake(): void } | undefined;
  /** The loop was nudged while between two pauses (in a statement): its next pause is skipped. */
  #nudged = false;
  /** Whether the hand-over lock was in use when last looked at (its changes are logged). */
  #handoverLockInUse = true;
  /** The last pause ended because the hand-over lock was obtained (the leader let go, or is not on this server). */
  #wokenByLock = false;
  /** After `resign()` or a refused renewal, this node does not claim the lease before this time, so another can. */
  #holdOffUntil = 0;
  /** A `resign()` waiting for the loop to release its lease. */
  #resigning: { readonly resolve: () => void; readonly reject: (error: unknown) => void } | undefined;
  /** The last claim lost a race that the read said it could win (a lagging replica, a truncating column…). */
  #lostClaim = false;
  /** Steps that failed in a row: the first is retried at once, the next ones after a tick. */
  #failures = 0;
  /** The database has answered this campaign (a read, or a whole step): it was reachable and the table usable. */
  #answered = false;
  /** Leader-only work: the `runWhileLeader()` tasks and the work a release waits for; made when first needed (many leases of an engine have none). */
  #work: LeaderWork | undefined;
  /** Times every statement sent to the store. */
  readonly #statements: StatementTimer;
  #closing: Promise<void> | undefined;

  /** @internal Use `MysqlLeader`. */
  constructor(store: LeaseStore | HoldingStore, options: ResolvedOptions, clock: Clock = systemClock) {
    super();
    this.#store = store;
    this.#options = options;
    this.#clock = clock;
    // An engine's elections share its timer (see `HoldingStore.statements`).
    this.#statements = store.statements ?? new StatementTimer(clock, SPARE_CONTROLLERS);
    this.on('error', ignore);
  }

  /** This participant's name, as stored in the row while it leads. */
  get nodeName(): string {
    return this.#options.nodeName;
  }

  /** The frozen options in effect, defaults included. */
  get options(): ResolvedOptions {
    return this.#options;
  }

  /**
   * Whether this node leads at this instant: a live tenure whose local
   * deadline has not passed. No query; a process that was paused answers
   * `false` the moment it runs again (and its tenure ends on the spot).
   */
  get leading(): boolean {
    return this.#liveTenure() !== undefined;
  }

  /**
   * How long this node is sure to lead without a further renewal, in ms
   * (0 when not leading): its local deadline, which ends `margin` before the
   * lease does in the database. Work that must finish while leading can
   * check it before it starts.
   */
  get remainingMs(): number {
    const tenure = this.#liveTenure();
    return tenure ? tenure.deadline - this.#clock.now() : 0;
  }

  /** The fencing token of the current tenure, or `undefined` when not leading. */
  get term(): number | undefined {
    return this.#liveTenure()?.term;
  }

  /**
   * The current tenure's `AbortSignal`, to hand to leader-only work: it
   * aborts, with a `LeadershipEndedError` as reason, the moment the tenure
   * ends. When not leading, an already aborted signal.
   */
  get signal(): AbortSignal {
    const tenure = this.#liveTenure();
    return tenure ? signalOf(tenure) : AbortSignal.abort(new NotLeaderError(`${this.nodeName} is not the leader`));
  }

  /**
   * Whether followers can be woken through the hand-over lock now: `false`
   * with `handoverLock: false`, on a single connection, where the server
   * refuses `GET_LOCK`, for a while after the pool had no connection to
   * spare for the election (then followers poll every tick), and while this
   * node leads without holding the lock (its connection was lost or killed:
   * the leader finds out at its next renewal's check of the lock, and takes
   * it back then).
   */
  get handoverLockActive(): boolean {
    const lock = this.#store.handoverLock;
    return lock?.available === true && (this.#tenure === undefined || lock.holding);
  }

  /** Whether this node leads now (the `leading` getter; no query). */
  async isLeader(signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    return this.leading;
  }

  /**
   * Runs `task` at the start of every tenure of this node, with the
   * tenure's term and signal; the signal aborts when the tenure ends. A run
   * that has not settled when the next tenure begins is waited for first, so
   * runs never overlap. What a run throws is emitted as `taskError`, never as
   * an unhandled rejection (an abort with its own signal is not an error).
   * `close()` and `resign()` wait for the run in progress before they release
   * the lease (up to `drainTimeout`).
   */
  runWhileLeader(task: TenureTask): TaskHandle {
    if (this.#closing) throw new ClosedError('runWhileLeader');
    return this.#workOf().register(task);
  }

  /**
   * Runs leader-only work for the current tenure, tracked so that the lease
   * is released only after it settles. Rejects with `ClosedError` or
   * `NotLeaderError` before `run` is called when it must not run.
   */
  protected async leadWith<T>(method: string, run: (tenure: TenureContext) => Promise<T>): Promise<T> {
    if (this.#closing) throw new ClosedError(method);
    const tenure = this.#liveTenure();
    if (!tenure) throw new NotLeaderError(`${this.nodeName} does not hold a live lease, so ${method}() did not run`);
    return await this.#workOf().fenced(() => run({ term: tenure.term, signal: signalOf(tenure) }));
  }

  /**
   * Reads the election row: the live leader with its term and the remaining
   * life of its lease by the database clock, or `undefined` when the lease is
   * vacant or has lapsed. One query, limited by `queryTimeout`.
   */
  async currentLeader(signal?: AbortSignal): Promise<Lease | undefined> {
    if (this.#closing) throw new ClosedError('currentLeader');
    signal?.throwIfAborted();
    const { lease } = await this.#statements.run('reading the election row', (inner) => this.#store.read(inner), this.#options.queryTimeout, signal);
    return lease && lease.expiresInMs > 0 ? lease : undefined;
  }

  /**
   * Campaigns for leadership and keeps the lease while it leads. Resolves
   * when `close()` is called; rejects with `signal.reason` when `signal`
   * aborts, or with the error `onError` returned. In each case it has
   * stepped down and released the lease before settling.
   */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('acquire'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#campaign) return Promise.reject(new MysqlLeaderError('ERR_MYSQL_LEADER_BUSY', 'acquire() is already running on this MysqlLeader'));
    const stop = new CampaignStop((reason) => {
      this.#endTenure(this.#tenure, reason === CLOSING ? 'closed' : 'aborted');
      this.#nudge();
    });
    let cleanUp = ignore;
    if (signal) {
      const onAbort = (): void => stop.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      cleanUp = () => signal.removeEventListener('abort', onAbort);
    }
    // No async frame of its own: a campaign waits in #run only (an engine's 10,000 campaigns wait at once).
    const campaign: Campaign = { stop, done: this.#run(stop, cleanUp) };
    this.#campaign = campaign;
    return campaign.done;
  }

  /**
   * Steps down and releases the lease, so that another node takes over at
   * once; keeps campaigning, but lets a `tick` (and a few ms) pass before claiming again.
   * Does nothing when this node does not lead.
   */
  async resign(): Promise<void> {
    if (this.#closing) throw new ClosedError('resign');
    const tenure = this.#tenure;
    if (!tenure) return;
    // No claim until a tick after the release (which first waits for the tenure's work).
    this.#holdOffUntil = Infinity;
    this.#endTenure(tenure, 'resigned');
    // The loop releases, in turn with its other statements (a renewal in flight, the lock).
    const released = new Promise<void>((resolve, reject) => (this.#resigning = { resolve, reject }));
    this.#nudge();
    try {
      await released;
    } finally {
      this.#holdOffUntil = this.#clock.now() + this.#holdOff();
    }
  }

  /** Tells a waiting `resign()` how the release went. */
  #settleResign(error?: unknown): void {
    const resigning = this.#resigning;
    this.#resigning = undefined;
    if (error === undefined) resigning?.resolve();
    else resigning?.reject(error);
  }

  /**
   * Stops campaigning: ends the tenure, waits for the statement in flight,
   * releases the lease and frees the store's connections. Idempotent; the
   * `acquire()` call in progress resolves.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    const campaign = this.#campaign;
    if (campaign) {
      campaign.stop.abort(CLOSING);
      // acquire() reports a failure of the campaign to its own caller; it has drained.
      await campaign.done.catch(() => {});
    } else await this.#work?.drain();
    await this.#store.close();
  }

  /**
   * The campaign of one `acquire()` call, from the first read to the final
   * release: the loop of steps (follower or leader) and their pauses; then
   * `done` (the caller's clean-up), and it settles as `acquire()` does.
   */
  async #run(stop: CampaignStop, done: () => void): Promise<void> {
    this.#nudged = false; // a nudge meant for an earlier campaign.
    let failure: { error: unknown } | undefined; // boxed: whatever the loop threw is rethrown, `undefined` too.
    try {
      while (!stop.aborted) {
        let pause: Pause;
        const store = this.#store;
        try {
          if (this.#tenure) pause = store.hold ? await this.#held(store, 0) : { ms: await this.#renew(store) };
          else {
            // An engine paces its elections' follower steps: wait in its line (stopped meanwhile: the loop ends). A step
            // that first releases a lease of ours (which waits for the tenure's work to drain) takes no place.
            const steps = this.#heldTerm === undefined ? store.steps : undefined;
            if (steps && !steps.enter() && !(await this.#inLine(steps))) continue;
            if (steps && stop.aborted) {
              steps.leave(); // stopped as it was let in: no step.
              continue;
            }
            try {
              pause = await this.#follow(stop);
            } finally {
              steps?.leave();
            }
            // Elected: a store that holds leases renews this one from now on, the first renewal due after the pause.
            if (this.#tenure && store.hold) pause = await this.#held(store, pause.ms);
          }
          this.#failures = 0;
          this.#answered = true;
        } catch (caught) {
          const next = await this.#afterFailure(caught, stop);
          if (next === undefined) break;
          pause = next;
        }
        await this.#pause(pause, stop);
      }
    } catch (error) {
      failure = { error };
      this.#endTenure(this.#tenure, 'error', error);
    }
    try {
      await this.#endCampaign();
    } finally {
      done();
      this.#campaign = undefined;
    }
    if (failure) throw failure.error;
    if (stop.aborted && stop.reason !== CLOSING) throw stop.reason;
  }

  /**
   * Waits in the store's line of follower steps until this one goes in
   * (`true`: it must leave the line's gate when done), or until the
   * campaign is stopped (`false`: it did not go in). Made only when the
   * line is full (a burst of elections started together).
   */
  #inLine(steps: StepGate): Promise<boolean> {
    return new Promise((resolve) => {
      let waiting = true;
      const end = (admitted: boolean): boolean => {
        if (!waiting) return false;
        waiting = false;
        if (this.#endPause === waiter) this.#endPause = undefined;
        resolve(admitted);
        return admitted;
      };
      const waiter = { admitted: () => end(true), wake: () => void end(false) };
      this.#endPause = waiter; // by #nudge(), when `stop` aborts.
      steps.wait(waiter);
    });
  }

  /**
   * A step of the campaign failed with `caught`: reports it, and returns how
   * to wait before the next step, or `undefined` when the campaign stops
   * (`stop` aborted); throws what `onError` returned to end it. Apart from
   * `#run`, whose frame every waiting campaign keeps (an engine's 10,000):
   * what only a failure needs is not in it.
   */
  async #afterFailure(caught: unknown, stop: CampaignStop): Promise<Pause | undefined> {
    const error = toError(caught);
    this.#emit('error', error);
    this.#settleResign(error);
    if (stop.aborted) return undefined;
    if (error instanceof DatabaseError && error.errno !== undefined) this.#answered = true; // the server answered, with an error.
    // A transient error (a lost or refused connection, a cluster node
    // not ready or cut off, a lock wait) never stops a campaign that the
    // database has answered (with rows or an error: a node not ready
    // answers); a time-out never stops one at all. Before the first
    // answer, a connection that cannot be made at all (refused, no such
    // host) is more likely a wrong address: onError judges it, and the
    // rest (a missing table, no permission, a read-only server).
    const unreachable = error instanceof DatabaseError && error.errno === undefined && CONNECT_FAILURES.has(error.sqlCode ?? '');
    if (!(error instanceof QueryTimeoutError || (error instanceof DatabaseError && error.transient && (this.#answered || !unreachable)))) {
      const verdict = await this.#options.onError(error);
      if (verdict) throw verdict;
    }
    // Read the row again at once (a renewal in doubt), then back off.
    return { ms: this.#failures++ === 0 ? 0 : this.#jitteredTick() };
  }

  /** The end of a campaign: waits for the leader-only work, releases a lease of ours, frees the hand-over lock. */
  async #endCampaign(): Promise<void> {
    await this.#work?.drain(); // also the work of a tenure that ended earlier (lost, expired).
    try {
      if (this.#heldTerm !== undefined) await this.#release(this.#heldTerm);
      this.#settleResign();
    } catch (error) {
      this.#emit('error', toError(error));
      this.#settleResign(error);
    }
    await this.#dropHandoverLock();
  }

  /** One follower step: read the row, claim it if vacant; returns how to wait before the next step. */
  async #follow(stop: CampaignStop): Promise<Pause> {
    const { queryTimeout, nodeName, age } = this.#options;
    const wokenByLock = this.#wokenByLock;
    this.#wokenByLock = false;
    // 1. Read the row; watch its version; forget a held term it can no longer carry.
    const { lease, coordinator } = await this.#statements.run('reading the election row', (signal) => this.#store.read(signal), queryTimeout);
    this.#answered = true; // the database is reachable and the table readable: a lost connection from now on is transient.
    this.#noticeFailover(lease, coordinator);
    const claimAt = this.#watch(lease) + age;
    this.#see(lease);
    this.#forgetHeldTerm(lease);
    if (lease && !lease.released) {
      // 2. A lease of ours this node does not believe in (resigned, a
      // renewal or claim in doubt, a reply that came too late): release it
      // so that a new tenure, with a new term, can begin at once.
      if (lease.nodeName === nodeName && lease.term === this.#heldTerm) {
        await this.#release(lease.term);
        await this.#dropHandoverLock();
        this.#settleResign();
        return { ms: 0 };
      }
      const now = this.#clock.now();
      if (now < claimAt) {
        // 3. Someone else holds it, or held it until it has been unchanged
        // for a full age: let the lock go to them (or to the next waiter).
        await this.#dropHandoverLock();
        this.#settleResign();
        this.#lostClaim = false;
        return { ms: Math.min(claimAt - now, this.#nextRead(lease)), lock: this.#lockWait(lease.term, wokenByLock) };
      }
    }
    // 4. Vacant: absent, released, or unchanged for a full age. Held off
    // (after resign(), or a lease lost), or in the grace period after a failover: do not claim yet.
    this.#settleResign();
    const holdOff = Math.max(this.#holdOffUntil, this.#graceUntil) - this.#clock.now();
    if (holdOff > 0) {
      await this.#dropHandoverLock(); // a follower keeps the lock only while it claims.
      return { ms: Math.min(holdOff, this.#options.tick) };
    }
    // 5. Claim the lease: a compare-and-set on the version read. Its outcome
    // unknown, the term it would have given is ours to release if it lands.
    const sent = this.#clock.now();
    const minTerm = Math.max(this.#maxTerm + 1, this.#jumpFrom === undefined ? 0 : this.#jumpFrom + TERM_JUMP);
    let term: number | undefined;
    try {
      term = await this.#statements.run('claiming the lease', (signal) => this.#store.claim(nodeName, lease, minTerm, signal), queryTimeout);
    } catch (error) {
      this.#heldTerm = Math.max(lease ? lease.term + 1 : 1, minTerm);
      throw error;
    }
    if (term === undefined) {
      // 6. Another node won (or wrote first): read who, at once. If that
      // read leads to a claim that loses again, reads and claims disagree: back off.
      await this.#dropHandoverLock();
      const again = this.#lostClaim;
      this.#lostClaim = true;
      return { ms: again ? this.#jitteredTick() : 0 };
    }
    // 7. Won: the term is ours in the row; lead, unless stopping or the reply came too late.
    this.#lostClaim = false;
    this.#heldTerm = term;
    this.#maxTerm = Math.max(this.#maxTerm, term);
    this.#jumpFrom = undefined;
    if (stop.aborted) return { ms: 0 }; // #run releases it.
    if (!this.#begin(term, sent)) return { ms: 0 };
    await this.#holdHandoverLock();
    // The first renewal comes a little early: leaders started together
    // (many elections in one process) do not renew in step.
    return { ms: Math.max(0, sent + this.#options.tick - this.#firstRenewalEarly(nodeName, term) - this.#clock.now()) };
  }

  /**
   * How to wait on the hand-over lock while `term` holds the row: `wait`
   * for it. But once the lock woke this follower while the row was held
   * (`wokenByLock`), the lock is not where the leader is: it crashed, its
   * lock's connection was lost or killed, it holds the lock on another
   * Galera node, or not at all. A free lock would wake this follower again
   * at once, so it waits on a timer for the next pause, and after that only
   * on a lock that someone holds (`if-held`; a free one: a timer), until a
   * new term, or until a wait that the lock made last (the leader holds it
   * again, and a release will wake this follower).
   */
  #lockWait(term: number, wokenByLock: boolean): Pause['lock'] {
    if (this.#lockAway !== undefined && this.#lockAway !== term) this.#lockAway = undefined;
    if (wokenByLock) {
      this.#lockAway = term;
      return undefined;
    }
    return this.#lockAway === undefined ? 'wait' : 'if-held';
  }

  /**
   * Notices a failover of the coordinator: another server answers than the
   * last time, or the row's term is below one this node has seen (the new
   * primary lost the last writes, or the row was recreated). Then no
   * watching done on the old one counts, and no claim comes before a full
   * age, even of a row released or missing on the new one: the old primary's
   * leader may still believe in a renewal or a claim the new one never saw.
   * The next claim jumps the term.
   */
  #noticeFailover(lease: ObservedLease | undefined, coordinator: string): void {
    const term = lease?.term ?? 0;
    const moved = this.#coordinator !== undefined && coordinator !== this.#coordinator;
    this.#coordinator = coordinator;
    if (moved || term < this.#maxTerm) {
      this.#log('warn', 'the coordinator failed over: a full lease of watching before any claim, and the next term jumps', { term, maxTerm: this.#maxTerm });
      this.#watched = undefined;
      this.#graceUntil = this.#clock.now() + this.#options.age;
      this.#jumpFrom = Math.max(this.#jumpFrom ?? 0, this.#maxTerm);
      this.#maxTerm = term; // the jump keeps the old highest; this failover is noticed once.
      return;
    }
    if (this.#jumpFrom !== undefined && term >= this.#jumpFrom + TERM_JUMP) this.#jumpFrom = undefined; // another node jumped.
    this.#maxTerm = Math.max(this.#maxTerm, term);
  }

  /**
   * Records the version just read, and returns since when (monotonic ms)
   * this follower has seen it unchanged: the arrival of the first read that
   * showed it, which came after its write.
   */
  #watch(lease: ObservedLease | undefined): number {
    const now = this.#clock.now();
    const watched = this.#watched;
    if (!lease) {
      this.#watched = undefined;
      return now;
    }
    if (watched?.term === lease.term && watched.version === lease.version) return watched.since;
    this.#watched = { term: lease.term, version: lease.version, since: now };
    return now;
  }

  /**
   * Forgets the held term once the row shows it can no longer carry it: a
   * newer term, or that term released or in another node's name. A claim in
   * doubt may still land while the row shows an older term.
   */
  #forgetHeldTerm(lease: ObservedLease | undefined): void {
    const held = this.#heldTerm;
    if (held === undefined || !lease) return;
    if (lease.term > held || (lease.term === held && (lease.released || lease.nodeName !== this.#options.nodeName))) this.#heldTerm = undefined;
  }

  /**
   * When to read the row next (ms from now): just after the leader's next
   * renewal is due by the row's `renewed_at` and the database clock, so that
   * the follower sees each new version soon after it is written; when the
   * renewal is overdue, after about as long again (at least a few ms, at
   * most a tick). A database clock that is off (another node's) only makes
   * this less timely, never unsafe.
   */
  #nextRead(lease: ObservedLease): number {
    const tick = this.#options.tick;
    const after = AFTER_RENEWAL * (1 + 2 * Math.random());
    // The version a claim wrote (acquired_at = renewed_at) is renewed a little early.
    const claimed = lease.acquiredAt.getTime() === lease.renewedAt.getTime();
    const due = tick - (claimed ? this.#firstRenewalEarly(lease.nodeName, lease.term) : 0) - lease.renewedMsAgo;
    const ms = due >= 0 ? Math.min(due, tick) + after : Math.min(Math.max(-due, after), tick);
    return Math.ceil(ms);
  }

  /** Starts a tenure confirmed by a statement sent at `sent`, unless its reply came too late. */
  #begin(term: number, sent: number): boolean {
    const deadline = this.#deadlineFrom(sent);
    // A reply that arrives after the deadline computed from its send time
    // confers nothing; the next step finds the lease ours and releases it.
    if (this.#clock.now() >= deadline) return false;
    const tenure: LocalTenure = { term, deadline, controller: undefined, stepDown: undefined, stepDownMs: 0, onDeadline: () => this.#onDeadline(tenure) };
    this.#tenure = tenure;
    this.#armStepDown(tenure);
    this.#see({ nodeName: this.#options.nodeName, term, expiresInMs: deadline - this.#clock.now() });
    this.#log('info', 'elected', { term });
    this.#emit('elected', { term });
    this.#work?.startTasks();
    return true;
  }

  /**
   * The safety rule: the local deadline of a lease set by a statement sent
   * at `sent` (monotonic ms). The database computed `expires_at` as its own
   * clock plus `age` after that moment, so this always comes `margin` (or
   * more) before the database lets another node in.
   */
  #deadlineFrom(sent: number): number {
    return sent + this.#options.age - this.#options.margin;
  }

  /** One leader step: renew the lease; returns the wait until the next step. */
  async #renew(store: LeaseStore): Promise<number> {
    const tenure = this.#tenure as LocalTenure;
    const { tick, queryTimeout, nodeName } = this.#options;
    const sent = this.#clock.now();
    const left = tenure.deadline - sent;
    if (left <= 0) {
      this.#endTenure(tenure, 'expired');
      return 0;
    }
    let renewed: boolean;
    try {
      // Never wait for a reply past the local deadline. While this node's
      // own fenced transaction holds the row, the renewal waits for it: let
      // it wait as long as the lease allows rather than step down for that.
      const limit = this.#work?.holdingRow === true ? left : Math.min(queryTimeout, left);
      renewed = await this.#statements.run('renewing the lease', (signal) => store.renew(nodeName, tenure.term, signal), limit);
    } catch (error) {
      // The outcome is unknown: step down now, read the row next. (A limit
      // reached at the deadline is the lease running out, as the timer says.)
      this.#endTenure(tenure, this.#clock.now() >= tenure.deadline ? 'expired' : 'error', error);
      throw error;
    }
    if (this.#tenure !== tenure) return 0; // ended while the renewal was in flight.
    const deadline = this.#deadlineFrom(sent);
    if (!renewed || this.#clock.now() >= deadline) {
      // Lost: taken, forced free by an operator, or lapsed. Let the others
      // have it for a tick rather than win it straight back.
      if (!renewed) this.#holdOffUntil = this.#clock.now() + this.#holdOff();
      this.#endTenure(tenure, renewed ? 'expired' : 'lost');
      return 0;
    }
    // The step-down timer, armed for the old deadline, re-arms itself for this one when it fires.
    tenure.deadline = deadline;
    this.#emit('renewed', { term: tenure.term, latencyMs: this.#clock.now() - sent });
    await this.#holdHandoverLock();
    return Math.max(0, sent + tick - this.#clock.now());
  }

  /**
   * The leader's steps on a store that holds leases (a `Leases` engine's):
   * hands it the live tenure, its first renewal due in `ms`, and waits until
   * the tenure is over. The store asks for each renewal when it is due and
   * tells its outcome, which is judged here as `#renew` judges it: the
   * deadline counts from the moment of the asking, before the statement is
   * sent, and only a confirmed row renews. Resolves once the tenure is over
   * (after the renewal in flight, if any: `close()` waits for it); rejects,
   * the tenure ended, with the error of a renewal whose outcome is unknown.
   */
  #held(store: HoldingStore, ms: number): Promise<Pause> {
    return new Promise<Pause>((resolve, reject) => {
      const held = new Elector.#HeldLease(this, store, this.#tenure as LocalTenure, this.#clock.now() + ms, resolve, reject);
      this.#endPause = held;
      store.hold(held);
    });
  }

  /**
   * A tenure handed to a store that holds leases (`#held`): what the store
   * asks for and tells, as one object with its methods on its class (an
   * engine holds 10,000 of them: no closures of their own). Within the
   * class body, so that it works on the elector's private state.
   */
  static readonly #HeldLease = class HeldLease implements HeldTenure {
    readonly name: string;
    readonly term: number;
    due: number;
    /** When the renewal in flight was asked for: its deadline counts from then. A fraction: the field holds doubles from the start. */
    sent = 0.5;
    #inFlight = false;
    #over = false;
    readonly #elector: Elector;
    readonly #store: HoldingStore;
    /** The elector's tenure that this is. */
    readonly #local: LocalTenure;
    readonly #resolve: (pause: Pause) => void;
    readonly #reject: (error: Error) => void;

    constructor(elector: Elector, store: HoldingStore, tenure: LocalTenure, due: number, resolve: (pause: Pause) => void, reject: (error: Error) => void) {
      this.name = store.name;
      this.term = tenure.term;
      this.due = due;
      this.#elector = elector;
      this.#store = store;
      this.#local = tenure;
      this.#resolve = resolve;
      this.#reject = reject;
    }

    ask(now: number): number | undefined {
      if (this.#over) return undefined;
      const elector = this.#elector;
      const tenure = this.#local;
      // The store's reading of the clock, before it sends the renewal, for the check and the asking (10,000 leases ask every tick).
      if (elector.#liveTenure(now) !== tenure) {
        this.#finish(); // ended meanwhile (its deadline passed, resigned, stopped).
        return undefined;
      }
      this.sent = now;
      this.#inFlight = true;
      const left = tenure.deadline - now;
      // While this node's own fenced transaction holds the row, its renewal waits for it (see #renew).
      return elector.#work?.holdingRow === true ? left : Math.min(elector.#options.queryTimeout, left);
    }

    settle(outcome: boolean | Error, now: number): void {
      this.#inFlight = false;
      const elector = this.#elector;
      const tenure = this.#local;
      if (outcome instanceof Error) {
        elector.#endTenure(tenure, now >= tenure.deadline ? 'expired' : 'error', outcome);
        this.#finish(outcome);
        return;
      }
      // `now` was read after the answer arrived: a renewal confirmed by then, whose deadline has not passed, holds.
      const deadline = elector.#deadlineFrom(this.sent);
      if (elector.#tenure !== tenure) this.#finish();
      else if (!outcome || now >= deadline) {
        if (!outcome) elector.#holdOffUntil = now + elector.#holdOff();
        elector.#endTenure(tenure, outcome ? 'expired' : 'lost');
        this.#finish();
      } else {
        tenure.deadline = deadline;
        // An engine renews 10,000 leases a tick: no event object for an event no one listens to.
        if (elector.listenerCount('renewed') > 0) elector.#emit('renewed', { term: tenure.term, latencyMs: now - this.sent });
        this.due = this.sent + elector.#options.tick;
        this.#store.hold(this);
      }
    }

    /** Nudged (resign(), a stop): the tenure has ended; the loop goes on once no renewal is in flight. */
    wake(): void {
      if (this.#elector.#tenure !== this.#local && !this.#inFlight) this.#finish();
    }

    /** The tenure is over: the loop goes on (or fails with `error`, a renewal whose outcome is unknown). */
    #finish(error?: Error): void {
      if (this.#over) return;
      this.#over = true;
      if (this.#elector.#endPause === this) this.#elector.#endPause = undefined;
      if (error) this.#reject(error);
      else this.#resolve({ ms: 0 });
    }
  };

  /**
   * Takes the hand-over lock while leading, or checks it is still held. A
   * follower may be passing through it (woken, reading the row): wait a
   * moment. On the leader's path, so bounded well within a tick. Without
   * a lock in use (an engine's elections have none), nothing to wait for:
   * `undefined`, and no async call for each of 10,000 elections.
   */
  #holdHandoverLock(): Promise<void> | undefined {
    const lock = this.#usableHandoverLock();
    return lock && this.#takeHandoverLock(lock);
  }

  async #takeHandoverLock(lock: HandoverLock): Promise<void> {
    if (lock.holding) await this.#handoverLockStatement('checking the hand-over lock', (signal) => lock.check(signal));
    const wait = Math.min(HOLD_WAIT, this.#options.tick / 4);
    if (!lock.holding) await this.#handoverLockStatement('taking the hand-over lock', (signal) => lock.hold(wait, signal));
  }

  /**
   * The store's hand-over lock if it is in use now. Logs when it goes off
   * (the server refused it, or the pool starved: followers then poll every
   * tick) and when it comes back.
   */
  #usableHandoverLock(): HandoverLock | undefined {
    const lock = this.#store.handoverLock;
    const usable = lock?.available === true;
    if (lock && usable !== this.#handoverLockInUse) {
      this.#handoverLockInUse = usable;
      if (usable) this.#log('info', 'hand-over lock taken back: followers wake at a release again', {});
      else
        this.#log(
          'warn',
          'hand-over lock off (refused by the server, or its connection given back to a starved pool): followers poll every tick until it is back',
          {},
        );
    }
    return usable ? lock : undefined;
  }

  /** Frees the hand-over lock, waking the first waiting follower; `undefined` when it is not held (nothing to wait for). */
  #dropHandoverLock(): Promise<void> | undefined {
    const lock = this.#store.handoverLock;
    return lock?.holding ? this.#handoverLockStatement('freeing the hand-over lock', (signal) => lock.drop(signal)) : undefined;
  }

  /** The hand-over lock only speeds things up: its errors are reported, never fatal. */
  async #handoverLockStatement(what: string, run: (signal: AbortSignal) => Promise<void>): Promise<void> {
    try {
      await this.#statements.run(what, run, Math.min(this.#options.queryTimeout, this.#options.tick / 2));
    } catch (error) {
      this.#emit('error', toError(error));
    }
  }

  /** Releases a lease of ours, once the work of the tenure has settled (the next leader must not overlap it). */
  async #release(term: number): Promise<void> {
    await this.#work?.drain();
    await this.#statements.run('releasing the lease', (signal) => this.#store.release(this.#options.nodeName, term, signal), this.#options.queryTimeout);
    if (this.#heldTerm === term) this.#heldTerm = undefined;
  }

  /** The leader-only work of this elector, made on first use. */
  #workOf(): LeaderWork {
    this.#work ??= new LeaderWork({
      clock: this.#clock,
      drainTimeout: this.#options.drainTimeout,
      currentTenure: () => {
        const tenure = this.#liveTenure();
        return tenure && { term: tenure.term, signal: signalOf(tenure) };
      },
      onTaskError: (term, error) => this.#emit('taskError', { term, error }),
      onDrainTimeout: (pending) =>
        this.#log('warn', 'leader-only work outlived drainTimeout; releasing the lease anyway', { drainTimeout: this.#options.drainTimeout, pending }),
    });
    return this.#work;
  }

  /** The tenure, if its deadline has not passed at `now`; ends it on the spot if it has. */
  #liveTenure(now = this.#clock.now()): LocalTenure | undefined {
    const tenure = this.#tenure;
    if (tenure && now >= tenure.deadline) {
      this.#endTenure(tenure, 'expired');
      return undefined;
    }
    return tenure;
  }

  /**
   * Ends the tenure when its deadline passes, driven by a timer and never by
   * a reply. The timer never fires after the deadline: it is set for the
   * time left, or for half a lease (`STEP_DOWN_SHARE`) when more is left,
   * and is looked at again when it fires. A leader renewed every tick always
   * has more than that left then, so its timer is refreshed, the same
   * timer with the same whole-ms duration as every lease of its options:
   * 10,000 held leases make no timer object per renewal, and share one of
   * Node's timer lists rather than one list each.
   */
  #armStepDown(tenure: LocalTenure): void {
    const left = tenure.deadline - this.#clock.now();
    const ms = Math.min(left, Math.floor(STEP_DOWN_SHARE * (this.#options.age - this.#options.margin)));
    // The same duration again, or a shorter one not far below it: re-arm the timer as it is (it fires no later than the deadline).
    if (tenure.stepDown !== undefined && tenure.stepDownMs <= ms && 2 * tenure.stepDownMs >= ms) {
      this.#clock.refresh(tenure.stepDown);
      return;
    }
    this.#clock.clearTimeout(tenure.stepDown);
    tenure.stepDown = this.#clock.setTimeout(tenure.onDeadline, ms);
    tenure.stepDownMs = ms;
  }

  /** The step-down timer of `tenure` fired: its deadline has passed, or was moved on by renewals since the timer was armed. */
  #onDeadline(tenure: LocalTenure): void {
    if (this.#tenure !== tenure) return;
    if (this.#clock.now() >= tenure.deadline) this.#endTenure(tenure, 'expired');
    else this.#armStepDown(tenure);
  }

  #endTenure(tenure: LocalTenure | undefined, reason: RevokeReason, cause?: unknown): void {
    if (!tenure || this.#tenure !== tenure) return;
    this.#tenure = undefined;
    this.#clock.clearTimeout(tenure.stepDown);
    const error = cause === undefined ? undefined : toError(cause);
    tenure.controller?.abort(new LeadershipEndedError(tenure.term, reason, error && { cause: error }));
    const routine = reason === 'resigned' || reason === 'closed' || reason === 'aborted';
    this.#log(routine ? 'info' : 'warn', 'stepped down', { term: tenure.term, reason, ...(error && { err: error }) });
    this.#emit('revoked', { term: tenure.term, reason, ...(error && { error }) });
  }

  /** Records the live leader seen in the row and emits `leaderChange` when it differs. */
  #see(lease: Pick<Lease, 'nodeName' | 'term' | 'expiresInMs'> | undefined): void {
    const leader = lease && lease.expiresInMs > 0 ? { nodeName: lease.nodeName, term: lease.term } : undefined;
    const previous = this.#observed;
    if (previous?.nodeName === leader?.nodeName && previous?.term === leader?.term) return;
    this.#observed = leader;
    this.#emit('leaderChange', { leader, previous });
  }

  /**
   * Ends the loop's current pause, or, when the loop is in a statement
   * between two pauses (a renewal, the hand-over lock's re-check), its next
   * one: a `resign()`, a stop or a wake of the hand-over lock that arrives
   * then is acted on at once, not a tick later.
   */
  #nudge(): void {
    const end = this.#endPause;
    if (end === undefined) this.#nudged = true;
    else if (typeof end === 'function') end();
    else end.wake();
  }

  /**
   * Waits `ms`, or less if `stop` aborts, `resign()` nudges the loop, or
   * (with `lock`) the hand-over lock is obtained because the leader let go.
   */
  #pause({ ms, lock }: Pause, stop: CampaignStop): Promise<void> {
    const nudged = this.#nudged;
    this.#nudged = false;
    if (stop.aborted || nudged) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#clock.clearTimeout(timer);
        if (this.#endPause === done) this.#endPause = undefined;
        resolve();
      };
      const timer = this.#clock.setTimeout(done, ms);
      this.#endPause = done; // by #nudge(): resign(), the hand-over lock, and `stop` aborting (see #run).
      const handoverLock = lock && ms > 0 ? this.#usableHandoverLock() : undefined;
      if (handoverLock) {
        // The wait may outlive the pause (a server that rounds its timeout):
        // it is then left to finish, within a statement's time limit.
        const limit = ms + this.#options.queryTimeout;
        const wait = (signal: AbortSignal): Promise<'obtained' | 'held' | 'free'> =>
          lock === 'wait' ? handoverLock.wait(ms, signal).then((obtained) => (obtained ? 'obtained' : 'held')) : handoverLock.waitIfHeld(ms, signal);
        this.#statements.run('waiting on the hand-over lock', wait, limit, stop.signal).then(
          (outcome) => {
            if (outcome === 'free') return; // nobody holds it: this pause ends on its timer.
            if (outcome === 'held') {
              this.#lockAway = undefined; // the leader holds the lock: it works again.
              return;
            }
            // The leader let go. If this pause has already ended on its
            // timer, end whichever pause is current: a follower must never
            // sit on the lock while others wait on it.
            this.#wokenByLock = true;
            this.#nudge();
          },
          (error: unknown) => {
            if (!stop.aborted) this.#emit('error', toError(error));
          },
        );
      }
    });
  }

  #firstRenewalEarly(nodeName: string, term: number): number {
    return firstRenewalEarly(this.#store.name, nodeName, term, this.#options.tick);
  }

  /** How long a node that let go (or lost) the lease waits before it claims again: until every follower has read the row once more (see `#nextRead`). */
  #holdOff(): number {
    return this.#options.tick + 3 * AFTER_RENEWAL;
  }

  #jitteredTick(): number {
    return Math.round(this.#options.tick * (1 - JITTER * Math.random()));
  }

  #log(level: 'info' | 'warn' | 'error', message: string, fields: object): void {
    this.#options.logger?.[level]({ leaderName: this.#store.name, nodeName: this.#options.nodeName, ...fields }, message);
  }

  /**
   * Emits without letting a throwing listener break the state machine: its
   * error is rethrown on its own. One payload, passed on as it is (no array
   * of arguments: an engine emits 10,000 `renewed` a second).
   */
  #emit<K extends keyof LeaderEvents>(event: K, payload: LeaderEvents[K][0]): void {
    if (event === 'error') this.#log('error', 'database error', { err: payload });
    try {
      (this.emit as (event: K, payload: LeaderEvents[K][0]) => boolean)(event, payload);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  }
}

/**
 * How much earlier than a tick after its claim the leader `nodeName` of
 * `term` renews for the first time (ms, up to `JITTER` of a tick): spread by
 * the election, the node and the term as if at random, so that leaders
 * elected together do not renew in step, yet known to the followers, who
 * read the row just after it.
 * @internal
 */
export function firstRenewalEarly(leaderName: string, nodeName: string, term: number, tick: number): number {
  // FNV-1a (32 bits) of `${leaderName}\0${nodeName}\0${term}`, character by character, without building that string.
  let hash = fnv1a(0x811c9dc5, leaderName);
  hash = fnv1a(Math.imul(hash, 0x01000193) >>> 0, nodeName); // the \0 between them: hash ^ 0 = hash.
  hash = fnv1a(Math.imul(hash, 0x01000193) >>> 0, String(term));
  return Math.round((hash / 2 ** 32) * JITTER * tick);
}

/**
 * FNV-1a over the characters of `text`, from `hash`: each character by its
 * first UTF-16 code unit (a surrogate pair counts once, by its high
 * surrogate), as followers of every version compute it.
 */
function fnv1a(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    h = Math.imul(h ^ unit, 0x01000193) >>> 0;
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return h;
}

/** The default `error` listener of every elector, and the clean-up of a campaign without a signal (one function for all: an engine may have 10,000 electors). */
function ignore(): void {}

/** The signal of `tenure`, made on first use (it aborts when the tenure ends). */
function signalOf(tenure: LocalTenure): AbortSignal {
  tenure.controller ??= new AbortController();
  return tenure.controller.signal;
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
