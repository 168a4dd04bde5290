/**
 * A health check for liveness and readiness probes, after Kubernetes'
 * `HealthzAdaptor`: a leader that has been unable to renew its lease for
 * longer than a threshold is unhealthy, so that an orchestrator can restart
 * a process whose database link (or event loop) is stuck.
 *
 * ```ts
 * const health = new LeaderHealth(leader);
 * // GET /healthz → const { healthy } = health.check(); res.writeHead(healthy ? 200 : 503);
 * ```
 */
import { performance } from 'node:perf_hooks';
import { checkDuration } from './options.js';
import type { LeaderChangeEvent, RevokedEvent } from './events.js';
import type { TrackedLeader } from './metrics/series.js';

/** What the health check reads from a leader: a `MysqlLeader`, or anything with the same getters and events. */
export interface HealthSource extends TrackedLeader {
  /** The current tenure's term, `undefined` when not leading. */
  readonly term: number | undefined;
  /** The leader's options; `age` is the default threshold. */
  readonly options: {
    /** The lease length, in ms. */
    readonly age: number;
  };
}

/** Options of {@link LeaderHealth}. */
export interface LeaderHealthOptions {
  /**
   * How long after its last successful renewal (or election) a leader that
   * can no longer renew becomes unhealthy, in ms.
   * @default leader.options.age
   */
  threshold?: number;
}

/** The answer of {@link LeaderHealth.check}. */
export interface HealthStatus {
  /** `false` when the node has been unable to renew its lease for longer than the threshold. */
  readonly healthy: boolean;
  /** Whether the node leads now (for a readiness probe of leader-only traffic). */
  readonly leading: boolean;
  /** The current term, `undefined` when not leading. */
  readonly term: number | undefined;
  /** Time since the last successful renewal or election, in ms; `undefined` before the first election. */
  readonly sinceRenewMs: number | undefined;
  /** Why it is unhealthy; `undefined` when healthy. */
  readonly reason: string | undefined;
}

/**
 * Watches one leader's events. It is unhealthy when:
 * - it leads, but its last successful renewal is older than the threshold
 *   (renewals are late: a slow database, a starved event loop); or
 * - its tenure ended because renewals failed (`revoked` with reason `error`
 *   or `expired`) and the threshold has passed since its last successful
 *   renewal, until it is elected again or sees another node lead.
 *
 * A follower that never led, or that handed over cleanly (`lost`,
 * `resigned`, `closed`, `aborted`), is healthy.
 */
export class LeaderHealth {
  readonly #leader: HealthSource;
  readonly #threshold: number;
  #lastRenewAt: number | undefined;
  /** Since its tenure ended because renewals failed, until it leads again or sees another leader. */
  #troubled = false;
  readonly #onRenewed = (): void => {
    this.#lastRenewAt = performance.now();
    this.#troubled = false;
  };
  readonly #onRevoked = ({ reason }: RevokedEvent): void => {
    this.#troubled = reason === 'error' || reason === 'expired';
  };
  readonly #onLeaderChange = ({ leader }: LeaderChangeEvent): void => {
    if (leader !== undefined && leader.nodeName !== this.#leader.nodeName) this.#troubled = false;
  };

  /** Starts watching `leader`'s events. Throws a `TypeError`/`RangeError` for a bad `threshold`. */
  constructor(leader: HealthSource, options: LeaderHealthOptions = {}) {
    this.#leader = leader;
    this.#threshold = checkDuration('options.threshold', options.threshold ?? leader.options.age);
    leader.on('elected', this.#onRenewed);
    leader.on('renewed', this.#onRenewed);
    leader.on('revoked', this.#onRevoked);
    leader.on('leaderChange', this.#onLeaderChange);
  }

  /** The health now. No query. */
  check(): HealthStatus {
    const leading = this.#leader.leading;
    const term = this.#leader.term;
    const sinceRenewMs = this.#lastRenewAt === undefined ? undefined : performance.now() - this.#lastRenewAt;
    const late = sinceRenewMs !== undefined && sinceRenewMs > this.#threshold;
    let reason: string | undefined;
    if (late && leading) reason = `leading, but the lease was last renewed ${Math.round(sinceRenewMs)} ms ago (threshold ${this.#threshold} ms)`;
    else if (late && this.#troubled) reason = `unable to renew the lease for ${Math.round(sinceRenewMs)} ms (threshold ${this.#threshold} ms)`;
    return { healthy: reason === undefined, leading, term, sinceRenewMs, reason };
  }

  /** Stops watching the leader's events. */
  close(): void {
    this.#leader.off('elected', this.#onRenewed);
    this.#leader.off('renewed', this.#onRenewed);
    this.#leader.off('revoked', this.#onRevoked);
    this.#leader.off('leaderChange', this.#onLeaderChange);
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
