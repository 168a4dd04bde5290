/**
 * A chaos participant as the harness sees it: a name, its fault proxy, and
 * the successive processes that bear the name (a new one after each kill).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sharedNow } from '../src/cli/shared-clock.js';
import type { FaultProxy } from './proxy.js';
import type { ChaosReport } from './records.js';
import type { Config } from './participant.js';

const PROGRAM = fileURLToPath(new URL('./participant.ts', import.meta.url));
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
/** How long a process may take to close after SIGTERM before it is killed. */
const STOP_GRACE = 5_000;

/** What every process of every participant shares. */
export interface NodeSettings {
  /** The private server's URL; each node replaces the port with its proxy's. */
  readonly url: string;
  readonly election: string;
  readonly age: number;
  readonly tick: number;
  readonly writeEvery: number;
  /** Whether the participants also run the jobs workload. */
  readonly jobs: boolean;
  /** The keys workload: how many keys the participants share (0: none). */
  readonly keys: number;
}

/** One participant: start, kill, pause, restart with a skewed clock. */
export class ChaosNode {
  #child: ChildProcess | undefined;
  #closed: Promise<void> = Promise.resolve();
  #run = 0;
  #nextSeq = 1;
  #leading = false;
  #lockActive = false;
  #retired = false;
  /** Whether the harness ended (or is ending) the current process: any other exit is a crash. */
  #ending = false;

  constructor(
    readonly name: string,
    readonly proxy: FaultProxy,
    readonly settings: NodeSettings,
    readonly onReport: (report: ChaosReport) => void,
  ) {}

  /** Whether its latest reports say it leads. */
  get leading(): boolean {
    return this.#leading;
  }

  /** Whether its latest reports say its hand-over lock is in use (`handoverLockActive`). */
  get lockActive(): boolean {
    return this.#lockActive;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts a new process under this name; `skew` (libfaketime, e.g. `+2h`) shifts its wall clock only. */
  start(skew?: string): void {
    if (this.#retired) return;
    const url = new URL(this.settings.url);
    url.port = String(this.proxy.port);
    const config: Config = { ...this.settings, url: url.href, name: this.name, run: ++this.#run, firstSeq: this.#nextSeq };
    const faketime = skew ? { LD_PRELOAD: LIBFAKETIME, FAKETIME: skew, FAKETIME_DONT_FAKE_MONOTONIC: '1' } : {};
    const child = spawn(process.execPath, [...process.execArgv, PROGRAM], {
      env: { ...process.env, ...faketime, CHAOS_PARTICIPANT: JSON.stringify(config) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#ending = false;
    child.stdin.on('error', () => {}); // a command to a process that just died is lost, as intended.
    const run = this.#run;
    const harnessReport = (fields: { event: string; [key: string]: unknown }): void =>
      this.#receive({ node: this.name, run, mono: sharedNow(), wall: Date.now(), ...fields });
    createInterface({ input: child.stdout }).on('line', (line) => this.#receive(JSON.parse(line) as ChaosReport));
    createInterface({ input: child.stderr }).on('line', (text) => harnessReport({ event: 'stderr', text }));
    // 'close' comes after the last line of stdout and stderr: every report of this run has been read.
    this.#closed = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        harnessReport({ event: 'exited', reason: signal ?? `exit ${code}`, expected: this.#ending });
        resolve();
      }),
    );
  }

  /** SIGKILL; resolves once every report of the process has been read. */
  kill(): Promise<void> {
    this.#ending = true;
    if (this.running) this.#child?.kill('SIGKILL');
    return this.#closed;
  }

  /** SIGTERM (it steps down, releases and exits), then SIGKILL if it takes too long. */
  async stop(): Promise<void> {
    this.#ending = true;
    if (!this.running) return this.#closed;
    this.#child?.kill('SIGTERM');
    const timer = setTimeout(() => this.#child?.kill('SIGKILL'), STOP_GRACE);
    await this.#closed;
    clearTimeout(timer);
  }

  /** SIGSTOP: the process is frozen, its sockets stay open. */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** SIGCONT. */
  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  /** Asks the current process to `resign()` (a line on its standard input). */
  resign(): void {
    if (this.running) this.#child?.stdin?.write('resign\n');
  }

  /** Kills the process for good: no restart after this (the run is ending). */
  retire(): Promise<void> {
    this.#retired = true;
    return this.kill();
  }

  #receive(report: ChaosReport): void {
    if (report.event === 'elected') this.#leading = true;
    else if (report.event === 'revoked' || report.event === 'exited') this.#leading = false;
    if (report.event === 'lock') this.#lockActive = report['active'] === true;
    else if (report.event === 'exited') this.#lockActive = false;
    else if (report.event === 'write' && typeof report['seq'] === 'number') this.#nextSeq = Math.max(this.#nextSeq, report['seq'] + 1);
    this.onReport(report);
  }
}
