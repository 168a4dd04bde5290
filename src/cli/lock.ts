/** `mysql-leader lock`: run a command once under a lock, so that no two hosts run it at the same time. */
import { LeadershipEndedError, Leases, LockTimeoutError, OptionRangeError, OptionTypeError, readElection, type LockContext } from '../index.js';
import { CommandRunner, exitStatus } from './command-runner.js';
import { UsageError, electionArgument, milliseconds, nodeFlag, type Command, type Values } from './command.js';
import { DATABASE_OPTIONS, DATABASE_USAGE, notingOnce, openDatabase, target } from './database.js';
import { inFlags } from './option-flags.js';
import { scrub } from './url.js';

/** The exit code when the lock was not obtained within `--wait`: EX_TEMPFAIL of sysexits.h, "try again later". */
const LOCK_TIMEOUT = 75;

/** The longest `wait` of `withLock()` (a timer's limit, about 24.8 days); waiting for ever waits in spans of it. */
const LONGEST_WAIT = 2 ** 31 - 1;

/** `--age` and the most `--tick` defaults to: a waiter sees a release elsewhere within a second; a crashed holder keeps the others out 30 s. */
const DEFAULT_AGE = 30_000;
const DEFAULT_TICK = 1000;

/** What {@link runLocked} runs, and how. */
interface LockedRun {
  readonly name: string;
  readonly command: readonly [string, ...string[]];
  /** In ms; `undefined`: for ever. */
  readonly wait: number | undefined;
  readonly grace: number;
  readonly tick: number;
  readonly note: (line: string) => void;
}

/** `mysql-leader lock`. */
export const lockCommand: Command = {
  summary: 'run a command once under a lock: never on two hosts at a time',
  usage: `mysql-leader lock NAME [options] -- COMMAND [ARGS…]

Takes the lock NAME (a row of the election table, as run's elections), runs
COMMAND once under it, with the standard input and output of the CLI and, in
its environment, MYSQL_LEADER_NAME, MYSQL_LEADER_NODE and MYSQL_LEADER_TERM
(the fencing token), then releases the lock and exits with COMMAND's exit
code. Two lock commands on the same NAME, on any hosts, never run their
commands at the same time.
- While another holder has the lock, waits for it: for ever, or at most
  --wait ms (--wait 0 tries once). A release on another host is seen within
  --tick. Not obtained in time: one line on standard error, exit code 75.
- The lock is renewed while COMMAND runs. If it is lost all the same (it could
  not be renewed in time, or was released by force), COMMAND gets SIGTERM,
  then SIGKILL after --grace, and the CLI exits with 1.
- SIGINT or SIGTERM to the CLI is passed to COMMAND; once COMMAND has exited,
  the CLI releases the lock and exits with its exit code (a second signal
  kills it). Before COMMAND has started, the CLI stops waiting and exits with
  128 + the signal's number.
- As for run, a watchdog process stops COMMAND (SIGTERM, then SIGKILL after
  --grace) if the CLI dies without warning or is frozen past its deadline,
  and COMMAND runs in a process group of its own: everything it starts is
  stopped with it, also when it exits.

Options:
  --wait MS      wait at most this long for the lock; 0 tries once (default: for ever)
  --node NODE    this node's name in the lock (default: HOST-PID-RANDOM)
  --age MS       lease length: a crashed holder keeps the others out this long (default: ${DEFAULT_AGE})
  --tick MS      how often the holder renews and waiters look (default: ${DEFAULT_TICK}, or age / 4 if less)
  --grace MS     time between SIGTERM and SIGKILL (default: age / 20, the time
                 between this node's deadline and the end of its lease)
${DATABASE_USAGE}

Exit codes: COMMAND's (128 + N when signal N ended it); ${LOCK_TIMEOUT} when the lock was not
obtained within --wait; 1 error, or the lock was lost while COMMAND ran; 2 usage
error; 126/127 when COMMAND cannot be run or is not found; 128 + N when signal N
stopped the CLI before COMMAND started.`,
  options: {
    wait: { type: 'string' },
    node: { type: 'string' },
    age: { type: 'string' },
    tick: { type: 'string' },
    grace: { type: 'string' },
    ...DATABASE_OPTIONS,
  },
  takesCommand: true,
  async run(input) {
    const name = electionArgument(input, true);
    const [file, ...args] = input.command;
    if (file === undefined) throw new UsageError('missing the command: mysql-leader lock NAME -- COMMAND [ARGS…]');
    const { values } = input;
    const wait = waitFlag(values);
    const age = milliseconds(values, 'age', DEFAULT_AGE);
    const tick = milliseconds(values, 'tick', Math.max(1, Math.min(DEFAULT_TICK, Math.floor(age / 4))));
    const grace = milliseconds(values, 'grace');
    const { url, tableName } = target(values);
    const note = (line: string): void => void process.stderr.write(`mysql-leader: ${scrub(line, url)}\n`);
    const db = openDatabase(url);
    try {
      let leases: Leases;
      try {
        leases = new Leases(db, { nodeName: nodeFlag(values), age, tick, tableName, onError: notingOnce(note) });
      } catch (error) {
        if (!(error instanceof OptionTypeError || error instanceof OptionRangeError)) throw error;
        throw new UsageError(inFlags(error));
      }
      try {
        // Fail fast, on one line, on a wrong URL, password or table.
        await readElection(db, name, { tableName });
        return await runLocked(leases, { name, command: [file, ...args], wait, grace: grace ?? leases.options.margin, tick, note });
      } finally {
        await leases.close();
      }
    } finally {
      await db.end();
    }
  },
};

