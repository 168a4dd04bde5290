/** Types of the work a leader does during a tenure. */

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
