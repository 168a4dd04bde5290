/**
 * A job that fires once per slot of its cron expression, on whichever node
 * leads when the slot comes due. The timing and the state live here; the
 * statements in mysql/fires.ts.
 *
 * At each tenure (a `runWhileLeader` task), the job:
 * 1. reads the database clock and the job's latest recorded slot, the cursor
 *    (for a job without history, `misfireThreshold` before now);
 * 2. settles the fires earlier terms left running: `at-least-once` runs them
 *    again (`attempt` + 1) below `maxAttempts` and within `catchUpMaxAge`, and
 *    marks the others `interrupted`, as the other modes mark them all;
 * 3. loops: the slots due by the database clock after the cursor are
 *    planned (`plan()`: on time, or missed and caught up as `catchUp` says),
 *    each claimed in a fenced transaction and fired; then it sleeps until
 *    `PREPARE_AHEAD` before the next slot by its estimate of the database
 *    clock (clock-estimate.ts: a lower bound, from the reads so far and this
 *    host's monotonic clock), opens that slot's fenced transaction, reads the
 *    clock on it, and claims the slot as soon as the estimate says it is due;
 *    the claim itself is refused by the database for a slot not due by its
 *    clock (`early`: the estimate is reset from a new read, and the slot
 *    claimed again). A slot already due when the job wakes (a pause, a late
 *    timer) is planned at the top of the loop instead.
 *
 * A slot that comes due while the job's previous fire still runs is claimed
 * as `skipped`, or with `overlap: 'queue'` queued (one at most: the next
 * ones are skipped) and fired once the running one is over: never two fires
 * of a job at once on a node.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from './clock.js';
import { NotLeaderError } from './errors.js';
import { ClockEstimate } from './clock-estimate.js';
import type { Session } from './mysql/driver.js';
import type { FenceHooks } from './mysql/fence.js';
import type { ClaimResult, FireLog, FireOutcome, JobClock } from './mysql/fires.js';
import type { ResolvedScheduleOptions } from './schedule-options.js';
import { plan, type Slots } from './slots.js';
import { SPARE_CONTROLLERS, StatementTimer } from './statement-timer.js';
import type { TaskHandle, TenureContext, TenureTask } from './tenure.js';

/** What `fn` of a scheduled job receives for each fire. */
export interface FireContext {
  /** The slot's scheduled time (UTC instant): the job's name and this identify the fire. */
  readonly slot: Date;
  /** The term of the tenure that fires it (a fencing token). */
  readonly term: number;
  /** Aborts, with a `LeadershipEndedError`, when the tenure ends. */
  readonly signal: AbortSignal;
  /** 1 for the first run of the slot; more when `at-least-once` runs again a fire that an earlier leader left unfinished. */
  readonly attempt: number;
}

/** What `fn` of a fenced job receives: also the connection of the fenced transaction, where its writes must go. */
export interface FencedFireContext<C = unknown> extends FireContext {
  /** The driver's connection, inside the transaction that also claims the slot: it commits when `fn` resolves. */
  readonly connection: C;
}

/** Payload of a job's `fire` event: a slot was fired (or skipped) on this node. */
export interface FireEvent {
  /** The job. */
  readonly job: string;
  /** The slot. */
  readonly slot: Date;
  /** The term it fired under. */
  readonly term: number;
  /** Its attempt. */
  readonly attempt: number;
  /** How it ended: `done`, `failed`, `skipped` (its previous fire still ran) or `interrupted` (the tenure ended while it ran). */
  readonly outcome: Exclude<FireOutcome, 'running'>;
  /** From the slot's time to the start of `fn` (or the skip), in ms, by the job's estimate of the database clock (a lower bound: never more than the real lateness). */
  readonly latenessMs: number;
  /** How long `fn` ran, in ms (0 when skipped). */
  readonly durationMs: number;
  /** What `fn` threw, when `failed`. */
  readonly error?: unknown;
}

/** Payload of a job's `missed` event: due slots that were not fired, as `catchUp` decided. */
export interface MissedEvent {
  /** The job. */
  readonly job: string;
  /** How many slots were missed (at least; counted among the latest due ones). */
  readonly count: number;
  /** The latest due slot when they were found. */
  readonly latest: Date;
}