/** `--wait`: a whole number of ms, 0 included; `undefined` (for ever) when absent. */
function waitFlag(values: Values): number | undefined {
  const raw = values['wait'];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) > LONGEST_WAIT) {
    throw new UsageError(`--wait must be a whole number of milliseconds from 0 to ${LONGEST_WAIT} (leave it out to wait for ever), received "${String(raw)}"`);
  }
  return Number(raw);
}

/** Waits for the lock, runs the command once under it, releases it; resolves to the CLI's exit code. */
async function runLocked(leases: Leases, run: LockedRun): Promise<number> {
  const waiting = new AbortController();
  const runner = await CommandRunner.start({
    command: run.command,
    grace: run.grace,
    note: run.note,
    idle: () => waiting.abort(),
    lost: () => waiting.abort(), // (noted by the runner)
  });
  // From here on SIGINT and SIGTERM are the runner's. Whoever runs a lock that may wait sees what for.
  if (run.wait !== 0) run.note(`asking for the lock "${run.name}" (waiting ${run.wait === undefined ? 'as long as it takes' : `at most ${run.wait} ms`})`);
  try {
    return await lockFor(leases, run.name, run.wait, waiting.signal, (lock) => commandUnder(lock, runner, leases.nodeName, run));
  } catch (error) {
    if (error instanceof LockTimeoutError) {
      run.note(error.message);
      return LOCK_TIMEOUT;
    }
    if (!waiting.signal.aborted || error !== waiting.signal.reason) throw error;
    // Stopped by a signal, or the watchdog died: nothing ran.
    if (runner.stopSignal === undefined) return 1;
    run.note(`${runner.stopSignal}: stopped waiting for the lock "${run.name}"`);
    return exitStatus(null, runner.stopSignal);
  } finally {
    await runner.close();
  }
}

/** `withLock()`, waiting for ever when `wait` is `undefined` (in spans of the longest wait it takes). */
async function lockFor<T>(leases: Leases, name: string, wait: number | undefined, signal: AbortSignal, fn: (lock: LockContext) => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await leases.withLock(name, fn, { wait: wait ?? LONGEST_WAIT, signal });
    } catch (error) {
      if (wait !== undefined || !(error instanceof LockTimeoutError)) throw error;
    }
  }
}

/** Runs the command while `lock` is held, stops it if the lock is lost; resolves to the CLI's exit code. */
async function commandUnder(lock: LockContext, runner: CommandRunner, node: string, run: LockedRun): Promise<number> {
  if (runner.stopSignal !== undefined) return exitStatus(null, runner.stopSignal); // came as the lock was taken: not started.
  if (lock.signal.aborted) {
    run.note(`the lock "${run.name}" (term ${lock.term}) was lost before the command started`);
    return 1;
  }
  let lost = false;
  let timer: NodeJS.Timeout | undefined;
  const onLost = (): void => {
    lost = true;
    clearTimeout(timer);
    const reason: unknown = lock.signal.reason;
    const why = reason instanceof LeadershipEndedError ? ` (${reason.reason})` : '';
    run.note(`the lease of the lock "${run.name}" (term ${lock.term}) ended${why}: stopping the command (SIGTERM, then SIGKILL after ${run.grace} ms)`);
    runner.stop();
  };
  // The watchdog's deadline follows the lease's: sent again each tick (a renewal is due) and, while the lease
  // has less than two ticks left, before half of what is left has passed, so that it never passes while the lease lives.
  const next = (remaining: number): number => Math.max(1, Math.min(run.tick, Math.floor(remaining / 2)));
  const follow = (): void => {
    const remaining = lock.remainingMs;
    runner.extend(remaining);
    timer = setTimeout(follow, next(remaining));
  };
  lock.signal.addEventListener('abort', onLost, { once: true });
  try {
    run.note(`locked "${run.name}" (term ${lock.term}): starting ${run.command[0]}`);
    const remaining = lock.remainingMs;
    const ended = runner.run({ name: run.name, node, term: lock.term }, remaining);
    timer = setTimeout(follow, next(remaining));
    const end = await ended;
    if (end.type === 'failed') return end.status;
    if (lost) {
      run.note(`the command ${end.how}, after the lock was lost`);
      return 1;
    }
    run.note(`the command ${end.how}: releasing the lock`);
    return end.status;
  } finally {
    clearTimeout(timer);
    lock.signal.removeEventListener('abort', onLost);
  }
}
