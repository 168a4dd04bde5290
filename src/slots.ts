/**
 * The slots of a job: the instants its cron expression names in its time
 * zone (computed by croner, DST included), and which of those that are due
 * a leader fires. Pure: the caller passes the database clock's `now`; no
 * wall clock of this host is ever read here.
 */
import { Cron } from 'croner';

/** How slots missed while nobody led (or while a fire ran late) are handled. */
export type CatchUp = 'none' | 'latest' | 'all';

/** The slots of one cron expression in one time zone. */
export class Slots {
  readonly #cron: Cron;

  /** Throws croner's `TypeError` for a bad expression or time zone. */
  constructor(expression: string, timezone: string) {
    // No function: croner schedules nothing, it only computes.
    this.#cron = new Cron(expression, { timezone, mode: '5-or-6-parts' });
    this.#cron.nextRun(new Date(0)); // a bad time zone throws on the first computation.
  }

  /** The first slot strictly after `after`, or `undefined` when the expression names no later instant. */
  next(after: Date): Date | undefined {
    return this.#cron.nextRun(after) ?? undefined;
  }

  /** The slots in `(after, now]`, at most the `count` latest, oldest first. */
  due(after: Date, now: Date, count: number): Date[] {
    // previousRuns counts back from `now` (whole seconds; a slot at `now` itself is included).
    return this.#cron
      .previousRuns(count, new Date(now.getTime() + 1))
      .filter((slot) => slot > after && slot <= now)
      .reverse();
  }
}

/** What a leader does with the slots that are due when it looks. */
export interface Plan {
  /** The slots to fire now, oldest first. */
  readonly fire: readonly Date[];
  /** How many due slots it leaves unfired (missed: counted, not recorded). */
  readonly missed: number;
}

/** The bounds of a catch-up, in ms and slots. */
export interface CatchUpBounds {
  readonly catchUp: CatchUp;
  /** A slot later than this after its time is missed; `catchUp` decides whether it still fires. */
  readonly misfireThreshold: number;
  /** No slot older than this fires. */
  readonly catchUpMaxAge: number;
  /** With `all`, at most this many slots fire. */
  readonly catchUpMaxCount: number;
}

/**
 * Which of the due slots `due` (oldest first) fire at `now`. The latest one
 * fires when it is on time (no later than `misfireThreshold` after its
 * time), whatever `catchUp` says; the others, and a latest one that is
 * late, are missed slots: `none` fires none of them, `latest` only the
 * latest due slot, `all` every one, in order. Nothing older than
 * `catchUpMaxAge` fires, and `all` fires at most `catchUpMaxCount`.
 */
export function plan(due: readonly Date[], now: Date, bounds: CatchUpBounds): Plan {
  const young = due.filter((slot) => now.getTime() - slot.getTime() <= bounds.catchUpMaxAge);
  const latest = young.at(-1);
  let fire: Date[];
  if (bounds.catchUp === 'all') fire = young.slice(-bounds.catchUpMaxCount);
  else if (latest === undefined) fire = [];
  else if (bounds.catchUp === 'latest' || now.getTime() - latest.getTime() <= bounds.misfireThreshold) fire = [latest];
  else fire = [];
  return { fire, missed: due.length - fire.length };
}
