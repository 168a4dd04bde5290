import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from './clock.js';
import { ClosedError, LeadershipEndedError, MysqlLeaderError, NotLeaderError, QueryTimeoutError, type RevokeReason } from './errors.js';
import type { LeaderEvents, LeaderInfo } from './events.js';
import type { Leader } from './leader.js';
import type { ResolvedOptions } from './options.js';
import type { Lease, LeaseStore } from './store.js';
import type { TaskHandle, TenureContext, TenureTask } from './tenure.js';

/** One tenure: this node leads under `term` until `deadline` (monotonic ms) unless renewed. */
interface Tenure {
  readonly term: number;
  deadline: number;
  readonly controller: AbortController;
  stepDown: unknown;
}

/** The running `acquire()` call: aborting `stop` ends the campaign. */
interface Campaign {
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

/** What the loop does after a step: wait `ms`, on the wake lock if `lock`, else on a timer. */
interface Pause {
  readonly ms: number;
  readonly lock?: boolean;
}

/** How long a new leader waits for the wake lock, which a follower holds only while it reads the row (ms). */
const HOLD_WAIT = 100;

/** The reason `close()` gives the campaign's stop signal, to tell it from the caller's abort. */
const CLOSING = Symbol('closing');

/** Followers look at the row every tick minus up to this fraction, so that they do not move in step. */
const JITTER = 0.2;

/**
 * The election state machine: follower → leader → follower, the local
 * deadline, timers and events. It knows nothing of SQL: every statement goes
 * through a {@link LeaseStore}, and time comes from a {@link Clock}.
 *
 * Safety rests on one rule: this node believes it leads only until
 * `sent + age - margin` on its monotonic clock, where `sent` is when the
 * statement that set the lease was sent. The database set `expires_at` to its
 * own clock plus `age` after that moment, so the belief always ends first.
 */
export class Elector extends EventEmitter<LeaderEvents> implements Leader {
  readonly #store: LeaseStore;
  readonly #options: ResolvedOptions;
  readonly #clock: Clock;
  #tenure: Tenure | undefined;
  /** A term this node obtained in the row and has not released yet (its tenure may be over). */
  #heldTerm: number | undefined;
  #observed: LeaderInfo | undefined;
  #campaign: Campaign | undefined;
  /** Ends the campaign loop's current pause early. */
  #wake: (() => void) | undefined;
  /** The last pause ended because the wake lock was obtained (the leader let go, or was gone). */
  #woken = false;
  /** After `resign()`, this node does not claim the lease before this time, so another can. */
  #holdOffUntil = 0;
  /** A `resign()` waiting for the loop to release its lease. */
  #resigning: { readonly resolve: () => void; readonly reject: (error: unknown) => void } | undefined;
  /** The last claim lost a race that the read said it could win (a lagging replica, a truncating column…). */
  #lostClaim = false;
  /** Steps that failed in a row: the first is retried at once, the next ones after a tick. */
  #failures = 0;
  /** The `runWhileLeader()` registrations, started at each election. */
  readonly #tasks = new Set<() => void>();
  /** Leader-only work in progress (tasks, fenced transactions): settled before the lease is released. */
  readonly #work = new Set<Promise<unknown>>();
  /** `leadWith()` calls in progress: fenced transactions, which hold the row this node's renewal updates. */
  #holdingRow = 0;
  #closing: Promise<void> | undefined;
  /** Controllers of statements that settled without aborting, for the next statements (see #query). */
  readonly #controllers: AbortController[] = [];

