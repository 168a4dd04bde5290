import type { Clock } from '../../src/clock.js';

interface Timer {
  readonly at: number;
  readonly id: number;
  readonly ms: number;
  readonly callback: () => void;
}

/** Lets every pending promise chain run (the in-memory store only uses microtasks and this clock). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A clock whose time moves only when a test says so; timers run in order of their due time. */
export class FakeClock implements Clock {
  #now = 1_000;
  #next = 0;
  readonly #timers = new Map<number, Timer>();
  /** Timers that ran and were not cleared: `refresh()` can arm them again, as Node's can. */
  readonly #fired = new Map<number, Timer>();

  now(): number {
    return this.#now;
  }

  /** Timers set so far (`refresh()` sets none). */
  get created(): number {
    return this.#next;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.#next;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), id, ms, callback });
    return id;
  }

  /** Re-arms a timer, pending or fired, under its id: it runs its duration from now. */
  refresh(handle: unknown): void {
    const timer = this.#fired.get(handle as number) ?? this.#timers.get(handle as number);
    if (!timer) return;
    this.#fired.delete(timer.id);
    this.#timers.set(timer.id, { ...timer, at: this.#now + Math.max(0, timer.ms) });
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
    this.#fired.delete(handle as number);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Advances time by `ms`, running each timer at its due time and letting promises settle in between. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await flush();
      let due: Timer | undefined;
      for (const timer of this.#timers.values()) {
        if (timer.at <= target && (!due || timer.at < due.at || (timer.at === due.at && timer.id < due.id))) due = timer;
      }
      if (!due) break;
      this.#timers.delete(due.id);
      this.#fired.set(due.id, due);
      this.#now = due.at;
      due.callback();
    }
    this.#now = target;
    await flush();
  }

  /** Advances in small steps until `condition()` holds; throws after `limit` ms. Returns the time it took. */
  async until(condition: () => boolean, limit = 60_000, step = 1): Promise<number> {
    const start = this.#now;
    while (!condition()) {
      if (this.#now - start > limit) throw new Error(`condition not met within ${limit} ms of fake time`);
      await this.advance(step);
    }
    return this.#now - start;
  }

  /** Moves time forward without running any timer: what a paused process sees when it wakes. */
  jump(ms: number): void {
    this.#now += ms;
  }
}
