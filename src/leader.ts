/**
 * What every leader offers, as the `Leader` interface of the Go package this
 * library ports (`IsLeader`, `Acquire`): ask whether this node leads, and run
 * the election until told to stop.
 */
export interface Leader {
  /**
   * Whether this node leads now. Rejects with `signal.reason` if `signal`
   * has aborted.
   */
  isLeader(signal?: AbortSignal): Promise<boolean>;
  /**
   * Campaigns for leadership until `signal` aborts (rejects with its
   * reason), until the implementation is closed (resolves), or until it
   * decides to stop on an error (rejects with that error).
   */
  acquire(signal?: AbortSignal): Promise<void>;
}

/**
 * A {@link Leader} that always leads: for single-instance deployments and
 * tests, where code written against `Leader` needs no database.
 */
export class AlwaysLeader implements Leader {
  /** Always `true` (rejects with `signal.reason` if `signal` has aborted). */
  async isLeader(signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    return true;
  }

  /** Waits until `signal` aborts, then rejects with its reason; never settles without a signal. */
  acquire(signal?: AbortSignal): Promise<void> {
    return new Promise((_resolve, reject) => {
      if (signal === undefined) return;
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
}
