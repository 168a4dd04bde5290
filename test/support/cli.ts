/** The `mysql-leader` command line as a child process, for the tests: run it to the end, or start it and watch it. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** What a finished CLI process did. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A CLI process started in the background. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** Its output so far. */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves when it has exited. */
  readonly exited: Promise<CliResult>;
}

const started = new Set<ChildProcess>();
after(() => {
  for (const child of started) child.kill('SIGKILL');
});

/** Starts `mysql-leader ARGS…` under tsx, with `env` added to this process's environment. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      started.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs `mysql-leader ARGS…` to the end; it is killed (and the test fails) after `timeoutMs`. */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<CliResult> {
  const cli = startCli(args, env);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), timeoutMs);
  const result = await cli.exited;
  clearTimeout(timer);
  if (result.signal === 'SIGKILL') throw new Error(`mysql-leader ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${result.stderr}`);
  return result;
}

/** Polls `probe` every 20 ms until it returns something; fails, naming `what`, after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await delay(20);
  }
}

/** The only line of a failed command's standard error, checked for the form every error takes. */
export function oneLine(result: CliResult): string {
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${result.stderr}`);
  assert.match(lines[0] ?? '', /^mysql-leader: /);
  assert.doesNotMatch(result.stderr, /\n\s+at |Error: /, 'no stack trace');
  return lines[0] ?? '';
}

/** The lines of test/fixtures/leader-command.sh's log, split into words (`start NODE PID TERM NAME NS`, `beat NODE PID NS`, `stop NODE PID SIGNAL NS`, `end NODE PID NS`). */
export function events(log: string): string[][] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' '));
}
