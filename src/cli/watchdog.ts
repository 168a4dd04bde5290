/**
 * The watchdog of `mysql-leader run`, a process of its own between the CLI
 * and the command, so that the command never outlives the CLI's leadership:
 *
 * - it starts the command in a new process group (a session of its own), so
 *   that a stop reaches everything the command started;
 * - it stops the command (SIGTERM, then SIGKILL after the grace period) when
 *   the CLI asks, when the deadline the CLI last sent passes without being
 *   extended (a CLI that is stopped or stuck), or when the IPC channel to
 *   the CLI closes (the CLI died, even by SIGKILL), and then exits;
 * - it kills what the command left in its group once the command exits.
 *
 * It runs in a session of its own too, so that a signal to the CLI's
 * process group (a terminal's Ctrl-C, `kill -- -PGID`) never reaches it:
 * such signals reach the command through the CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { sharedNow } from './shared-clock.js';
import type { FromWatchdog, StartMessage, ToWatchdog } from './watchdog-protocol.js';

/** The command's current process, its timers and how far its stop has gone. */
interface CommandProcess {
  readonly child: ChildProcess;
  readonly grace: number;
  /** A stop was started (by the CLI, the deadline, or the CLI's death). */
  stopping: boolean;
  /** Its end has been reported. */
  ended: boolean;
  deadline: NodeJS.Timeout | undefined;
  kill: NodeJS.Timeout | undefined;
}

let current: CommandProcess | undefined;
/** The CLI is gone: exit as soon as no command runs. */
let orphaned = false;

function send(message: FromWatchdog): void {
  if (process.connected) process.send?.(message);
}

/** Signals the command's whole process group (its id is the command's pid); a group already gone is fine. */
function signalGroup(run: CommandProcess, signal: NodeJS.Signals): void {
  if (run.child.pid === undefined) return;
  try {
    process.kill(-run.child.pid, signal);
  } catch {
    // ESRCH: nothing left in the group.
  }
}

function armDeadline(run: CommandProcess, deadline: number): void {
  clearTimeout(run.deadline);
  run.deadline = setTimeout(() => stop(run), Math.max(0, deadline - sharedNow()));
}

function stop(run: CommandProcess): void {
  if (run.stopping || run.ended) return;
  run.stopping = true;
  clearTimeout(run.deadline);
  signalGroup(run, 'SIGTERM');
  run.kill = setTimeout(() => signalGroup(run, 'SIGKILL'), run.grace);
}

function end(run: CommandProcess, message: FromWatchdog): void {
  if (run.ended) return;
  run.ended = true;
  clearTimeout(run.deadline);
  clearTimeout(run.kill);
  // What the command started and left behind must not run on unheld.
  signalGroup(run, 'SIGKILL');
  if (current === run) current = undefined;
  send(message);
  if (orphaned) process.exit(0);
}

function start(message: StartMessage): void {
  if (current) return;
  const child = spawn(message.file, [...message.args], { stdio: 'inherit', env: message.env, detached: true });
  const run: CommandProcess = { child, grace: message.grace, stopping: false, ended: false, deadline: undefined, kill: undefined };
  current = run;
  armDeadline(run, message.deadline);
  child.once('spawn', () => send({ type: 'started', pid: child.pid as number }));
  child.once('error', (error: NodeJS.ErrnoException) => end(run, { type: 'failed', message: error.message, errno: error.code }));
  child.once('exit', (code, signal) => end(run, { type: 'exited', code, signal, stopped: run.stopping }));
}

process.on('message', (message: ToWatchdog) => {
  switch (message.type) {
    case 'start':
      start(message);
      break;
    case 'extend':
      if (current && !current.stopping) armDeadline(current, message.deadline);
      break;
    case 'stop':
      if (current) stop(current);
      break;
    case 'signal':
      if (current) signalGroup(current, message.signal);
      break;
    default:
      message satisfies never;
  }
});

process.on('disconnect', () => {
  orphaned = true;
  if (current) stop(current);
  else process.exit(0);
});

send({ type: 'ready' });
