#!/usr/bin/env node
/**
 * The `mysql-leader` command line, built on the package's public API.
 * Exit codes: 0 success, 1 error, 2 usage error.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { runDemo } from './demo.js';
import { scrub } from './url.js';

/** A mistake in the command line: printed with a pointer to `--help`, exit code 2. */
class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: Options;
  run(values: Values, positionals: string[]): Promise<number>;
}

const write = (line: string): void => void process.stdout.write(`${line}\n`);

/** A whole number of milliseconds from a flag, or `fallback` when the flag is absent. */
function milliseconds(values: Values, flag: string, fallback: number): number {
  const raw = values[flag];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || value < 1) throw new UsageError(`--${flag} must be a positive whole number of milliseconds, received "${String(raw)}"`);
  return value;
}

const commands: Record<string, Command> = {
  demo: {
    summary: 'several processes elect a leader; watch a crash and a graceful hand-over',
    usage: `mysql-leader demo [--url URL] [--participants N] [--age MS] [--tick MS]

Starts N participant processes (default 3) in one election on the database at
--url (default: $MYSQL_URL, else mysql://root@127.0.0.1:3306/test; when nothing
answers there and mariadbd is installed, a private throwaway MariaDB). Shows who
leads as it changes, kills the leader with SIGKILL, stops the next one with
SIGTERM, and ends with a checked summary. Creates the table leader_election if
it is missing. Defaults: --age 3000, --tick 1000.`,
    options: { url: { type: 'string' }, participants: { type: 'string' }, age: { type: 'string' }, tick: { type: 'string' } },
    async run(values) {
      const participants = Number(values['participants'] ?? 3);
      if (!Number.isInteger(participants) || participants < 2 || participants > 9) {
        throw new UsageError(`--participants must be a whole number from 2 to 9, received "${String(values['participants'])}"`);
      }
      const age = milliseconds(values, 'age', 3000);
      const tick = milliseconds(values, 'tick', 1000);
      if (tick * 2 > age) throw new UsageError(`--tick (${tick}) must be at most half of --age (${age})`);
      const url = values['url'];
      return runDemo({ url: typeof url === 'string' ? url : undefined, participants, age, tick, write });
    },
  },
};

const HELP = `mysql-leader: leader election on MySQL or MariaDB

Usage: mysql-leader <command> [options]   (mysql-leader <command> --help for more)

Commands:
${Object.entries(commands)
  .map(([name, command]) => `  ${name.padEnd(10)}${command.summary}`)
  .join('\n')}

Exit codes: 0 success, 1 error, 2 usage error.`;

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    write(HELP);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError(`unknown command "${name}"`);
    const { values, positionals } = parse(command, rest);
    if (values['help']) {
      write(command.usage);
      return 0;
    }
    return await command.run(values, positionals);
  } catch (error) {
    const url = process.env['MYSQL_URL'];
    const message = scrub(error instanceof Error ? error.message : String(error), url);
    process.stderr.write(`mysql-leader: ${message}\n`);
    if (error instanceof UsageError) {
      process.stderr.write(`Run "mysql-leader ${command ? `${name} ` : ''}--help" for usage.\n`);
      return 2;
    }
    return 1;
  }
}

function parse(command: Command, args: string[]): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values, positionals };
  } catch (error) {
    // parseArgs explains unknown flags and missing values well; keep its sentence.
    throw new UsageError((error as Error).message.split('\n')[0] ?? String(error));
  }
}

// Output piped into a command that stops reading (`| head`) ends the CLI quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.exitCode = await main(process.argv.slice(2));
