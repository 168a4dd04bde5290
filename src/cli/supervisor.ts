/**
 * The heart of `mysql-leader run`: campaigns, runs the command while this
 * node leads (through the watchdog), stops it when the tenure ends, and
 * decides what the command's exit means: the end of the CLI (with the
 * command's exit code), a restart, or a wait for the next tenure.
 */
import { constants } from 'node:os';
import type { MysqlLeader, RenewedEvent, RevokedEvent } from '../index.js';
import { Watchdog } from './watchdog-client.js';
import { sharedNow } from './shared-clock.js';
import type { FromWatchdog } from './watchdog-protocol.js';

/** A command that exits by itself is started again after this pause (with `restart`), so that a failing one does not spin. */
const RESTART_DELAY = 1000;

/** Exit codes of a shell when the command cannot be run. */
const NOT_FOUND = 127;
const NOT_EXECUTABLE = 126;

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /** The command and its arguments. */
  readonly command: readonly [string, ...string[]];
  /** Time between SIGTERM and SIGKILL when the tenure ends (ms). */
  readonly grace: number;
  /** Restart the command when it exits by itself, instead of exiting. */
  readonly restart: boolean;
  /** Prints a line about what happens (on standard error). */
  readonly note: (line: string) => void;
}

/** The command's current run, from its start to its exit. */
interface CommandRun {
  readonly term: number;
  /** A stop was asked for: its exit does not end the CLI. */
  stopping: boolean;
}

/** Runs a command on this node while it leads `leader`'s election. */
export class Supervisor {
  readonly #leader: MysqlLeader;
  readonly #options: SupervisorOptions;
  #watchdog: Watchdog | undefined;
  #run: CommandRun | undefined;
  /** The signal that asked the CLI to stop, once one has. */
  #stopSignal: NodeJS.Signals | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #finish: (code: number) => void = () => {};
  #lastError: string | undefined;

  /** Supervises a command for `leader`, which must not be campaigning yet. */
  constructor(leader: MysqlLeader, options: SupervisorOptions) {
    this.#leader = leader;
    this.#options = options;
  }

  /**
   * Campaigns until the command exits by itself (without `restart`) or a
   * SIGINT/SIGTERM has been passed to it and it has exited; releases the
   * lease; resolves to the exit code. Rejects, before campaigning, when the
   * database or the table cannot be read.
   */
  async run(): Promise<number> {
    const leader = this.#leader;
    // Fail fast, on one line, on a wrong URL, password or table.
    try {
      await leader.currentLeader();
    } catch (error) {
      await leader.close();
      throw error;
    }
    const finished = new Promise<number>((resolve) => (this.#finish = resolve));
    this.#watchdog = await Watchdog.start({
      message: (message) => this.#onWatchdog(message),
      lost: (reason) => {
        this.#options.note(`${reason}: its command was killed`);
        this.#finish(1);
      },
    });
    leader.on('elected', this.#onElected);
    leader.on('renewed', this.#onRenewed);
    leader.on('revoked', this.#onRevoked);
    leader.on('error', this.#onError);
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
    this.#options.note(`campaigning in "${leader.leaderName}" as ${leader.nodeName}`);
    const campaign = leader.acquire().catch((error: unknown) => {
      this.#options.note(`the campaign stopped: ${error instanceof Error ? error.message : String(error)}`);
      this.#finish(1);
    });
    try {
      return await finished;
    } finally {
      clearTimeout(this.#restartTimer);
      await leader.close();
      await campaign;
      leader.off('elected', this.#onElected);
      leader.off('renewed', this.#onRenewed);
      leader.off('revoked', this.#onRevoked);
      leader.off('error', this.#onError);
      await this.#watchdog.close();
      // Only now: a Ctrl-C during the release must not cut it short.
      process.off('SIGINT', this.#onSignal);
      process.off('SIGTERM', this.#onSignal);
    }
  }

  readonly #onElected = ({ term }: { term: number }): void => {
    this.#lastError = undefined;
    this.#start(term);
  };

  readonly #onRenewed = ({ term }: RenewedEvent): void => {
    if (this.#run?.term === term && !this.#run.stopping) this.#watchdog?.extend(sharedNow() + this.#leader.remainingMs);
  };

  readonly #onRevoked = ({ term, reason }: RevokedEvent): void => {
    const run = this.#run;
    if (run?.term !== term || run.stopping) return;
    run.stopping = true;
    this.#options.note(`leadership of term ${term} ended (${reason}): stopping the command (SIGTERM, then SIGKILL after ${this.#options.grace} ms)`);
    this.#watchdog?.stop();
  };

  /** Database errors go on being retried; each different one is shown once. */
  readonly #onError = (error: Error): void => {
    if (error.message === this.#lastError) return;
    this.#lastError = error.message;
    this.#options.note(error.message);
  };

  /** The first SIGINT/SIGTERM is passed to the command; a second one kills it. */
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    if (this.#stopSignal === undefined) {
      this.#stopSignal = signal;
      if (!this.#run) {
        this.#finish(0);
        return;
      }
      this.#options.note(`${signal}: passing it to the command, then releasing the lease`);
      this.#watchdog?.signal(signal);
    } else if (this.#run) {
      this.#options.note(`${signal} again: killing the command`);
      this.#watchdog?.signal('SIGKILL');
    }
  };

  /** Starts the command for `term`, unless one still runs (it is started again when that one exits) or the CLI is stopping. */
  #start(term: number): void {
    const remaining = this.#leader.remainingMs;
    if (this.#run || this.#stopSignal !== undefined || remaining <= 0) return;
    const [file, ...args] = this.#options.command;
    this.#run = { term, stopping: false };
    this.#options.note(`elected (term ${term}): starting ${file}`);
    this.#watchdog?.run({
      file,
      args,
      env: { ...process.env, MYSQL_LEADER_NAME: this.#leader.leaderName, MYSQL_LEADER_NODE: this.#leader.nodeName, MYSQL_LEADER_TERM: String(term) },
      deadline: sharedNow() + remaining,
      grace: this.#options.grace,
    });
  }

  /** Starts the command again if this node leads. */
  #resume(): void {
    const term = this.#leader.term;
    if (term !== undefined) this.#start(term);
  }

  #onWatchdog(message: FromWatchdog): void {
    if (message.type === 'failed') {
      this.#run = undefined;
      this.#options.note(`cannot run ${this.#options.command[0]}: ${message.message}`);
      this.#finish(message.errno === 'ENOENT' ? NOT_FOUND : NOT_EXECUTABLE);
      return;
    }
    if (message.type !== 'exited') return;
    const stopped = message.stopped || this.#run?.stopping === true;
    this.#run = undefined;
    const how = message.signal ? `was killed by ${message.signal}` : `exited with code ${message.code}`;
    if (this.#stopSignal !== undefined) {
      this.#options.note(`the command ${how}: releasing the lease`);
      this.#finish(exitStatus(message.code, message.signal));
    } else if (stopped) {
      this.#options.note(`the command ${how}`);
      this.#resume(); // a new tenure may have begun while it was stopping
    } else if (!this.#options.restart) {
      this.#options.note(`the command ${how}: releasing the lease`);
      this.#finish(exitStatus(message.code, message.signal));
    } else {
      this.#options.note(`the command ${how}: starting it again in ${RESTART_DELAY} ms if still leading`);
      this.#restartTimer = setTimeout(() => this.#resume(), RESTART_DELAY);
    }
  }
}

/** The command's exit code, or 128 + the signal's number when a signal ended it (as shells report it). */
function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  return code ?? 1;
}
