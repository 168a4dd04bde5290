/** A follower step waiting at a {@link StepGate}: called back when its turn comes. */
export interface StepWaiter {
  /**
   * Its turn: returns `true` if it goes in (it is inside the gate now, and
   * must `leave()` when done), `false` if it no longer wants to (its
   * campaign stopped or was nudged meanwhile): the next in line goes instead.
   */
  admitted(): boolean;
}

/**
 * How many follower steps (a read, and the claim it may lead to) of a lease
 * engine's elections run at once: at most `limit`, the others wait in line,
 * first come, first let in. A burst of 10,000 elections started together
 * then has at most `limit` steps in flight, and the rest wait in one entry
 * each instead of a campaign's worth of statements, promises and replies,
 * which the young generation would otherwise keep and promote. Only
 * followers wait here: a leader's renewals go through the renewal schedule.
 *
 * Waiting never changes what a step does, only when: a read that comes
 * later is timed from its own arrival (the safety rule of `Elector`).
 * Elections that a caller waits for (a lock, a semaphore's permit) go
 * straight through, and so do a share's (its claims may wait for the
 * share's balance, which must not hold a place); so does a step that first
 * releases a lease of ours, which waits for the tenure's work to drain.
 */
export class StepGate {
  readonly #limit: number;
  #inside = 0;
  /** Waiters in line, from `#head` on (an array and an index: no object per waiter beyond its own). */
  #line: StepWaiter[] = [];
  #head = 0;

  /** A gate for at most `limit` steps at once (a whole number ≥ 1). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Steps inside now, for tests. */
  get inside(): number {
    return this.#inside;
  }

  /** Waiters in line now (some may no longer want in), for tests. */
  get waiting(): number {
    return this.#line.length - this.#head;
  }

  /** Lets a step in at once if there is room (`true`: it must `leave()` when done). Whoever waits in line came when there was none. */
  enter(): boolean {
    // A line forms only when the gate is full, and `leave()` empties it before making room: there is no one to pass.
    if (this.#inside >= this.#limit) return false;
    this.#inside++;
    return true;
  }

  /** Puts `waiter` in line, after `enter()` found no room: `waiter.admitted()` comes when a step ahead leaves. */
  wait(waiter: StepWaiter): void {
    this.#line.push(waiter);
  }

  /** A step that was let in is done: the next one in line that still wants in takes its place. */
  leave(): void {
    while (this.#head < this.#line.length) {
      const next = this.#line[this.#head++] as StepWaiter;
      if (next.admitted()) {
        this.#compact();
        return; // its place is the one left: `#inside` stays.
      }
    }
    this.#compact();
    this.#inside--;
  }

  /** Drops the part of the line already let through, once it is most of the array. */
  #compact(): void {
    if (this.#head === this.#line.length) {
      this.#line = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#line.length) {
      this.#line = this.#line.slice(this.#head);
      this.#head = 0;
    }
  }
}