/** The events of a {@link ScheduledJob}. */
export interface JobEvents {
  /** A slot was fired, or skipped, on this node. */
  fire: [FireEvent];
  /** Due slots were left unfired (missed while nobody led, or while this node was paused). */
  missed: [MissedEvent];
  /** A statement of the job failed (it tries again while the tenure lasts). A no-op listener is installed. */
  error: [Error];
}

/** What a job needs from its leader. */
export interface JobHost {
  readonly leaderName: string;
  readonly nodeName: string;
  /** Time limit of the job's own statements (`queryTimeout`). */
  readonly queryTimeout: number;
  runWhileLeader(task: TenureTask): TaskHandle;
  /**
   * Runs `fn` in a transaction fenced by the tenure of `term` (rejects with `NotLeaderError` when that tenure is not live);
   * `hooks` as runFenced() takes them (mysql/fence.ts).
   */
  fence<T>(term: number, fn: (connection: unknown, tenure: TenureContext, session: Session) => Promise<T>, hooks?: FenceHooks): Promise<T>;
  /** Called once `stop()` has resolved: the job's name may be scheduled again. */
  stopped(): void;
}

/** The longest sleep between two reads of the database clock, so that a far slot is not timed on a drifting estimate. */
const MAX_SLEEP = 30_000;
/**
 * How long before a slot is due its fire is prepared: a connection taken,
 * the fenced transaction started, the database clock read on it. At the
 * slot's time are left the lease's check (the share lock on the election
 * row is taken only then), the claim and, unfenced, the `COMMIT`.
 */
const PREPARE_AHEAD = 100;
/** The history is pruned at most this often. */
const PRUNE_EVERY = 60_000;

/** A job scheduled with `schedule()`: its fires happen on the leader, once per slot. */
export class ScheduledJob extends EventEmitter<JobEvents> implements AsyncDisposable {
  /** The job's name, unique within its election. */
  readonly name: string;
  /** Its cron expression. */
  readonly cron: string;
  /** The election it runs in. */
  readonly leaderName: string;
  /** This participant's name in it. */
  readonly nodeName: string;
  /** Its frozen options, defaults filled in; `mode` is `'fenced'` for a fenced job. */
  readonly options: ResolvedScheduleOptions;
  readonly #slots: Slots;
  readonly #log: FireLog;
  readonly #host: JobHost;
  readonly #fn: (fire: FencedFireContext) => unknown;
  readonly #stop = new AbortController();
  readonly #statements = new StatementTimer(systemClock, SPARE_CONTROLLERS);
  readonly #handle: TaskHandle;

  /** @internal Use `MysqlLeader.schedule()`. */
  constructor(
    job: { name: string; cron: string; slots: Slots; options: ResolvedScheduleOptions },
    fn: (fire: FencedFireContext) => unknown,
    log: FireLog,
    host: JobHost,
  ) {
    super();
    this.name = job.name;
    this.cron = job.cron;
    this.leaderName = host.leaderName;
    this.nodeName = host.nodeName;
    this.options = job.options;
    this.#slots = job.slots;
    this.#fn = fn;
    this.#log = log;
    this.#host = host;
    this.on('error', () => {});
    this.#handle = host.runWhileLeader((tenure) => this.#lead(tenure));
  }

  /** The job's first slot after `after` (UTC instant), or `undefined` when its expression names none. */
  nextSlot(after: Date): Date | undefined {
    return this.#slots.next(after);
  }

