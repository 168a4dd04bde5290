/** `mysql-leader run`: run a command on exactly one node at a time, the leader (or on up to N, with `--slots N`). */
import { Leases, MysqlLeader, OptionRangeError, OptionTypeError, continueOnError, readElection } from '../index.js';
import { UsageError, milliseconds, nodeFlag, stringFlag, type Command, type Values } from './command.js';
import { DATABASE_OPTIONS, DATABASE_USAGE, notingOnce, openDatabase, target } from './database.js';
import { inFlags } from './option-flags.js';
import { PermitCampaign } from './permit-campaign.js';
import { Supervisor, type Campaign } from './supervisor.js';
import { scrub } from './url.js';

/** `mysql-leader run`. */
export const runCommand: Command = {
  summary: 'run a command on the leader only; stop it when leadership ends',
  usage: `mysql-leader run --name NAME [options] -- COMMAND [ARGS…]

Campaigns in the election NAME. While this node leads, runs COMMAND with the
standard input and output of the CLI and, in its environment,
MYSQL_LEADER_NAME, MYSQL_LEADER_NODE and MYSQL_LEADER_TERM (the fencing token).
- When leadership ends (the lease could not be renewed in time, or was taken),
  the command gets SIGTERM, then SIGKILL after --grace, and the CLI campaigns
  again: it starts the command anew when it leads again.
- When the command exits by itself, the CLI releases the lease (another node
  takes over at once) and exits with the command's exit code; with --restart
  it starts the command again after 1 s instead, while it still leads.
- SIGINT or SIGTERM to the CLI is passed to the command; once the command has
  exited, the CLI releases the lease and exits with its exit code (a second
  signal kills the command).
- If the CLI dies without warning (SIGKILL, OOM), a watchdog process stops the
  command at once (SIGTERM, then SIGKILL after --grace); it also stops it if
  the CLI is frozen past its deadline. The command runs in a process group of
  its own: everything it starts is stopped with it, also when it exits.
- With --slots N, up to N nodes run COMMAND at once: each while it holds one
  of the N permits of the semaphore NAME (a row each, NAME + U+0000 + 0…N-1,
  in the election table). Each permit is a lease of its own, handled as
  above; MYSQL_LEADER_TERM is that permit's term (two nodes may have the
  same one, on two permits). Every node must pass the same N. A permit
  released on another node is seen within --tick, one of a crashed node
  after about --age.
The CLI reports what it does on standard error, one line per event.

Options:
  --name NAME    the election (required)
  --node NODE    this node's name, unique in the election (default: HOST-PID-RANDOM)
  --age MS       lease length: a crashed leader keeps the others out this long (default: 60000)
  --tick MS      how often the leader renews and followers look (default: 15000)
  --grace MS     time between SIGTERM and SIGKILL (default: age / 20, the time
                 between this node's deadline and the end of its lease)
  --restart      start the command again when it exits by itself
  --slots N      up to N nodes run COMMAND at once, each under a permit (1 to 1000;
                 default: one node, the leader)
${DATABASE_USAGE}

Exit codes: the command's (128 + N when signal N ended it); 0 when stopped by a
signal before leading; 1 error; 2 usage error; 126/127 when the command cannot
be run or is not found.`,
  options: {
    name: { type: 'string' },
    node: { type: 'string' },
    age: { type: 'string' },
    tick: { type: 'string' },
    grace: { type: 'string' },
    restart: { type: 'boolean' },
    slots: { type: 'string' },
    ...DATABASE_OPTIONS,
  },
  takesCommand: true,
  async run({ values, positionals, command }) {
    if (positionals[0] !== undefined) throw new UsageError(`unexpected argument "${positionals[0]}" (the command goes after --)`);
    const name = stringFlag(values, 'name');
    if (name === undefined) throw new UsageError('missing --name NAME, the election');
    const [file, ...args] = command;
    if (file === undefined) throw new UsageError('missing the command: mysql-leader run --name NAME -- COMMAND [ARGS…]');
    const age = milliseconds(values, 'age');
    const tick = milliseconds(values, 'tick');
    const grace = milliseconds(values, 'grace');
    const slots = slotsFlag(values);
    const { url, tableName } = target(values);
    const note = (line: string): void => void process.stderr.write(`mysql-leader: ${scrub(line, url)}\n`);
    const db = openDatabase(url);
    let leases: Leases | undefined;
    try {
      let leader: Campaign;
      let margin: number;
      const options = { nodeName: nodeFlag(values), ...(age !== undefined && { age }), ...(tick !== undefined && { tick }), tableName };
      try {
        if (slots === undefined) {
          const election = new MysqlLeader(db, name, { ...options, onError: continueOnError });
          [leader, margin] = [election, election.options.margin];
        } else {
          leases = new Leases(db, { ...options, onError: notingOnce(note) });
          const semaphore = leases.semaphore(name, slots);
          leader = new PermitCampaign(semaphore, leases.nodeName, () => readElection(db, name, { tableName }));
          margin = leases.options.margin;
        }
      } catch (error) {
        if (!(error instanceof OptionTypeError || error instanceof OptionRangeError)) throw error;
        throw new UsageError(inFlags(error));
      }
      const supervisor = new Supervisor(leader, { command: [file, ...args], grace: grace ?? margin, restart: values['restart'] === true, note });
      return await supervisor.run();
    } finally {
      await leases?.close();
      await db.end();
    }
  },
};

/** `--slots`: a whole number (its range is the semaphore's to check); `undefined` when absent. */
function slotsFlag(values: Values): number | undefined {
  const raw = values['slots'];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw)) throw new UsageError(`--slots must be a whole number from 1 to 1000, received "${String(raw)}"`);
  return Number(raw);
}
