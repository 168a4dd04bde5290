/** Participant processes for the tests: spawn, read their reports, signal them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after } from 'node:test';

/** A line a participant printed (see test/fixtures/participant.ts), with the time the test received it. */
export interface Report {
  readonly node: string;
  readonly event: string;
  /** The participant's shared monotonic clock, ms. */
  readonly mono: number;
  /** The participant's wall clock, ms since the epoch. */
  readonly wall: number;
  readonly term?: number;
  readonly until?: number;
  readonly reason?: string;
  readonly [key: string]: unknown;
}

/** The shared monotonic clock (CLOCK_MONOTONIC, the same for every process of the machine), ms. */
export const mono = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Options of {@link startParticipant}. */
export interface ParticipantConfig {
  url: string;
  leaderName: string;
  nodeName: string;
  age: number;
  tick: number;
  handoverLock?: boolean;
  /** Skews the process's wall clock (libfaketime, e.g. '+1h'); its monotonic clock is left alone. */
  skew?: string;
}

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill('SIGKILL');
});

/** A running participant. */
export class Participant {
  readonly reports: Report[] = [];
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  readonly #listeners = new Set<() => void>();

  constructor(readonly config: ParticipantConfig) {
    const env: NodeJS.ProcessEnv = { ...process.env, PARTICIPANT: JSON.stringify(config) };
    if (config.skew) Object.assign(env, { LD_PRELOAD: LIBFAKETIME, FAKETIME: config.skew, FAKETIME_DONT_FAKE_MONOTONIC: '1' });
    this.#child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/participant.ts'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    running.add(this.#child);
    this.exited = new Promise((resolve) =>
      this.#child.once('exit', (code) => {
        running.delete(this.#child);
        resolve(code);
      }),
    );
    createInterface({ input: this.#child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      this.reports.push(JSON.parse(line) as Report);
      for (const listener of this.#listeners) listener();
    });
  }

  get name(): string {
    return this.config.nodeName;
  }

  /** Resolves with the first report (past or future) matching `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (report: Report) => boolean, timeoutMs: number, description = 'a report'): Promise<Report> {
    const found = this.reports.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`${this.name}: no ${description} within ${timeoutMs} ms; got ${JSON.stringify(this.reports.map((r) => r.event))}`));
      }, timeoutMs);
      const check = (): void => {
        const report = this.reports.find(predicate);
        if (!report) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve(report);
      };
      this.#listeners.add(check);
    });
  }

  send(command: 'resign' | 'close' | 'check'): void {
    this.#child.stdin?.write(`${command}\n`);
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** Whether it leads, by its own reports (last elected after last revoked). */
  get leading(): boolean {
    const last = this.reports.filter((r) => r.event === 'elected' || r.event === 'revoked').at(-1);
    return last?.event === 'elected';
  }
}

/** Starts participants and waits until each is ready. */
export async function startParticipants(configs: ParticipantConfig[]): Promise<Participant[]> {
  const participants = configs.map((config) => new Participant(config));
  await Promise.all(participants.map((p) => p.waitFor((r) => r.event === 'ready', 20_000, 'ready')));
  return participants;
}

/** A participant's tenures as it believed them: from `elected` to the last instant it would have said it leads. */
export function tenures(participant: Participant): { node: string; term: number; start: number; end: number }[] {
  const result: { node: string; term: number; start: number; end: number }[] = [];
  let open: { term: number; start: number; end: number } | undefined;
  for (const report of participant.reports) {
    if (report.event === 'elected' && report.term !== undefined) open = { term: report.term, start: report.mono, end: report.until ?? report.mono };
    else if (report.event === 'renewed' && open && report.until !== undefined) open.end = report.until;
    else if (report.event === 'revoked' && open) {
      result.push({ node: participant.name, ...open, end: Math.min(open.end, report.mono) });
      open = undefined;
    }
  }
  if (open) result.push({ node: participant.name, ...open, end: Math.min(open.end, mono()) });
  return result;
}

/** Throws if two believed tenures overlap in time, or if terms do not grow from one tenure to the next. */
export function assertOneLeaderAtATime(participants: Participant[]): void {
  const all = participants.flatMap(tenures).sort((a, b) => a.start - b.start);
  let latest: (typeof all)[number] | undefined;
  for (const current of all) {
    if (latest && current.start < latest.end) {
      throw new Error(`two leaders at once: ${JSON.stringify(latest)} and ${JSON.stringify(current)}`);
    }
    if (latest && current.term <= latest.term) throw new Error(`terms do not grow: ${JSON.stringify(latest)} then ${JSON.stringify(current)}`);
    if (!latest || current.end > latest.end) latest = current;
  }
}