  /** Stops the job: no further slot is fired; resolves once the fire in progress (if any) has settled. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#handle.stop();
    this.#host.stopped();
  }

  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** One tenure of the job: steps 1 to 3 of the header. */
  async #lead(tenure: TenureContext): Promise<void> {
    const loop = AbortSignal.any([tenure.signal, this.#stop.signal]);
    const clock = new ClockEstimate();
    let running: Promise<void> | undefined;
    /** With `overlap: 'queue'`: the slot that fires once `running` is over. */
    let queued: Date | undefined;
    let pruning: Promise<void> | undefined;
    /** Reads the database clock into `clock` (`reset`: in place of what it knew). */
    const readClock = (reset = false): Promise<JobClock | undefined> =>
      this.#untilDone(loop, async () => {
        const sent = performance.now();
        const { value, at } = await this.#timed('reading the database clock', (signal) => this.#log.clock(signal), loop);
        const read = { now: value.now.getTime(), sent, at };
        if (reset) clock.reset(read);
        else clock.add(read);
        return value;
      });
    /** Starts the fire of `slot` (`prepared`: claimed once due, in a transaction opened now), as `running`. */
    const start = (slot: Date, prepared: boolean): { claimed: Promise<ClaimResult>; tracked: Promise<void> } => {
      const { claimed, done } = this.#fire(tenure, slot, 1, clock, { retried: false, prepared });
      const tracked = done.finally(() => {
        if (running === tracked) running = undefined;
      });
      running = tracked;
      return { claimed, tracked };
    };
    try {
      // 1. The database clock and the cursor (retried while the tenure lasts).
      const first = await readClock();
      if (!first) return;
      // A job without history starts a misfire threshold back: a slot that came due that recently is on time
      // (and fires, once); the ones before it are not missed: the job did not exist.
      let fresh = first.last === undefined;
      let cursor = first.last ?? new Date(first.now.getTime() - this.options.misfireThreshold);
      // 2. What earlier terms left running.
      if (!(await this.#untilDone(loop, () => this.#recover(tenure, clock).then(() => true)))) return;
      let pruned = -Infinity;
      // 3. Fire what is due, then sleep until the next slot's fire is to be prepared, and prepare it.
      while (!loop.aborted) {
        const now = new Date(clock.at(performance.now()));
        const due = this.#slots.due(cursor, now, this.options.catchUpMaxCount + 1);
        const { fire, missed } = plan(due, now, fresh ? { ...this.options, catchUp: 'none' } : this.options);
        const latest = due.at(-1);
        if (latest && missed > 0 && !fresh) this.emit('missed', { job: this.name, count: missed, latest });
        if (latest) cursor = latest;
        fresh = false;
        let early = false;
        for (const [i, slot] of fire.entries()) {
          if (loop.aborted) break;
          if (running) {
            if (this.options.overlap === 'queue' && queued === undefined) {
              // Queued: claimed and fired once the running fire is over (and the tenure lasts), never beside it.
              queued = slot;
              const tracked: Promise<void> = running
                .then(async () => {
                  queued = undefined;
                  if (!loop.aborted) await this.#fire(tenure, slot, 1, clock, { retried: false, prepared: false }).done;
                })
                .finally(() => {
                  if (running === tracked) running = undefined;
                });
              running = tracked;
            } else await this.#skip(tenure, slot, clock);
            continue;
          }
          const { claimed, tracked } = start(slot, false);
          if ((await claimed) === 'early') {
            // The database says the slot is not due yet (its clock went back): look again.
            cursor = new Date(slot.getTime() - 1);
            early = true;
            break;
          }
          if (i < fire.length - 1) await tracked; // catching up: one after the other.
        }
        if (latest && !pruning && performance.now() - pruned > PRUNE_EVERY) {
          pruned = performance.now();
          pruning = this.#timed('pruning the history of fires', (signal) => this.#log.prune(latest, this.options.retention, signal), loop)
            .then(
              () => {},
              (error: unknown) => this.#error(error),
            )
            .finally(() => (pruning = undefined));
        }
        const next = early ? undefined : this.#slots.next(cursor);
        // Sleep until the fire of the next slot is to be prepared, at most MAX_SLEEP (then read the clock again).
        const wait = next === undefined ? (early ? 0 : MAX_SLEEP) : next.getTime() - PREPARE_AHEAD - clock.at(performance.now());
        if (next === undefined || wait > MAX_SLEEP) {
          await sleep(Math.min(wait, MAX_SLEEP), undefined, { signal: loop }).catch(() => {});
          if (!(await readClock(early))) break;
          continue;
        }
        if (wait > 0) await sleep(wait, undefined, { signal: loop }).catch(() => {});
        if (loop.aborted) break;
        // Already due (a late wake, a pause): planned at the top of the loop, as a missed slot if it is one.
        if (clock.at(performance.now()) >= next.getTime()) continue;
        if (running) {
          // The previous fire still runs: at the slot's time, the top of the loop skips or queues it.
          if (!(await until(next, clock, loop))) break;
          if (!(await readClock())) break;
          continue;
        }
        // Prepared: the fenced transaction opens now, and claims the slot once it is due (the loop plans it no more).
        cursor = next;
        if ((await start(next, true).claimed) === 'early') {
          cursor = new Date(next.getTime() - 1);
          if (!(await readClock(true))) break;
        }
      }
    } finally {
      await Promise.all([running, pruning]);
    }
  }

  /** Step 2: runs again (`at-least-once`) or marks `interrupted` (other modes) what earlier terms left running. */
  async #recover(tenure: TenureContext, clock: ClockEstimate): Promise<void> {
    if (this.options.mode !== 'at-least-once') {
      await this.#timed('marking interrupted fires', (signal) => this.#log.interrupt(tenure.term, signal), tenure.signal);
      return;
    }
    const oldest = new Date(clock.at(performance.now()) - this.options.catchUpMaxAge);
    await this.#timed('marking fires not to run again', (signal) => this.#log.abandon(tenure.term, this.options.maxAttempts, oldest, signal), tenure.signal);
    const { value: left } = await this.#timed('reading unfinished fires', (signal) => this.#log.unfinished(tenure.term, oldest, signal), tenure.signal);
    for (const { slot, attempt } of left) {
      if (tenure.signal.aborted) return;
      const taken = await this.#host.fence(tenure.term, (_connection, _tenure, session) =>
        this.#log.retry(session, slot, attempt, this.#host.nodeName, tenure.term),
      );
      if (taken) await this.#fire(tenure, slot, attempt + 1, clock, { retried: true, prepared: false }).done;
    }
  }

  /**
   * Claims `slot` and runs `fn`: `claimed` settles with what the claim
   * found, `done` once the fire is over (it never rejects). `retried`: the
   * claim is already this term's. `prepared`: the fenced transaction opens
   * now, reads the database clock, and claims the slot once it is due by it.
   * Fenced: the claim, `fn` and the record of its end in one fenced
   * transaction. Otherwise: a fenced claim, `fn` (as soon as the claim's
   * `COMMIT` is answered), then the record of its end.
   */
  #fire(
    tenure: TenureContext,
    slot: Date,
    attempt: number,
    clock: ClockEstimate,
    how: { retried: boolean; prepared: boolean },
  ): { claimed: Promise<ClaimResult>; done: Promise<void> } {
    let claimed: (result: ClaimResult) => void = () => {};
    const claim = new Promise<ClaimResult>((resolve) => (claimed = resolve));
    const run = this.options.fenced
      ? this.#fireFenced(tenure, slot, clock, how.prepared, claimed)
      : this.#fireUnfenced(tenure, slot, attempt, clock, how, claimed);
    // Whatever happened, the claim has been answered once the fire is over.
    const done = run.finally(() => claimed('taken'));
    return { claimed: claim, done };
  }

  /**
   * For a prepared fire: the fence's `ready` hook, which reads the database
   * clock on the open transaction's session (no lock is held yet) and waits
   * until `slot` is due by the estimate; then `due()` says whether it is
   * (`false`: the tenure ended or the job was stopped meanwhile, and nothing
   * is to be claimed).
   */
  #untilDue(slot: Date, clock: ClockEstimate, signal: AbortSignal): { ready: (session: Session) => Promise<void>; due: () => boolean } {
    let due = false;
    const ready = async (session: Session): Promise<void> => {
      const sent = performance.now();
      const now = await this.#log.nowOn(session);
      clock.add({ now: now.getTime(), sent, at: performance.now() });
      due = await until(slot, clock, AbortSignal.any([signal, this.#stop.signal]));
    };
    return { ready, due: () => due };
  }

  /** A fenced fire: claim, `fn`, and its end recorded, in one transaction. */
  async #fireFenced(tenure: TenureContext, slot: Date, clock: ClockEstimate, prepared: boolean, claimed: (result: ClaimResult) => void): Promise<void> {
    const { term, signal } = tenure;
    const fire = this.#row(term, 'running');
    let started: number | undefined;
    let thrown: { error: unknown } | undefined;
    const lateness = (): number => clock.at(performance.now()) - slot.getTime();
    const wait = prepared ? this.#untilDue(slot, clock, signal) : undefined;
    try {
      const ran = await this.#host.fence(
        term,
        async (connection, _tenure, session) => {
          if (wait && !wait.due()) return undefined;
          const result = await this.#log.claim(session, slot, fire);
          claimed(result);
          if (result !== 'claimed') return undefined;
          const latenessMs = lateness();
          started = performance.now();
          try {
            await this.#fn({ slot, term, signal, attempt: 1, connection });
          } catch (error) {
            thrown = { error };
            throw error;
          }
          await this.#log.finish(slot, term, 1, 'done', undefined, session);
          return latenessMs;
        },
        { ready: wait?.ready },
      );
      if (ran !== undefined) this.#fired(slot, term, 1, 'done', ran, started);
    } catch (error) {
      if (thrown && error === thrown.error && !signal.aborted) {
        // Rolled back, claim included: claimed again as failed, with the error.
        await this.#recordFailure(tenure, slot, error);
        this.#fired(slot, term, 1, 'failed', lateness(), started, error);
      } else if (error instanceof NotLeaderError) {
        // Rolled back: the slot is still free, for the next leader.
        if (started !== undefined) this.#fired(slot, term, 1, 'interrupted', lateness(), started, error);
      } else this.#error(error);
    }
  }

  /** An unfenced fire: a fenced claim, then `fn` (once its `COMMIT` is answered, before the session is given back), then its end recorded. */
  async #fireUnfenced(
    tenure: TenureContext,
    slot: Date,
    attempt: number,
    clock: ClockEstimate,
    how: { retried: boolean; prepared: boolean },
    claimed: (result: ClaimResult) => void,
  ): Promise<void> {
    const { term, signal } = tenure;
    let result: ClaimResult = 'claimed';
    let fencing: Promise<void> | undefined;
    if (!how.retried) {
      result = 'taken';
      let answered: () => void = () => {};
      const committed = new Promise<void>((resolve) => (answered = resolve));
      const wait = how.prepared ? this.#untilDue(slot, clock, signal) : undefined;
      fencing = this.#host.fence(
        term,
        async (_connection, _tenure, session) => {
          if (wait && !wait.due()) return;
          result = await this.#log.claim(session, slot, this.#row(term, 'running'));
        },
        { ready: wait?.ready, committed: answered },
      );
      try {
        // Committed (then the fence restores and gives back its session meanwhile), or failed before.
        await Promise.race([committed, fencing]);
      } catch (error) {
        // A claim in doubt (CommitUnknownError) is not run: at most once. If it landed, the next leader finds it running.
        if (!(error instanceof NotLeaderError)) this.#error(error);
        claimed('taken');
        return;
      }
    }
    try {
      claimed(result);
      if (result === 'claimed') await this.#runUnfenced(tenure, slot, attempt, clock);
    } finally {
      await fencing;
    }
  }

  /** The run of an unfenced fire whose claim committed: `fn`, then its end recorded. */
  async #runUnfenced(tenure: TenureContext, slot: Date, attempt: number, clock: ClockEstimate): Promise<void> {
    const { term, signal } = tenure;
    const latenessMs = clock.at(performance.now()) - slot.getTime();
    const started = performance.now();
    let outcome: 'done' | 'failed' | 'interrupted' = 'done';
    let failure: unknown;
    try {
      await this.#fn({ slot, term, signal, attempt, connection: undefined });
    } catch (error) {
      failure = error;
      outcome = signal.aborted ? 'interrupted' : 'failed';
    }
    this.#fired(slot, term, attempt, outcome, latenessMs, started, failure);
    // at-least-once: a fire its tenure cut short stays `running`, for the next leader to run again.
    if (outcome === 'interrupted' && this.options.mode === 'at-least-once') return;
    const message = failure === undefined ? undefined : messageOf(failure);
    try {
      // Not bound to the tenure: the end of a fire that ran is recorded, late or not (guarded by term and attempt).
      await this.#timed('recording the end of a fire', (limit) => this.#log.finish(slot, term, attempt, outcome, message, limit), new AbortController().signal);
    } catch (error) {
      this.#error(error); // at-least-once: a fire not marked done runs again under the next leader.
    }
  }

  /** A fenced `fn` threw: its transaction was rolled back; the slot is claimed as `failed` in another, with the error. */
  async #recordFailure(tenure: TenureContext, slot: Date, failure: unknown): Promise<void> {
    const message = messageOf(failure);
    try {
      await this.#host.fence(tenure.term, async (_connection, _tenure, session) => {
        if ((await this.#log.claim(session, slot, this.#row(tenure.term, 'running'))) === 'claimed') {
          await this.#log.finish(slot, tenure.term, 1, 'failed', message, session);
        }
      });
    } catch (error) {
      if (!(error instanceof NotLeaderError)) this.#error(error);
    }
  }

  /** Claims `slot` as `skipped`: the job's previous fire still runs. */
  async #skip(tenure: TenureContext, slot: Date, clock: ClockEstimate): Promise<void> {
    try {
      const result = await this.#host.fence(tenure.term, (_connection, _tenure, session) => this.#log.claim(session, slot, this.#row(tenure.term, 'skipped')));
      if (result === 'claimed') this.#fired(slot, tenure.term, 1, 'skipped', clock.at(performance.now()) - slot.getTime(), undefined);
    } catch (error) {
      if (!(error instanceof NotLeaderError)) this.#error(error);
    }
  }

  /** The columns of a new fire row of this node. */
  #row(term: number, outcome: 'running' | 'skipped'): { nodeName: string; term: number; outcome: FireOutcome; cron: string; timezone: string } {
    return { nodeName: this.#host.nodeName, term, outcome, cron: this.cron, timezone: this.options.timezone };
  }

  /** Emits `fire`. */
  #fired(slot: Date, term: number, attempt: number, outcome: FireEvent['outcome'], latenessMs: number, started: number | undefined, error?: unknown): void {
    const durationMs = started === undefined ? 0 : performance.now() - started;
    this.emit('fire', { job: this.name, slot, term, attempt, outcome, latenessMs, durationMs, ...(error !== undefined && { error }) });
  }

  /** One of the job's autocommit statements, within `queryTimeout`; with the monotonic time its reply came. */
  async #timed<T>(what: string, statement: (signal: AbortSignal) => Promise<T>, caller: AbortSignal): Promise<{ value: T; at: number }> {
    const value = await this.#statements.run(what, statement, this.#host.queryTimeout, caller);
    return { value, at: performance.now() };
  }

  /** `step`, tried again after a pause while `loop` lasts; `undefined` once it aborts. */
  async #untilDone<T>(loop: AbortSignal, step: () => Promise<T>): Promise<T | undefined> {
    while (!loop.aborted) {
      try {
        return await step();
      } catch (error) {
        if (loop.aborted) return undefined;
        this.#error(error);
        await sleep(Math.min(1000, this.#host.queryTimeout), undefined, { signal: loop }).catch(() => {});
      }
    }
    return undefined;
  }

  /** Reports a failed statement of the job (a claim in doubt is a `CommitUnknownError`). */
  #error(error: unknown): void {
    this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }
}

/** What a fire row keeps of an error. */
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : inspect(error);
}

/** Waits until `slot` is due by `clock` (sleeping to the millisecond, never less); `false` when `signal` aborts first. */
async function until(slot: Date, clock: ClockEstimate, signal: AbortSignal): Promise<boolean> {
  for (;;) {
    if (signal.aborted) return false;
    const left = slot.getTime() - clock.at(performance.now());
    if (left <= 0) return true;
    await sleep(Math.ceil(left), undefined, { signal }).catch(() => {});
  }
}
