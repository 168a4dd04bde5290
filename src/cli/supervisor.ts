/**
 * The heart of `mysql-leader run`: campaigns, runs the command while this
 * node leads (through the command runner and its watchdog), stops it when
 * the tenure ends, and decides what the command's exit means: the end of
 * the CLI (with the command's exit code), a restart, or a wait for the next
 * tenure.
 */
import type { EventEmitter } from 'node:events';
import type { LeaderEvents, MysqlLeader, RenewedEvent, RevokedEvent } from '../index.js';
import { CommandRunner, type CommandEnd } from './command-runner.js';

/** A command that exits by itself is started again after this pause (with `restart`), so that a failing one does not spin. */
const RESTART_DELAY = 1000;

/** What the supervisor campaigns with: a `MysqlLeader`, or the permits of a semaphore (`run --slots`, permit-campaign.ts). */
export type Campaign = Pick<MysqlLeader, 'leaderName' | 'nodeName' | 'term' | 'remainingMs' | 'currentLeader' | 'acquire' | 'close'> &
  Pick<EventEmitter<LeaderEvents>, 'on' | 'off'>;

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

/** Runs a command on this node while it leads `leader`'s election. */
export class Supervisor {
  readonly #leader: Campaign;
  readonly #options: SupervisorOptions;
  #runner: CommandRunner | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #finish: (code: number) => void = () => {};
  #lastError: string | undefined;

  /** Supervises a command for `leader`, which must not be campaigning yet. */
  constructor(leader: Campaign, options: SupervisorOptions) {
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
    const runner = await CommandRunner.start({
      command: this.#options.command,
      grace: this.#options.grace,
      note: this.#options.note,
      idle: () => this.#finish(0),
      lost: () => this.#finish(1),
    });
    this.#runner = runner;
    leader.on('elected', this.#onElected);
    leader.on('renewed', this.#onRenewed);
    leader.on('revoked', this.#onRevoked);
    leader.on('error', this.#onError);
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
      await runner.close();
    }
  }

  readonly #onElected = ({ term }: { term: number }): void => {
    this.#lastError = undefined;
    this.#start(term);
  };

  readonly #onRenewed = ({ term }: RenewedEvent): void => {
    if (this.#runner?.term === term) this.#runner.extend(this.#leader.remainingMs);
  };

  readonly #onRevoked = ({ term, reason }: RevokedEvent): void => {
    if (this.#runner?.term !== term) return;
    this.#options.note(`leadership of term ${term} ended (${reason}): stopping the command (SIGTERM, then SIGKILL after ${this.#options.grace} ms)`);
    this.#runner.stop();
  };

  /** Database errors go on being retried; each different one is shown once. */
  readonly #onError = (error: Error): void => {
    if (error.message === this.#lastError) return;
    this.#lastError = error.message;
    this.#options.note(error.message);
  };

  /** Starts the command for `term`, unless one still runs (it is started again when that one exits) or the CLI is stopping. */
  #start(term: number): void {
    const runner = this.#runner;
    const remaining = this.#leader.remainingMs;
    if (!runner || runner.running || runner.stopSignal !== undefined || remaining <= 0) return;
    this.#options.note(`elected (term ${term}): starting ${this.#options.command[0]}`);
    // Never rejects: every end of the command is a resolution.
    void runner.run({ name: this.#leader.leaderName, node: this.#leader.nodeName, term }, remaining).then(this.#onEnd);
  }

  /** Starts the command again if this node leads. */
  #resume(): void {
    const term = this.#leader.term;
    if (term !== undefined) this.#start(term);
  }

  readonly #onEnd = (end: CommandEnd): void => {
    if (end.type === 'failed') {
      this.#finish(end.status);
    } else if (this.#runner?.stopSignal !== undefined) {
      this.#options.note(`the command ${end.how}: releasing the lease`);
      this.#finish(end.status);
    } else if (end.stopped) {
      this.#options.note(`the command ${end.how}`);
      this.#resume(); // a new tenure may have begun while it was stopping
    } else if (!this.#options.restart) {
      this.#options.note(`the command ${end.how}: releasing the lease`);
      this.#finish(end.status);
    } else {
      this.#options.note(`the command ${end.how}: starting it again in ${RESTART_DELAY} ms if still leading`);
      this.#restartTimer = setTimeout(() => this.#resume(), RESTART_DELAY);
    }
  };
}
