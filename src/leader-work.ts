import type { Clock } from './clock.js';
import type { TaskHandle, TenureContext, TenureTask } from './tenure.js';

/** What {@link LeaderWork} needs from its elector. */
export interface LeaderWorkHost {
  /** The elector's clock, which times `drain()`. */
  readonly clock: Clock;
  /** How long `drain()` waits for work to settle (ms). */
  readonly drainTimeout: number;
  /** The elector's live tenure now, if any (asked when a task is to start). */
  currentTenure(): TenureContext | undefined;
  /** A task's run threw (an abort with its own signal excepted). */
  onTaskError(term: number, error: unknown): void;
  /** `drain()` gave up waiting: `pending` pieces of work still run. */
  onDrainTimeout(pending: number): void;
}

/**
 * The bookkeeping of leader-only work: the `runWhileLeader()` tasks started
 * at each tenure, and every piece of work in progress (task runs, fenced
 * transactions), which a release of the lease waits for, so that the next
 * leader never starts while this one still works.
 */
export class LeaderWork {
  readonly #host: LeaderWorkHost;
  /** The `runWhileLeader()` registrations, each started at every tenure. */
  #tasks: Set<() => void> | undefined; // made when first needed: many leases of an engine run no task
  /** Leader-only work in progress (task runs, fenced transactions): settled before the lease is released. */
  #work: Set<Promise<unknown>> | undefined;
  /** Fenced transactions in progress, which hold the row this node's renewal updates. */
  #holdingRow = 0;

  /** Work for the elector that `host` describes. */
  constructor(host: LeaderWorkHost) {
    this.#host = host;
  }

  /** Whether a fenced transaction of this node holds the election row (its renewal then waits for it). */
  get holdingRow(): boolean {
    return this.#holdingRow > 0;
  }

  /**
   * Registers `task` to run at the start of every tenure, and starts it now
   * if a tenure is live. A run that has not settled when the next tenure
   * begins is waited for first, so runs never overlap.
   */
  register(task: TenureTask): TaskHandle {
    let stopped = false;
    let running: Promise<void> = Promise.resolve();
    const start = (): void => {
      const context = this.#host.currentTenure();
      if (!context || stopped) return;
      running = this.#track(
        running.then(async () => {
          if (stopped || context.signal.aborted) return;
          try {
            await task(context);
          } catch (error) {
            if (!(context.signal.aborted && error === context.signal.reason)) this.#host.onTaskError(context.term, error);
          }
        }),
      );
    };
    (this.#tasks ??= new Set()).add(start);
    start();
    const stop = async (): Promise<void> => {
      stopped = true;
      this.#tasks?.delete(start);
      await running;
    };
    return { stop, [Symbol.asyncDispose]: stop };
  }

  /** Starts every registered task, for the tenure that has just begun. */
  startTasks(): void {
    if (this.#tasks) for (const start of this.#tasks) start();
  }

  /** Runs a fenced transaction, tracked, and counted as holding the row until it settles. */
  async fenced<T>(run: () => Promise<T>): Promise<T> {
    this.#holdingRow++;
    try {
      return await this.#track(run());
    } finally {
      this.#holdingRow--;
    }
  }

  /** Waits for the work in progress to settle, at most `drainTimeout`. */
  async drain(): Promise<void> {
    const work = this.#work;
    if (!work || work.size === 0) return;
    const { clock, drainTimeout } = this.#host;
    let timer: unknown;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = clock.setTimeout(() => resolve(true), drainTimeout);
    });
    const settled = Promise.allSettled([...work]).then(() => false);
    const late = await Promise.race([settled, timedOut]);
    clock.clearTimeout(timer);
    if (late) this.#host.onDrainTimeout(work.size);
  }

  /** Adds `work` to what `drain()` waits for, until it settles. */
  #track<T>(work: Promise<T>): Promise<T> {
    const tracked = (this.#work ??= new Set());
    tracked.add(work);
    const untrack = (): void => void tracked.delete(work);
    work.then(untrack, untrack);
    return work;
  }
}
