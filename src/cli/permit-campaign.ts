/**
 * `mysql-leader run --slots N`: the permits of a semaphore as the
 * supervisor's campaign. While this replica holds a permit, it is "elected"
 * (the supervisor runs the command); when the permit's lease ends, it is
 * "revoked" (the supervisor stops the command), and it waits for a permit
 * again, until `close()`.
 */
import { EventEmitter } from 'node:events';
import { LeadershipEndedError, PermitTimeoutError, type LeaderEvents, type Permit, type Semaphore, type SemaphoreEvents } from '../index.js';

/** The longest `wait` of `acquire()` (a timer's limit, about 24.8 days); waiting for ever waits in spans of it. */
const LONGEST_WAIT = 2 ** 31 - 1;

/** A permit of `semaphore` at a time, held for as long as its lease lasts, then asked for again. */
export class PermitCampaign extends EventEmitter<LeaderEvents> {
  /** This replica's name in the permits' rows. */
  readonly nodeName: string;
  readonly #semaphore: Semaphore;
  readonly #check: () => Promise<unknown>;
  readonly #stop = new AbortController();
  #permit: Permit | undefined;
  #campaign: Promise<void> | undefined;

  /** `check` reads the database once, to fail fast on a wrong URL, password or table. */
  constructor(semaphore: Semaphore, nodeName: string, check: () => Promise<unknown>) {
    super();
    this.#semaphore = semaphore;
    this.nodeName = nodeName;
    this.#check = check;
    this.on('error', () => {}); // nothing emits it: the engine's onError tells database errors.
  }

  /** The semaphore's name (MYSQL_LEADER_NAME of the command). */
  get leaderName(): string {
    return this.#semaphore.name;
  }

  /** The term of the permit held, while its lease lasts (a permit's own: two replicas may have the same one, on two slots). */
  get term(): number | undefined {
    const permit = this.#permit;
    return permit && permit.remainingMs > 0 ? permit.term : undefined;
  }

  /** How long the permit held is sure to last (0 when none is). */
  get remainingMs(): number {
    return this.#permit?.remainingMs ?? 0;
  }

  /** Reads the database once (the supervisor's check before it starts); no holder to tell. */
  async currentLeader(): Promise<undefined> {
    await this.#check();
    return undefined;
  }

  /** Holds a permit at a time until `close()`. Rejects with a database error the engine's `onError` stopped on. */
  acquire(): Promise<void> {
    this.#campaign ??= this.#run();
    return this.#campaign;
  }

  /** Gives the permit held back and stops asking for one. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#permit?.release();
    await this.#campaign;
  }

  async #run(): Promise<void> {
    const stop = this.#stop.signal;
    this.#semaphore.on('renewed', this.#onRenewed);
    try {
      while (!stop.aborted) {
        let permit: Permit;
        try {
          permit = await this.#semaphore.acquire({ wait: LONGEST_WAIT, signal: stop });
        } catch (error) {
          if (error instanceof PermitTimeoutError) continue;
          if (stop.aborted) return;
          throw error;
        }
        this.#permit = permit;
        this.emit('elected', { term: permit.term });
        const reason = await new Promise<unknown>((resolve) => permit.signal.addEventListener('abort', () => resolve(permit.signal.reason), { once: true }));
        this.emit('revoked', { term: permit.term, reason: reason instanceof LeadershipEndedError ? reason.reason : 'aborted' });
        await permit.release();
        this.#permit = undefined;
      }
    } finally {
      this.#semaphore.off('renewed', this.#onRenewed);
    }
  }

  readonly #onRenewed = ({ slot, term, latencyMs }: SemaphoreEvents['renewed'][0]): void => {
    const permit = this.#permit;
    if (permit?.slot === slot && permit.term === term) this.emit('renewed', { term, latencyMs });
  };
}
