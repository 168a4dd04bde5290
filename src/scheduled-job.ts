/**
 * A job that fires once per slot of its cron expression, on whichever node
 * leads when the slot comes due. The timing and the state live here; the
 * statements in mysql/fires.ts.
 *
 * At each tenure (a `runWhileLeader` task), the job:
 * 1. reads the database clock and the job's latest recorded slot, the cursor;
 * 2. settles the fires earlier terms left running: `at-least-once` runs them
 *    again (`attempt` + 1), the other modes mark them `interrupted`;
 * 3. loops: the slots due by the database clock after the cursor are
 *    planned (`plan()`: on time, or missed and caught up as `catchUp` says),
 *    each claimed in a fenced transaction and fired; then it sleeps until the
 *    next slot is due by the database clock (as measured from the last read,
 *    on this host's monotonic clock), and reads the clock again.
 *
 * A slot that comes due while the job's previous fire still runs is claimed
 * as `skipped`: never two fires of a job at once on a node.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from './clock.js';
import { NotLeaderError } from './errors.js';
import type { Session } from './mysql/driver.js';
import type { FireLog, FireOutcome } from './mysql/fires.js';
import type { ResolvedScheduleOptions } from './schedule-options.js';
import { plan, type Slots } from './slots.js';
import { StatementTimer } from './statement-timer.js';
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
  /** From the slot's time to the start of `fn` (or the skip), by the database clock as last read, in ms. */
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
  readonly nodeName: string;
  /** Time limit of the job's own statements (`queryTimeout`). */
  readonly queryTimeout: number;
  runWhileLeader(task: TenureTask): TaskHandle;
  /** Runs `fn` in a transaction fenced by the tenure of `term` (rejects with `NotLeaderError` when that tenure is not live). */
  fence<T>(term: number, fn: (connection: unknown, tenure: TenureContext, session: Session) => Promise<T>): Promise<T>;
}

/** The longest sleep between two reads of the database clock, so that a far slot is not timed on a drifting estimate. */
const MAX_SLEEP = 30_000;
/** The history is pruned at most this often. */
const PRUNE_EVERY = 60_000;