  /** @internal Use `MysqlLeader`. */
  constructor(store: LeaseStore, options: ResolvedOptions, clock: Clock = systemClock) {
    super();
    this.#store = store;
    this.#options = options;
    this.#clock = clock;
    // An `error` event without a listener would throw; errors also reach
    // `onError` and `acquire()`, so a silent default is safe.
    this.on('error', () => {});
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
    return this.#liveTenure()?.controller.signal ?? AbortSignal.abort(new NotLeaderError(`${this.nodeName} is not the leader`));
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
    let stopped = false;
    let running: Promise<void> = Promise.resolve();
    const start = (): void => {
      const tenure = this.#liveTenure();
      if (!tenure || stopped) return;
      const context: TenureContext = { term: tenure.term, signal: tenure.controller.signal };
      running = this.#track(
        running.then(async () => {
          if (stopped || context.signal.aborted) return;
          try {
            await task(context);
          } catch (error) {
            if (!(context.signal.aborted && error === context.signal.reason)) this.#emit('taskError', { term: context.term, error });
          }
        }),
      );
    };
    this.#tasks.add(start);
    start();
    const stop = async (): Promise<void> => {
      stopped = true;
      this.#tasks.delete(start);
      await running;
    };
    return { stop, [Symbol.asyncDispose]: stop };
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
    this.#holdingRow++;
    try {
      return await this.#track(run({ term: tenure.term, signal: tenure.controller.signal }));
    } finally {
      this.#holdingRow--;
    }
  }

