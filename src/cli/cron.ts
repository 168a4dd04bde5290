/** `mysql-leader cron`: run a command once per slot of a cron expression, on exactly one node. */
import { spawn } from 'node:child_process';
import { MysqlLeader, OptionRangeError, OptionTypeError, continueOnError, type CatchUp, type FireContext, type FireMode } from '../index.js';
import { UsageError, milliseconds, nodeFlag, stringFlag, type Command } from './command.js';
import { DATABASE_OPTIONS, DATABASE_USAGE, openDatabase, target } from './database.js';
import { FIRES_TABLE_USAGE, firesTableFlag } from './schema.js';
import { scrub } from './url.js';

/** The flag each argument or option of `schedule()` and `MysqlLeader` is known as here. */
const FLAGS: Readonly<Record<string, string>> = {
  cron: '--schedule',
  name: '--name',
  leaderName: '--name',
  'options.timezone': '--tz',
  'options.mode': '--mode',
  'options.catchUp': '--catch-up',
  'options.nodeName': '--node',
  'options.age': '--age',
  'options.tick': '--tick',
};

/** The message of an option error, with each name said as the flag the user typed. */
function inFlags(error: OptionTypeError | OptionRangeError): string {
  let message = error.message;
  for (const option of error.options) {
    const flag = FLAGS[option];
    if (flag !== undefined) message = message.replaceAll(option, flag);
  }
  return message;
}

/** `mysql-leader cron`. */
export const cronCommand: Command = {
  summary: 'run a command once per slot of a cron schedule, on one node only',
  usage: `mysql-leader cron --name NAME --schedule "EXPR" [options] -- COMMAND [ARGS…]

Campaigns in the election NAME and runs COMMAND for each slot of the cron
expression EXPR (5 fields, or 6 with seconds first), on whichever node leads
when the slot comes due by the database clock: once per slot across every
node that runs the same line. Each slot is recorded in the fires table. The
command gets, in its environment, MYSQL_LEADER_NAME, MYSQL_LEADER_NODE,
MYSQL_LEADER_TERM (the fencing token), MYSQL_LEADER_SLOT (the slot, ISO 8601
UTC) and MYSQL_LEADER_ATTEMPT. When the tenure ends while it runs, it gets
SIGTERM. A slot due while the previous run goes on is skipped. A run that
exits with another code than 0 is recorded failed. SIGINT or SIGTERM to the
CLI stops it: the run in progress gets SIGTERM, the lease is released.

Options:
  --name NAME        the election, and the job's name (required)
  --schedule EXPR    the cron expression (required)
  --tz TZ            the IANA time zone EXPR is read in (default: UTC)
  --mode MODE        at-most-once (default) or at-least-once: whether a run cut
                     short by a crash of its node is run again by the next leader
  --catch-up POLICY  slots missed while no node led: none, latest (default) or all
  --node NODE        this node's name, unique in the election (default: HOST-PID-RANDOM)
  --age MS           lease length (default: 60000)
  --tick MS          how often the leader renews and followers look (default: 15000)
${DATABASE_USAGE}
${FIRES_TABLE_USAGE}

Exit codes: 0 once stopped by a signal; 1 error; 2 usage error.`,
  options: {
    name: { type: 'string' },
    schedule: { type: 'string' },
    tz: { type: 'string' },
    mode: { type: 'string' },
    'catch-up': { type: 'string' },
    node: { type: 'string' },
    age: { type: 'string' },
    tick: { type: 'string' },
    'fires-table': { type: 'string' },
    ...DATABASE_OPTIONS,
  },
  takesCommand: true,
  async run({ values, positionals, command }) {
    if (positionals[0] !== undefined) throw new UsageError(`unexpected argument "${positionals[0]}" (the command goes after --)`);
    const name = stringFlag(values, 'name');
    if (name === undefined) throw new UsageError('missing --name NAME, the election and job');
    const expression = stringFlag(values, 'schedule');
    if (expression === undefined) throw new UsageError('missing --schedule "EXPR", the cron expression');
    const [file, ...args] = command;
    if (file === undefined) throw new UsageError('missing the command: mysql-leader cron --name NAME --schedule "EXPR" -- COMMAND [ARGS…]');
    const age = milliseconds(values, 'age');
    const tick = milliseconds(values, 'tick');
    const firesTable = firesTableFlag(values);
    const { url, tableName } = target(values);
    const note = (line: string): void => void process.stderr.write(`mysql-leader: ${scrub(line, url)}\n`);
    const db = openDatabase(url);
    try {
      let leader: MysqlLeader;
      try {
        leader = new MysqlLeader(db, name, {
          nodeName: nodeFlag(values),
          ...(age !== undefined && { age }),
          ...(tick !== undefined && { tick }),
          tableName,
          onError: continueOnError,
        });
        const node = leader.nodeName;
        const job = leader.schedule(name, expression, (fire) => runCommand([file, ...args], { name, node, fire }, note), {
          timezone: stringFlag(values, 'tz') ?? 'UTC',
          mode: (stringFlag(values, 'mode') ?? 'at-most-once') as FireMode,
          catchUp: (stringFlag(values, 'catch-up') ?? 'latest') as CatchUp,
          firesTable,
        });
        let lastError: string | undefined;
        job.on('error', (error) => {
          if (error.message !== lastError) note(`the job: ${(lastError = error.message)}`);
        });
        job.on('missed', ({ count, latest }) => note(`${count} slot(s) missed, the latest ${latest.toISOString()} (catch-up: ${job.options.catchUp})`));
        job.on('fire', ({ slot, outcome }) => outcome !== 'done' && note(`slot ${slot.toISOString()}: ${outcome}`));
      } catch (error) {
        if (!(error instanceof OptionTypeError || error instanceof OptionRangeError)) throw error;
        throw new UsageError(inFlags(error));
      }
      return await campaign(leader, note);
    } finally {
      await db.end();
    }
  },
};

