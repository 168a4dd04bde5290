/**
 * The messages between `mysql-leader run` and its watchdog process
 * (watchdog.ts), over Node's IPC channel.
 */

/** What the command to run is, and until when it may run unless extended. */
export interface StartMessage {
  readonly type: 'start';
  /** The program (looked up in PATH). */
  readonly file: string;
  /** Its arguments. */
  readonly args: readonly string[];
  /** Its whole environment. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** On the shared clock (`sharedNow()` of shared-clock.ts): past it, the command is stopped unless extended. */
  readonly deadline: number;
  /** Time between SIGTERM and SIGKILL when the command is stopped (ms). */
  readonly grace: number;
}

/** From the CLI to the watchdog. */
export type ToWatchdog =
  | StartMessage
  /** A renewal moved the deadline. */
  | { readonly type: 'extend'; readonly deadline: number }
  /** The tenure ended: SIGTERM now, SIGKILL after the grace period. */
  | { readonly type: 'stop' }
  /** Passes a signal to the command's process group. */
  | { readonly type: 'signal'; readonly signal: NodeJS.Signals };

/** From the watchdog to the CLI. */
export type FromWatchdog =
  | { readonly type: 'ready' }
  /** The command runs in a process group of its own, whose id is `pid`. */
  | { readonly type: 'started'; readonly pid: number }
  /** The command has exited; `stopped` when a stop (or the deadline) ended it, not the command itself. */
  | { readonly type: 'exited'; readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly stopped: boolean }
  /** The command could not be started (`errno`: ENOENT, EACCES…). */
  | { readonly type: 'failed'; readonly message: string; readonly errno: string | undefined };
