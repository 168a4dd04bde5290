/** What every benchmark scenario receives and returns. */
import { randomBytes } from 'node:crypto';
import type { Summary } from './stats.js';

/** What the runner gives each scenario. */
export interface BenchContext {
  /** The private MariaDB server (`mysql://root@127.0.0.1:PORT/test`), election table created. */
  readonly url: string;
  /** Fewer rounds and shorter windows: a smoke run. */
  readonly quick: boolean;
  /** Lease length (ms) of the timing scenarios. */
  readonly age: number;
  /** Renewal and polling interval (ms) of the timing scenarios. */
  readonly tick: number;
  /**
   * Freezes the private server (SIGSTOP of its `mariadbd`) for `ms`, then
   * lets it run again (SIGCONT); resolves once it runs. Its sessions stay
   * open: statements sent meanwhile wait, and are answered late.
   */
  readonly pauseDatabase: (ms: number) => Promise<void>;
  /** Prints a progress line. */
  readonly log: (line: string) => void;
  /**
   * Registers a synchronous clean-up (killing a child process) that the
   * runner calls if it is interrupted (Ctrl-C) or exits early; returns a
   * function that unregisters it.
   */
  readonly onExit: (cleanup: () => void) => () => void;
}

/** One figure of a scenario: a single value or the summary of a sample set. */
export interface Measure {
  readonly label: string;
  readonly unit: string;
  readonly value: number | Summary;
  /** The target, in words (`p99 ≤ 50 ms`); none for a figure shown for context. */
  readonly target?: string;
  readonly met?: boolean;
}

/** What a scenario reports: its figures, the settings it ran with and notes on how to read them. */
export interface ScenarioResult {
  readonly name: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly measures: readonly Measure[];
  readonly notes: readonly string[];
}

/** A benchmark scenario. */
export type Scenario = (context: BenchContext) => Promise<ScenarioResult>;

/** A fresh election name, so that no scenario or run sees another's row or lock. */
export function electionName(scenario: string): string {
  return `bench-${scenario}-${randomBytes(3).toString('hex')}`;
}

/** Resolves like `promise`, or rejects after `ms` saying what did not happen. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