/** Campaigns until SIGINT or SIGTERM; then closes the leader (the run in progress is stopped first). */
async function campaign(leader: MysqlLeader, note: (line: string) => void): Promise<number> {
  await leader.currentLeader().catch(async (error: unknown) => {
    await leader.close();
    throw error; // a wrong URL, password or table fails fast, on one line.
  });
  leader.on('elected', ({ term }) => note(`elected (term ${term}): firing the schedule`));
  leader.on('revoked', ({ term, reason }) => note(`term ${term} ended (${reason})`));
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  note(`campaigning in "${leader.leaderName}" as ${leader.nodeName}`);
  const running = leader.acquire().then(
    () => 0,
    (error: unknown) => {
      note(`the campaign stopped: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    },
  );
  const code = await Promise.race([running, stopped.then(() => 0)]);
  await leader.close();
  await running;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  return code;
}

/** Runs the command for one fire; resolves when it exits 0, rejects otherwise. SIGTERM when the tenure ends. */
function runCommand(
  command: readonly [string, ...string[]],
  who: { name: string; node: string; fire: FireContext },
  note: (line: string) => void,
): Promise<void> {
  const { slot, term, attempt, signal } = who.fire;
  note(`slot ${slot.toISOString()} (term ${term}, attempt ${attempt}): starting ${command[0]}`);
  const env = {
    ...process.env,
    MYSQL_LEADER_NAME: who.name,
    MYSQL_LEADER_NODE: who.node,
    MYSQL_LEADER_TERM: String(term),
    MYSQL_LEADER_SLOT: slot.toISOString(),
    MYSQL_LEADER_ATTEMPT: String(attempt),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { stdio: 'inherit', env });
    const onAbort = (): void => void child.kill('SIGTERM');
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.once('exit', (code, killedBy) => {
      signal.removeEventListener('abort', onAbort);
      if (code === 0) resolve();
      else reject(new Error(`${command[0]} exited with ${killedBy ?? `code ${code}`}`));
    });
  });
}
