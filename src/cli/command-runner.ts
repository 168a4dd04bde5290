/**
 * What `mysql-leader run` and `mysql-leader lock` share: the command, run
 * through the watchdog (watchdog-client.ts) for one tenure at a time and
 * stopped by it at the lease's deadline unless extended; SIGINT and SIGTERM
 * to the CLI passed on to it; its end told as an exit code.
 */
import { constants } from 'node:os';
import { sharedNow } from './shared-clock.js';
import { Watchdog } from './watchdog-client.js';
import type { FromWatchdog } from './watchdog-protocol.js';

/** Exit codes of a shell when the command cannot be run. */
const NOT_FOUND = 127;
const NOT_EXECUTABLE = 126;

/** Options of {@link CommandRunner.start}. */
export interface CommandRunnerOptions {
  /** The command and its arguments. */
  readonly command: readonly [string, ...string[]];
  /** Time between SIGTERM and SIGKILL when the command is stopped (ms). */
  readonly grace: number;
  /** Prints a line about what happens (on standard error). */
  readonly note: (line: string) => void;
  /** The first SIGINT or SIGTERM came while no command ran: the CLI should stop. */
  readonly idle: (signal: NodeJS.Signals) => void;
  /** The watchdog died while no command ran (noted); a command that ran was killed, and its run ends `failed`, with exit code 1. */
  readonly lost: () => void;
}

/** The tenure a command runs for, as its environment tells it. */
export interface CommandTenure {
  /** The election (MYSQL_LEADER_NAME). */
  readonly name: string;
  /** This node (MYSQL_LEADER_NODE). */
  readonly node: string;
  /** The fencing token (MYSQL_LEADER_TERM). */
  readonly term: number;
}

/** How a run of the command ended, with the exit code it gives the CLI. */
export type CommandEnd =
  /** It exited; `how` says how ("exited with code 3"); `stopped` when a stop (`stop()`, the deadline) ended it, not the command itself. */
  | { readonly type: 'exited'; readonly status: number; readonly how: string; readonly stopped: boolean }
  /** It could not be run (126, 127), or the watchdog died and killed it (1); already noted. */
  | { readonly type: 'failed'; readonly status: number };

/** The command's current run, from its start to its end. */
interface CurrentRun {
  readonly term: number;
  /** A stop was asked for. */
  stopping: boolean;
  readonly ended: (end: CommandEnd) => void;
}

/** Runs the command of `run` or `lock`, one tenure at a time, through a watchdog process. */
export class CommandRunner {
  readonly #options: CommandRunnerOptions;
  /** Set by {@link CommandRunner.start} before the runner is handed out. */
  #watchdog!: Watchdog;
  #current: CurrentRun | undefined;
  /** The signal that asked the CLI to stop, once one has. */
  #stopSignal: NodeJS.Signals | undefined;

  private constructor(options: CommandRunnerOptions) {
    this.#options = options;
  }

  /** Starts the watchdog (so that a command starts within milliseconds of a tenure) and takes over SIGINT and SIGTERM until `close()`. */
  static async start(options: CommandRunnerOptions): Promise<CommandRunner> {
    const runner = new CommandRunner(options);
    runner.#watchdog = await Watchdog.start({ message: (message) => runner.#onWatchdog(message), lost: (reason) => runner.#onLost(reason) });
    process.on('SIGINT', runner.#onSignal);
    process.on('SIGTERM', runner.#onSignal);
    return runner;
  }

  /** The first SIGINT or SIGTERM the CLI got, once it has: no command is to start any more. */
  get stopSignal(): NodeJS.Signals | undefined {
    return this.#stopSignal;
  }

  /** Whether a command runs now. */
  get running(): boolean {
    return this.#current !== undefined;
  }

  /** The term of the command that runs, unless it is being stopped. */
  get term(): number | undefined {
    return this.#current?.stopping === false ? this.#current.term : undefined;
  }

  /**
   * Starts the command for `tenure` (while none runs), which the watchdog
   * stops by itself `remainingMs` from now unless {@link extend}ed; resolves
   * when it has ended.
   */
  run(tenure: CommandTenure, remainingMs: number): Promise<CommandEnd> {
    const [file, ...args] = this.#options.command;
    return new Promise((ended) => {
      this.#current = { term: tenure.term, stopping: false, ended };
      this.#watchdog.run({
        file,
        args,
        env: { ...process.env, MYSQL_LEADER_NAME: tenure.name, MYSQL_LEADER_NODE: tenure.node, MYSQL_LEADER_TERM: String(tenure.term) },
        deadline: sharedNow() + remainingMs,
        grace: this.#options.grace,
      });
    });
  }

  /** The lease is sure to last `remainingMs` more: moves the deadline of the command that runs, unless it is being stopped. */
  extend(remainingMs: number): void {
    if (this.term !== undefined) this.#watchdog.extend(sharedNow() + remainingMs);
  }

  /** Stops the command that runs: SIGTERM now, SIGKILL after the grace period. */
  stop(): void {
    const run = this.#current;
    if (!run || run.stopping) return;
    run.stopping = true;
    this.#watchdog.stop();
  }

  /** Lets the watchdog exit (it stops a command that still runs), then gives SIGINT and SIGTERM back. */
  async close(): Promise<void> {
    await this.#watchdog.close();
    // Only now: a Ctrl-C during the release of the lease must not cut it short.
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
  }

  /** The first SIGINT/SIGTERM is passed to the command; a second one kills it. */
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    if (this.#stopSignal === undefined) {
      this.#stopSignal = signal;
      if (!this.#current) {
        this.#options.idle(signal);
        return;
      }
      this.#options.note(`${signal}: passing it to the command, then releasing the lease`);
      this.#watchdog.signal(signal);
    } else if (this.#current) {
      this.#options.note(`${signal} again: killing the command`);
      this.#watchdog.signal('SIGKILL');
    }
  };

  #onWatchdog(message: FromWatchdog): void {
    const run = this.#current;
    if (!run || (message.type !== 'exited' && message.type !== 'failed')) return;
    this.#current = undefined;
    if (message.type === 'failed') {
      this.#options.note(`cannot run ${this.#options.command[0]}: ${message.message}`);
      run.ended({ type: 'failed', status: message.errno === 'ENOENT' ? NOT_FOUND : NOT_EXECUTABLE });
      return;
    }
    const how = message.signal ? `was killed by ${message.signal}` : `exited with code ${message.code}`;
    run.ended({ type: 'exited', status: exitStatus(message.code, message.signal), how, stopped: message.stopped || run.stopping });
  }

  #onLost(reason: string): void {
    this.#options.note(`${reason}: its command was killed`);
    const run = this.#current;
    this.#current = undefined;
    if (run) run.ended({ type: 'failed', status: 1 });
    else this.#options.lost();
  }
}

/** The command's exit code, or 128 + the signal's number when a signal ended it (as shells report it). */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  return code ?? 1;
}