/** A job scheduled with `schedule()`: its fires happen on the leader, once per slot. */
export class ScheduledJob extends EventEmitter<JobEvents> implements AsyncDisposable {
  /** The job's name, unique within its election. */
  readonly name: string;
  /** Its cron expression. */
  readonly cron: string;
  /** Its frozen options, defaults filled in; `mode` is `'fenced'` for a fenced job. */
  readonly options: ResolvedScheduleOptions;
  readonly #slots: Slots;
  readonly #log: FireLog;
  readonly #host: JobHost;
  readonly #fn: (fire: FencedFireContext) => unknown;
  readonly #stop = new AbortController();
  readonly #statements = new StatementTimer(systemClock);
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
  }

  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** One tenure of the job: steps 1 to 3 of the header. */
  async #lead(tenure: TenureContext): Promise<void> {
    const loop = AbortSignal.any([tenure.signal, this.#stop.signal]);
    let running: Promise<void> | undefined;
    try {
      // 1. The database clock and the cursor (retried while the tenure lasts).
      let read = await this.#untilDone(loop, () => this.#timed('reading the database clock', (signal) => this.#log.clock(signal), loop));
      if (!read) return;
      let cursor = read.value.last ?? read.value.now;
      // 2. What earlier terms left running.
      const start = read.value.now;
      if (!(await this.#untilDone(loop, () => this.#recover(tenure, start).then(() => true)))) return;
      let pruned = -Infinity;
      // 3. Fire what is due, sleep until the next slot, read the clock again.
      while (!loop.aborted) {
        const now = read.value.now;
        const due = this.#slots.due(cursor, now, this.options.catchUpMaxCount + 1);
        const latest = due.at(-1);
        if (latest !== undefined) {
          const { fire, missed } = plan(due, now, this.options);
          if (missed > 0) this.emit('missed', { job: this.name, count: missed, latest });
          for (const [i, slot] of fire.entries()) {
            if (loop.aborted) break;
            const lateness = dbNow(read) - slot.getTime();
            if (running) {
              await this.#skip(tenure, slot, lateness);
              continue;
            }
            const fired = this.#fire(tenure, slot, 1, lateness, false).finally(() => {
              if (running === fired) running = undefined;
            });
            running = fired;
            if (i < fire.length - 1) await fired; // catching up: one after the other.
          }
          cursor = latest;
          if (performance.now() - pruned > PRUNE_EVERY) {
            pruned = performance.now();
            this.#log.prune(cursor, this.options.retention, AbortSignal.timeout(this.#host.queryTimeout)).catch((error: unknown) => this.#error(error));
          }
        }
        const next = this.#slots.next(cursor);
        // Never early: the wait is counted from the reply, after the database read its clock.
        const wait = next === undefined ? MAX_SLEEP : Math.min(MAX_SLEEP, next.getTime() - dbNow(read));
        if (wait > 0) await sleep(wait, undefined, { signal: loop }).catch(() => {});
        if (loop.aborted) break;
        const again = await this.#untilDone(loop, () => this.#timed('reading the database clock', (signal) => this.#log.clock(signal), loop));
        if (!again) break;
        read = again;
      }
    } finally {
      await running;
    }
  }

  /** Step 2: runs again (`at-least-once`) or marks `interrupted` (other modes) what earlier terms left running. */
  async #recover(tenure: TenureContext, now: Date): Promise<void> {
    if (this.options.mode !== 'at-least-once') {
      await this.#timed('marking interrupted fires', (signal) => this.#log.interrupt(tenure.term, signal), tenure.signal);
      return;
    }
    const oldest = new Date(now.getTime() - this.options.catchUpMaxAge);
    const { value: left } = await this.#timed('reading unfinished fires', (signal) => this.#log.unfinished(tenure.term, oldest, signal), tenure.signal);
    for (const { slot, attempt } of left) {
      if (tenure.signal.aborted) return;
      const taken = await this.#host.fence(tenure.term, (_connection, _tenure, session) =>
        this.#log.retry(session, slot, attempt, this.#host.nodeName, tenure.term),
      );
      if (taken) await this.#fire(tenure, slot, attempt + 1, now.getTime() - slot.getTime(), true);
    }
  }

  /**
   * Claims `slot` and runs `fn` (`retried`: the claim is already this
   * term's). Fenced: claim, `fn` and the record of its end in one fenced
   * transaction. Otherwise: a fenced claim, `fn`, then the record of its end.
   */
  async #fire(tenure: TenureContext, slot: Date, attempt: number, latenessMs: number, retried: boolean): Promise<void> {
    const { term, signal } = tenure;
    const fire = { nodeName: this.#host.nodeName, term, outcome: 'running' as const, cron: this.cron, timezone: this.options.timezone };
    let started = 0;
    const event = (outcome: Exclude<FireOutcome, 'running'>, error?: unknown): void =>
      void this.emit('fire', { job: this.name, slot, term, attempt, outcome, latenessMs, durationMs: performance.now() - started, ...(error !== undefined && { error }) });
    if (this.options.fenced) {
      let thrown: { error: unknown } | undefined;
      try {
        const claimed = await this.#host.fence(term, async (connection, _tenure, session) => {
          if ((await this.#log.claim(session, slot, fire)) !== 'claimed') return false;
          started = performance.now();
          try {
            await this.#fn({ slot, term, signal, attempt, connection });
          } catch (error) {
            thrown = { error };
            throw error;
          }
          await this.#log.finish(slot, term, attempt, 'done', undefined, session);
          return true;
        });
        if (claimed) event('done');
      } catch (error) {
        if (thrown && error === thrown.error && !signal.aborted) {
          await this.#recordFailure(tenure, slot, error);
          event('failed', error);
        } else if (error instanceof NotLeaderError) {
          if (started > 0) event('interrupted', error); // rolled back: the slot is still free for the next leader.
        } else this.#error(error);
      }
      return;
    }
    try {
      if (!retried && (await this.#host.fence(term, (_connection, _tenure, session) => this.#log.claim(session, slot, fire))) !== 'claimed') return;
    } catch (error) {
      // A claim in doubt (CommitUnknownError) is not run: at most once. If it landed, the next leader finds it running.
      if (!(error instanceof NotLeaderError)) this.#error(error);
      return;
    }
    started = performance.now();
    let outcome: Exclude<FireOutcome, 'running' | 'skipped'> = 'done';
    let failure: unknown;
    try {
      await this.#fn({ slot, term, signal, attempt, connection: undefined });
    } catch (error) {
      failure = error;
      outcome = signal.aborted ? 'interrupted' : 'failed';
    }
    event(outcome, failure);
    // at-least-once: a fire its tenure cut short stays `running`, for the next leader to run again.
    if (outcome === 'interrupted' && this.options.mode === 'at-least-once') return;
    const message = failure === undefined ? undefined : failure instanceof Error ? failure.message : String(failure);
    await this.#log
      .finish(slot, term, attempt, outcome, message, AbortSignal.timeout(this.#host.queryTimeout))
      .catch((error: unknown) => this.#error(error)); // at-least-once: a fire not marked done runs again under the next leader.
  }

  /** A fenced `fn` threw: its transaction was rolled back; the slot is claimed as `failed` in another, with the error. */
  async #recordFailure(tenure: TenureContext, slot: Date, failure: unknown): Promise<void> {
    const fire = { nodeName: this.#host.nodeName, term: tenure.term, outcome: 'running' as const, cron: this.cron, timezone: this.options.timezone };
    const message = failure instanceof Error ? failure.message : String(failure);
    try {
      await this.#host.fence(tenure.term, async (_connection, _tenure, session) => {
        if ((await this.#log.claim(session, slot, fire)) === 'claimed') await this.#log.finish(slot, tenure.term, 1, 'failed', message, session);
      });
    } catch (error) {
      if (!(error instanceof NotLeaderError)) this.#error(error);
    }
  }

  /** Claims `slot` as `skipped`: the job's previous fire still runs. */
  async #skip(tenure: TenureContext, slot: Date, latenessMs: number): Promise<void> {
    const fire = { nodeName: this.#host.nodeName, term: tenure.term, outcome: 'skipped' as const, cron: this.cron, timezone: this.options.timezone };
    try {
      const claimed = await this.#host.fence(tenure.term, (_connection, _tenure, session) => this.#log.claim(session, slot, fire));
      if (claimed === 'claimed') this.emit('fire', { job: this.name, slot, term: tenure.term, attempt: 1, outcome: 'skipped', latenessMs, durationMs: 0 });
    } catch (error) {
      if (!(error instanceof NotLeaderError)) this.#error(error);
    }
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

/** The database clock now, in ms, estimated from a read: its value plus the time since its reply (so never ahead). */
function dbNow(read: { value: { now: Date }; at: number }): number {
  return read.value.now.getTime() + (performance.now() - read.at);
}
