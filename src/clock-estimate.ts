/**
 * The database clock as a scheduled job estimates it between reads: a lower
 * bound, so that a slot it says is due is due by the database clock. Pure:
 * the caller passes monotonic times (`performance.now()`), so it is
 * unit-tested without a database.
 *
 * A read of `UTC_TIMESTAMP(6)` sent at monotonic `sent` whose reply came at
 * `at` says that the database clock's offset from the monotonic clock (db −
 * monotonic) lies in `[now − at, now − sent]`: the server read its clock in
 * between. The estimate keeps the highest lower bound its reads gave, so one
 * quick read makes it tight (a slow one, on a loaded host, does not make it
 * late); a read whose upper bound is below the kept bound (the database
 * clock went back, or ran slower than this host's) replaces it.
 */

/** One read of the database clock, with the monotonic times it was sent and answered. */
export interface ClockRead {
  /** The database clock, in ms since the epoch. */
  readonly now: number;
  /** Monotonic ms when the statement was sent (or earlier). */
  readonly sent: number;
  /** Monotonic ms when its reply came (or later). */
  readonly at: number;
}

/** A lower bound of the database clock, from the reads of one tenure. */
export class ClockEstimate {
  /** The highest lower bound of (database clock − monotonic clock) so far, in ms; none before the first read. */
  #offset = -Infinity;

  /** Takes a new read into account. */
  add(read: ClockRead): void {
    const lower = read.now - read.at;
    const upper = read.now - read.sent;
    if (lower > this.#offset || upper < this.#offset) this.#offset = lower;
  }

  /** Forgets the earlier reads: the estimate is `read`'s lower bound (after the database refused a slot as not due). */
  reset(read: ClockRead): void {
    this.#offset = read.now - read.at;
  }

  /**
   * The database clock at monotonic `mono`, in ms since the epoch (`-Infinity`
   * before the first read): never ahead of it while its rate matches this host's.
   */
  at(mono: number): number {
    return mono + this.#offset;
  }
}
