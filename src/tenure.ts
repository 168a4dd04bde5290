/** Types of the work a leader does during a tenure, and how long a tenure has left. */

/** The tenure leader-only work runs in. */
export interface TenureContext {
  /** The fencing token of the tenure. */
  readonly term: number;
  /** Aborts, with a `LeadershipEndedError` as reason, the moment the tenure ends. */
  readonly signal: AbortSignal;
}

/** A task started once per tenure by `runWhileLeader()`. */
export type TenureTask = (tenure: TenureContext) => void | Promise<void>;

/** Stops a `runWhileLeader()` registration. */
export interface TaskHandle extends AsyncDisposable {
  /** Starts the task for no further tenure, and waits for the run in progress (whose signal aborts only when its tenure ends). */
  stop(): Promise<void>;
}

/** What `withLock()` and `withFencedLock()` hand their function: the lock's tenure, and how long it is sure to last. */
export interface LockContext extends TenureContext {
  /**
   * How long this process is sure to hold the lock without a further
   * renewal, in ms, read at each access (0 once the lock is lost or
   * released): its local deadline, `margin` before the lease ends in the
   * database. Work that must finish under the lock can check it before it
   * starts; a supervisor can hand it on as a deadline.
   */
  readonly remainingMs: number;
}

/**
 * How long `leader` is sure to lead under `term`, in ms: its `remainingMs`
 * while that tenure lasts, 0 once it is over (even if a later tenure began).
 * What a lock's, a permit's and a share key's `remainingMs` read.
 */
export function remainingUnder(leader: { readonly term: number | undefined; readonly remainingMs: number }, term: number): number {
  return leader.term === term ? leader.remainingMs : 0;
}
