import { performance } from 'node:perf_hooks';
import { DatabaseError } from '../errors.js';
import type { HandoverLock } from '../store.js';
import type { Session } from './driver.js';
import { ER, errnoOf } from './errors.js';
import type { StatementRunner } from './runner.js';
import { GET_LOCK, GET_LOCK_IF_HELD, OWNS_LOCK, RELEASE_LOCK, lockKey } from './sql.js';

/**
 * How long the lock stays off after the pool starved: `backoff`, doubled
 * each time the pool starves again within one back-off of the lock's return,
 * at most `maxBackoff` (ms).
 */
export interface HandoverLockBackoff {
  readonly backoff: number;
  readonly maxBackoff: number;
}

/**
 * The hand-over lock on MySQL/MariaDB: a named lock (`GET_LOCK`) held on a
 * connection of its own, taken from the pool for as long as the leader
 * campaigns. That connection either holds the lock (leader) or waits on it
 * (follower); its statements run one at a time. Their errors are this
 * library's ({@link DatabaseError}), as the store's are.
 */
export class MysqlHandoverLock implements HandoverLock {
  readonly #runner: StatementRunner;
  readonly #key: unknown[];
  /** The back-off after a starvation, and its longest when starvations follow each other (ms). */
  readonly #limits: HandoverLockBackoff;
  #session: Session | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #holding = false;
  /** The server refused `GET_LOCK` (Percona XtraDB Cluster): off for good. */
  #unsupported = false;
  #closed = false;
  /** Given back after the pool starved: off until this instant (`performance.now()`). */
  #suspendedUntil = 0;
  /** The last back-off, doubled when the pool starves again soon after the lock came back. */
  #backoff = 0;

  /** The lock of the election `leaderName` of the runner's table; its connection comes from the runner's (pooled) driver. */
  constructor(runner: StatementRunner, leaderName: string, limits: HandoverLockBackoff) {
    this.#runner = runner;
    this.#key = lockKey(runner.tableName, leaderName);
    this.#limits = limits;
  }

  get available(): boolean {
    return !this.#unsupported && !this.#closed && performance.now() >= this.#suspendedUntil;
  }

  get holding(): boolean {
    return this.#holding;
  }

  hold(ms: number, signal: AbortSignal): Promise<void> {
    return this.#serial(signal, async (session) => {
      if (!this.#holding) this.#holding = (await this.#getLock(session, 'taking the hand-over lock', GET_LOCK, [...this.#key, ms / 1000], signal)) === 1;
    });
  }

  check(signal: AbortSignal): Promise<void> {
    return this.#serial(signal, async (session) => {
      if (!this.#holding) return;
      const { rows } = await this.#runner.runOn(session, 'checking the hand-over lock', OWNS_LOCK, this.#key, signal);
      const row = rows[0];
      // Lost with its connection (wait_timeout, a proxy's idle timeout): take it again next time.
      if (Number(row?.['mine']) !== 1) this.#discard();
    });
  }

  /**
   * Gives the lock's connection back to the pool for a while: the pool had
   * no connection to spare for a statement of the election (too small, or
   * every connection stuck on a stalled server). The lock is used again
   * once the back-off has passed; a starvation soon after that doubles it.
   */
  suspend(): void {
    const now = performance.now();
    // Already off: the lock holds no connection, so this starvation is not its doing.
    if (now < this.#suspendedUntil) return;
    const { backoff, maxBackoff } = this.#limits;
    const again = this.#backoff > 0 && now - this.#suspendedUntil < this.#backoff;
    this.#backoff = again ? Math.min(2 * this.#backoff, maxBackoff) : backoff;
    this.#suspendedUntil = now + this.#backoff;
    this.#discard();
  }

  wait(ms: number, signal: AbortSignal): Promise<boolean> {
    return this.#serial(signal, async (session) => {
      if (!this.#holding) this.#holding = (await this.#getLock(session, 'waiting on the hand-over lock', GET_LOCK, [...this.#key, ms / 1000], signal)) === 1;
      return this.#holding;
    });
  }

  waitIfHeld(ms: number, signal: AbortSignal): Promise<'obtained' | 'held' | 'free'> {
    return this.#serial(signal, async (session) => {
      if (this.#holding) return 'obtained';
      const what = 'waiting on the hand-over lock while it is held';
      const obtained = await this.#getLock(session, what, GET_LOCK_IF_HELD, [...this.#key, ...this.#key, ms / 1000], signal);
      if (obtained === -1) return 'free';
      this.#holding = obtained === 1;
      return this.#holding ? 'obtained' : 'held';
    });
  }

  drop(signal: AbortSignal): Promise<void> {
    return this.#serial(signal, async (session) => {
      if (!this.#holding) return;
      await this.#runner.runOn(session, 'freeing the hand-over lock', RELEASE_LOCK, this.#key, signal);
      this.#holding = false;
    });
  }

  /** Closes the connection, which frees the lock. */
  close(): void {
    this.#closed = true;
    this.#discard();
  }

  /** Runs `sql`, a `GET_LOCK` (or {@link GET_LOCK_IF_HELD}): its `obtained` as a number. */
  async #getLock(session: Session, what: string, sql: string, params: unknown[], signal: AbortSignal): Promise<number> {
    const { rows } = await this.#runner.runOn(session, what, sql, params, signal);
    const obtained = rows[0]?.['obtained'];
    if (obtained === null || obtained === undefined) throw new DatabaseError(`${what} failed: GET_LOCK returned NULL (the wait was killed)`);
    return Number(obtained);
  }

  /** Runs `op` after the statements before it, on the lock's connection (taken on first use). */
  #serial<T>(signal: AbortSignal, op: (session: Session) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      signal.throwIfAborted();
      if (this.#closed) throw new Error('the hand-over lock is closed');
      try {
        this.#session ??= await this.#runner.connect('taking a connection for the hand-over lock', signal);
        return await op(this.#session);
      } catch (error) {
        // A statement abandoned or failed leaves the session unknown: close
        // it, which frees the lock on the server too.
        this.#discard();
        if (errnoOf(error) === ER.NOT_SUPPORTED_YET) this.#unsupported = true;
        throw error;
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  #discard(): void {
    this.#session?.destroy();
    this.#session = undefined;
    this.#holding = false;
  }
}
