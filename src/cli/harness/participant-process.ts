/**
 * Runs participant.ts as a child process and follows its reports: for the
 * demo and the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Report } from './tenures.js';

/** The participant program next to this file (`.ts` under tsx, `.js` once built). */
const PROGRAM = fileURLToPath(new URL(`./participant${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

/** What participant.ts reads from its PARTICIPANT environment variable. */
export interface ParticipantConfig {
  readonly url: string;
  readonly leaderName: string;
  readonly nodeName: string;
  readonly age: number;
  readonly tick: number;
  readonly handoverLock?: boolean;
  /** The library's default `onError`, under which an error the library does not judge transient ends the campaign (reported as `failed`); `continueOnError` otherwise. */
  readonly abortOnError?: boolean;
}

/** A participant process: start it (again after a kill), signal it, wait for its reports. */
export class ParticipantProcess {
  /** Every report, from every run of the process. */
  readonly reports: Report[] = [];
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #waiters = new Set<() => void>();

  /**
   * `env` is added to the child's environment; `onReport` sees each report
   * as it arrives; `program` replaces participant.ts by another program that
   * reads PARTICIPANT and reports the same way.
   */
  constructor(
    readonly config: ParticipantConfig,
    readonly env: NodeJS.ProcessEnv = {},
    readonly onReport: (report: Report) => void = () => {},
    readonly program: string = PROGRAM,
  ) {}

  /** Its node name. */
  get name(): string {
    return this.config.nodeName;
  }

  /** Starts the process (under tsx when this runs under tsx). */
  start(): void {
    const child = spawn(process.execPath, [...process.execArgv, this.program], {
      env: { ...process.env, ...this.env, PARTICIPANT: JSON.stringify(this.config) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#child = child;
    // 'close', not 'exit': the last report lines are read before anyone counts them.
    this.#exited = new Promise((resolve) => child.once('close', () => resolve()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const report = JSON.parse(line) as Report;
      this.reports.push(report);
      this.onReport(report);
      for (const waiter of this.#waiters) waiter();
    });
  }

  /**
   * Whether it leads, by the reports of its current run: each run begins with
   * `ready`, and a run killed while leading never reported its `revoked`.
   */
  get leading(): boolean {
    return this.reports.findLast((r) => r.event === 'ready' || r.event === 'elected' || r.event === 'revoked')?.event === 'elected';
  }

  /** Whether its current run has not exited yet. */
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Resolves when the current run of the process has exited. */
  get exited(): Promise<void> {
    return this.#exited;
  }

  /** Sends a signal; resolves when the process has exited (at once if it is not running). */
  kill(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.#child?.kill(signal);
    return signal === 'SIGSTOP' || signal === 'SIGCONT' ? Promise.resolve() : this.#exited;
  }

  /** Sends a command line to its standard input. */
  send(command: string): void {
    this.#child?.stdin?.write(`${command}\n`);
  }

  /** Resolves with the first report, past or future, matching `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (report: Report) => boolean, timeoutMs: number, description = 'a matching report'): Promise<Report> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.reports.find(predicate);
        if (!found) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`${this.name}: no ${description} within ${timeoutMs} ms; saw ${this.reports.map((r) => r.event).join(', ')}`));
      }, timeoutMs).unref(); // a wait nobody needs any more (the loser of a race) must not hold the process.
      this.#waiters.add(check);
      check();
    });
  }
}
