/**
 * The CLI's side of the watchdog (watchdog.ts): starts it once, ahead of
 * any election, so that a command starts within milliseconds of one; then
 * sends it what to run, deadlines, stops and signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromWatchdog, StartMessage, ToWatchdog } from './watchdog-protocol.js';

/** The watchdog program next to this file (`.ts` under tsx, `.js` once built). */
const PROGRAM = fileURLToPath(new URL(`./watchdog${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

/** Reactions to the watchdog. */
export interface WatchdogEvents {
  /** A report about the command. */
  readonly message: (message: FromWatchdog) => void;
  /** The watchdog died before `close()`: its command's process group has been killed. */
  readonly lost: (reason: string) => void;
}

/** A running watchdog process. */
export class Watchdog {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  /** The process group of the command that runs, if any. */
  #group: number | undefined;
  #closing = false;

  private constructor(child: ChildProcess, events: WatchdogEvents) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (message: FromWatchdog) => {
      if (message.type === 'started') this.#group = message.pid;
      else if (message.type === 'exited' || message.type === 'failed') this.#group = undefined;
      events.message(message);
    });
    child.once('exit', (code, signal) => {
      if (this.#closing) return;
      this.#killGroup();
      events.lost(`the watchdog process ended unexpectedly (${signal ?? `code ${code}`})`);
    });
  }

  /** Starts the watchdog process and waits until it is ready. */
  static start(events: WatchdogEvents): Promise<Watchdog> {
    // A session of its own: signals to the CLI's process group never reach it.
    const child = spawn(process.execPath, [...process.execArgv, PROGRAM], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], detached: true });
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        reject(new Error(`the watchdog process could not start (${signal ?? `code ${code}`})`));
      child.once('error', reject);
      child.once('exit', onExit);
      child.once('message', () => {
        child.off('error', reject);
        child.off('exit', onExit);
        resolve(new Watchdog(child, events));
      });
    });
  }

  /** Runs a command (one at a time). */
  run(start: Omit<StartMessage, 'type'>): void {
    this.#send({ type: 'start', ...start });
  }

  /** Moves the deadline past which the watchdog stops the command by itself. */
  extend(deadline: number): void {
    this.#send({ type: 'extend', deadline });
  }

  /** Stops the command: SIGTERM, then SIGKILL after the grace period. */
  stop(): void {
    this.#send({ type: 'stop' });
  }

  /** Passes `signal` to the command's process group. */
  signal(signal: NodeJS.Signals): void {
    this.#send({ type: 'signal', signal });
  }

  /** Lets the watchdog exit (it stops a command that still runs) and waits for it. */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#child.connected) this.#child.disconnect();
    await this.#exited;
  }

  #send(message: ToWatchdog): void {
    if (this.#child.connected) this.#child.send(message);
  }

  /** The watchdog is gone: make sure its command is too. */
  #killGroup(): void {
    if (this.#group === undefined) return;
    try {
      process.kill(-this.#group, 'SIGKILL');
    } catch {
      // ESRCH: nothing left in the group.
    }
  }
}