  /**
   * Reads the election row: the live leader with its term and the remaining
   * life of its lease by the database clock, or `undefined` when the lease is
   * vacant or has lapsed. One query, limited by `queryTimeout`.
   */
  async currentLeader(signal?: AbortSignal): Promise<Lease | undefined> {
    if (this.#closing) throw new ClosedError('currentLeader');
    signal?.throwIfAborted();
    const lease = await this.#query('reading the election row', (inner) => this.#store.read(inner), this.#options.queryTimeout, signal);
    return lease && lease.expiresInMs > 0 ? lease : undefined;
  }

  /**
   * Campaigns for leadership and keeps the lease while it leads. Resolves
   * when `close()` is called; rejects with `signal.reason` when `signal`
   * aborts, or with the error `onError` returned. In each case it has
   * stepped down and released the lease before settling.
   */
  async acquire(signal?: AbortSignal): Promise<void> {
    if (this.#closing) throw new ClosedError('acquire');
    signal?.throwIfAborted();
    if (this.#campaign) throw new MysqlLeaderError('ERR_MYSQL_LEADER_BUSY', 'acquire() is already running on this MysqlLeader');
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const campaign: Campaign = { stop, done: this.#run(stop.signal) };
    this.#campaign = campaign;
    try {
      await campaign.done;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#campaign = undefined;
    }
    if (stop.signal.aborted && stop.signal.reason !== CLOSING) throw stop.signal.reason;
  }

  /**
   * Steps down and releases the lease, so that another node takes over at
   * once; keeps campaigning, but lets one `tick` pass before claiming again.
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
    this.#wake?.();
    try {
      await released;
    } finally {
      this.#holdOffUntil = this.#clock.now() + this.#options.tick;
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
    } else await this.#drain();
    await this.#store.close();
  }

  /** The campaign of one `acquire()` call, from the first read to the final release. */
  async #run(stop: AbortSignal): Promise<void> {
    stop.addEventListener(
      'abort',
      () => {
        this.#endTenure(this.#tenure, stop.reason === CLOSING ? 'closed' : 'aborted');
        this.#wake?.(); // ends the current pause.
      },
      { once: true },
    );
    let failure: unknown;
    try {
      await this.#loop(stop);
    } catch (error) {
      failure = error;
      this.#endTenure(this.#tenure, 'error', error);
    }
    await this.#drain(); // also the work of a tenure that ended earlier (lost, expired).
    try {
      if (this.#heldTerm !== undefined) await this.#release(this.#heldTerm);
      this.#settleResign();
    } catch (error) {
      this.#emit('error', toError(error));
      this.#settleResign(error);
    }
    await this.#dropWakeLock();
    if (failure !== undefined) throw failure;
  }

  async #loop(stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      let pause: Pause;
      try {
        pause = this.#tenure ? { ms: await this.#renew() } : await this.#follow(stop);
        this.#failures = 0;
      } catch (caught) {
        const error = toError(caught);
        this.#emit('error', error);
        this.#settleResign(error);
        if (stop.aborted) return;
        // A time-out is transient by nature (a slow or unreachable server, a
        // row held by a long fenced transaction): it never stops the
        // campaign by itself; onError judges what the database returned.
        if (!(error instanceof QueryTimeoutError)) {
          const verdict = await this.#options.onError(error);
          if (verdict) throw verdict;
        }
        // Read the row again at once (a renewal in doubt), then back off.
        pause = { ms: this.#failures++ === 0 ? 0 : this.#jitteredTick() };
      }
      await this.#pause(pause, stop);
    }
  }

  /** One follower step: read the row, claim it if vacant; returns how to wait before the next step. */
  async #follow(stop: AbortSignal): Promise<Pause> {
    const { queryTimeout, nodeName } = this.#options;
    const woken = this.#woken;
    this.#woken = false;
    const lease = await this.#query('reading the election row', (signal) => this.#store.read(signal), queryTimeout);
    this.#see(lease);
    if (lease?.term !== this.#heldTerm) this.#heldTerm = undefined;
    if (lease && lease.expiresInMs > 0) {
      if (lease.nodeName === nodeName && lease.term === this.#heldTerm) {
        // A lease of ours this node no longer believes in (resigned, a
        // renewal in doubt, a reply that came too late): free it so that a
        // new tenure, with a new term, can begin at once.
        await this.#release(lease.term);
        await this.#dropWakeLock();
        this.#settleResign();
        return { ms: 0 };
      }
      // Someone else leads: let the lock go to them (or to the next waiter).
      await this.#dropWakeLock();
      this.#settleResign();
      this.#lostClaim = false;
      // The database computed the remaining life before the reply arrived,
      // so waiting that long from now always reaches past the lease's end.
      // A wake that found the leader still there (it crashed, and its lease
      // lives on) means the lock is free: wait on a timer this once.
      return { ms: Math.min(this.#jitteredTick(), Math.ceil(lease.expiresInMs) + 1), lock: !woken };
    }
    this.#settleResign();
    const holdOff = this.#holdOffUntil - this.#clock.now();
    if (holdOff > 0) {
      await this.#dropWakeLock(); // a follower keeps the lock only while it claims.
      return { ms: Math.min(holdOff, this.#options.tick) };
    }
    const sent = this.#clock.now();
    const term = await this.#query('claiming the lease', (signal) => this.#store.claim(nodeName, lease ? 'expired' : 'absent', signal), queryTimeout);
    if (term === undefined) {
      await this.#dropWakeLock();
      // Another node won: read who, at once. If that read again says
      // "vacant" and the claim loses again, reads and claims disagree: back off.
      const again = this.#lostClaim;
      this.#lostClaim = true;
      return { ms: again ? this.#jitteredTick() : 0 };
    }
    this.#lostClaim = false;
    this.#heldTerm = term;
    if (stop.aborted) return { ms: 0 }; // #run releases it.
    if (!this.#begin(term, sent)) return { ms: 0 };
    await this.#holdWakeLock();
    // The first renewal comes a little early, at random: leaders started
    // together (many elections in one process) do not renew in step.
    return { ms: Math.max(0, sent + this.#jitteredTick() - this.#clock.now()) };
  }

  /** Starts a tenure confirmed by a statement sent at `sent`, unless its reply came too late. */
  #begin(term: number, sent: number): boolean {
    const deadline = sent + this.#options.age - this.#options.margin;
    // A reply that arrives after the deadline computed from its send time
    // confers nothing; the next step finds the lease ours and releases it.
    if (this.#clock.now() >= deadline) return false;
    const tenure: Tenure = { term, deadline, controller: new AbortController(), stepDown: undefined };
    this.#tenure = tenure;
    this.#armStepDown(tenure);
    this.#see({ nodeName: this.#options.nodeName, term, expiresInMs: deadline - this.#clock.now() });
    this.#log('info', 'elected', { term });
    this.#emit('elected', { term });
    for (const start of this.#tasks) start();
    return true;
  }

  /** One leader step: renew the lease; returns the wait until the next step. */
  async #renew(): Promise<number> {
    const tenure = this.#tenure as Tenure;
    const { age, margin, tick, queryTimeout, nodeName } = this.#options;
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
      const limit = this.#holdingRow > 0 ? left : Math.min(queryTimeout, left);
      renewed = await this.#query('renewing the lease', (signal) => this.#store.renew(nodeName, tenure.term, signal), limit);
    } catch (error) {
      // The outcome is unknown: step down now, read the row next. (A limit
      // reached at the deadline is the lease running out, as the timer says.)
      this.#endTenure(tenure, this.#clock.now() >= tenure.deadline ? 'expired' : 'error', error);
      throw error;
    }
    if (this.#tenure !== tenure) return 0; // ended while the renewal was in flight.
    const deadline = sent + age - margin;
    if (!renewed || this.#clock.now() >= deadline) {
      // Lost: taken, forced free by an operator, or lapsed. Let the others
      // have it for a tick rather than win it straight back.
      if (!renewed) this.#holdOffUntil = this.#clock.now() + tick;
      this.#endTenure(tenure, renewed ? 'expired' : 'lost');
      return 0;
    }
    // The step-down timer, armed for the old deadline, re-arms itself for this one when it fires.
    tenure.deadline = deadline;
    this.#emit('renewed', { term: tenure.term, latencyMs: this.#clock.now() - sent });
    if (this.#store.wake?.available) await this.#holdWakeLock();
    return Math.max(0, sent + tick - this.#clock.now());
  }

  /**
   * Takes the wake lock while leading, or checks it is still held. A
   * follower may be passing through it (woken, reading the row): wait a
   * moment. On the leader's path, so bounded well within a tick.
   */
  async #holdWakeLock(): Promise<void> {
    const wake = this.#store.wake;
    if (!wake?.available) return;
    if (wake.holding) await this.#lockStatement('checking the hand-over lock', (signal) => wake.check(signal));
    const wait = Math.min(HOLD_WAIT, this.#options.tick / 4);
    if (!wake.holding) await this.#lockStatement('taking the hand-over lock', (signal) => wake.hold(wait, signal));
  }

  /** Frees the wake lock, waking the first waiting follower. */
  async #dropWakeLock(): Promise<void> {
    const wake = this.#store.wake;
    if (!wake?.holding) return;
    await this.#lockStatement('freeing the hand-over lock', (signal) => wake.drop(signal));
  }

  /** The wake lock only speeds things up: its errors are reported, never fatal. */
  async #lockStatement(what: string, run: (signal: AbortSignal) => Promise<void>): Promise<void> {
    try {
      await this.#query(what, run, Math.min(this.#options.queryTimeout, this.#options.tick / 2));
    } catch (error) {
      this.#emit('error', toError(error));
    }
  }

  /** Releases a lease of ours, once the work of the tenure has settled (the next leader must not overlap it). */
  async #release(term: number): Promise<void> {
    await this.#drain();
    await this.#query('releasing the lease', (signal) => this.#store.release(this.#options.nodeName, term, signal), this.#options.queryTimeout);
    if (this.#heldTerm === term) this.#heldTerm = undefined;
  }

  /** Waits for leader-only work to settle, at most `drainTimeout`. */
  async #drain(): Promise<void> {
    if (this.#work.size === 0) return;
    let timer: unknown;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = this.#clock.setTimeout(() => resolve(true), this.#options.drainTimeout);
    });
    const settled = Promise.allSettled([...this.#work]).then(() => false);
    const late = await Promise.race([settled, timedOut]);
    this.#clock.clearTimeout(timer);
    if (late) this.#log('warn', 'leader-only work outlived drainTimeout; releasing the lease anyway', { drainTimeout: this.#options.drainTimeout, pending: this.#work.size });
  }

  /** Adds `work` to what a release waits for, until it settles. */
  #track<T>(work: Promise<T>): Promise<T> {
    this.#work.add(work);
    const untrack = (): void => void this.#work.delete(work);
    work.then(untrack, untrack);
    return work;
  }

  /** The tenure, if its deadline has not passed; ends it on the spot if it has. */
  #liveTenure(): Tenure | undefined {
    const tenure = this.#tenure;
    if (tenure && this.#clock.now() >= tenure.deadline) {
      this.#endTenure(tenure, 'expired');
      return undefined;
    }
    return tenure;
  }

  /** Ends the tenure when its deadline passes, driven by a timer and never by a reply. */
  #armStepDown(tenure: Tenure): void {
    this.#clock.clearTimeout(tenure.stepDown);
    tenure.stepDown = this.#clock.setTimeout(() => {
      if (this.#tenure !== tenure) return;
      if (this.#clock.now() >= tenure.deadline) this.#endTenure(tenure, 'expired');
      else this.#armStepDown(tenure);
    }, tenure.deadline - this.#clock.now());
  }

  #endTenure(tenure: Tenure | undefined, reason: RevokeReason, cause?: unknown): void {
    if (!tenure || this.#tenure !== tenure) return;
    this.#tenure = undefined;
    this.#clock.clearTimeout(tenure.stepDown);
    const error = cause === undefined ? undefined : toError(cause);
    tenure.controller.abort(new LeadershipEndedError(tenure.term, reason, error && { cause: error }));
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
   * Runs one statement with a time limit; on timeout (or when `caller`
   * aborts) its signal aborts, so the store abandons it.
   */
  #query<T>(what: string, run: (signal: AbortSignal) => Promise<T>, timeoutMs: number, caller?: AbortSignal): Promise<T> {
    // An AbortController costs about 1 KB of garbage: a statement that
    // settles without aborting gives its controller back for the next one.
    const controller = this.#controllers.pop() ?? newStatementController();
    return new Promise<T>((resolve, reject) => {
      const fail = (error: unknown): void => {
        controller.abort(error);
        reject(error);
      };
      const onCallerAbort = (): void => fail(caller?.reason);
      const timer = this.#clock.setTimeout(() => fail(new QueryTimeoutError(what, timeoutMs)), timeoutMs);
      caller?.addEventListener('abort', onCallerAbort, { once: true });
      const settle = (): void => {
        this.#clock.clearTimeout(timer);
        caller?.removeEventListener('abort', onCallerAbort);
        // The store has settled too: nothing of this statement listens to the signal any more.
        if (!controller.signal.aborted) this.#controllers.push(controller);
      };
      run(controller.signal).then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }

  /**
   * Waits `ms`, or less if `stop` aborts, `resign()` nudges the loop, or
   * (with `lock`) the wake lock is obtained because the leader let go.
   */
  #pause({ ms, lock = false }: Pause, stop: AbortSignal): Promise<void> {
    if (stop.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#clock.clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = this.#clock.setTimeout(done, ms);
      this.#wake = done; // by resign(), by the wake lock, and when `stop` aborts (see #run).
      const wake = this.#store.wake;
      if (lock && wake?.available && ms > 0) {
        // The wait may outlive the pause (a server that rounds its timeout):
        // it is then left to finish, within a statement's time limit.
        const limit = ms + this.#options.queryTimeout;
        this.#query('waiting on the hand-over lock', (signal) => wake.wait(ms, signal), limit, stop).then(
          (obtained) => {
            if (!obtained) return;
            // The leader let go. If this pause has already ended on its
            // timer, end whichever pause is current: a follower must never
            // sit on the lock while others wait on it.
            this.#woken = true;
            this.#wake?.();
          },
          (error: unknown) => {
            if (!stop.aborted) this.#emit('error', toError(error));
          },
        );
      }
    });
  }

  #jitteredTick(): number {
    return Math.round(this.#options.tick * (1 - JITTER * Math.random()));
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields: object): void {
    this.#options.logger?.[level]({ leaderName: this.#store.name, nodeName: this.#options.nodeName, ...fields }, message);
  }

  /** Emits without letting a throwing listener break the state machine: its error is rethrown on its own. */
  #emit<K extends keyof LeaderEvents>(event: K, ...args: LeaderEvents[K]): void {
    if (event === 'error') this.#log('error', 'database error', { err: args[0] });
    try {
      (this.emit as (event: K, ...args: LeaderEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  }
}

/**
 * A controller for the statements of one elector, reused from one statement
 * to the next. Its signal keeps a listener of its own: without it, Node
 * deletes and re-creates the signal's listener list whenever a statement's
 * listener is removed, which allocates in V8's old generation each time
 * (a third of the old-generation growth of 1,000 elections, measured).
 */
function newStatementController(): AbortController {
  const controller = new AbortController();
  controller.signal.addEventListener('abort', () => {});
  return controller;
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
