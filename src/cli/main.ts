#!/usr/bin/env node
/**
 * The `mysql-leader` command line, built on the package's public API.
 * Exit codes: 0 success, 1 error, 2 usage error; `run` and `lock` exit with
 * their command's code, `lock` with 75 when the lock was not obtained in time.
 * Every error is one line on standard error, without a stack trace and
 * without the database password.
 */
import { parseArgs } from 'node:util';
import { UsageError, stringFlag, write, type Command, type CommandInput } from './command.js';
import { explain } from './database.js';
import { cronCommand } from './cron.js';
import { demoCommand } from './demo.js';
import { jobsCommand } from './jobs.js';
import { lockCommand } from './lock.js';
import { releaseCommand } from './release.js';
import { runCommand } from './run.js';
import { initCommand, schemaCommand } from './schema.js';
import { statusCommand } from './status.js';
import { scrub } from './url.js';
import { watchCommand } from './watch.js';

const commands: Record<string, Command> = {
  run: runCommand,
  lock: lockCommand,
  cron: cronCommand,
  jobs: jobsCommand,
  status: statusCommand,
  watch: watchCommand,
  release: releaseCommand,
  schema: schemaCommand,
  init: initCommand,
  demo: demoCommand,
};

const HELP = `mysql-leader: leader election on MySQL or MariaDB

Usage: mysql-leader <command> [options]   (mysql-leader <command> --help for more)

Commands:
${Object.entries(commands)
  .map(([name, command]) => `  ${name.padEnd(10)}${command.summary}`)
  .join('\n')}

The database is --url or $MYSQL_URL: mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE.
Exit codes: 0 success, 1 error, 2 usage error; run and lock: their command's
exit code (lock: 75 when the lock was not obtained within --wait).`;

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    write(HELP);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  let url = process.env['MYSQL_URL'];
  try {
    if (!command) throw new UsageError(`unknown command "${name}" (commands: ${Object.keys(commands).join(', ')})`);
    const input = parse(command, rest);
    url = stringFlag(input.values, 'url') ?? url;
    if (input.values['help']) {
      write(command.usage);
      return 0;
    }
    return await command.run(input);
  } catch (error) {
    const message = scrub(explain(error, url), url).replace(/\s*\n\s*/g, ' ');
    const help = error instanceof UsageError ? ` (see "mysql-leader ${command ? `${name} ` : ''}--help")` : '';
    process.stderr.write(`mysql-leader: ${message}${help}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

function parse(command: Command, args: string[]): CommandInput {
  // For `run`, `lock` and `cron`, what follows `--` is the command to run, never flags of ours.
  const dash = command.takesCommand ? args.indexOf('--') : -1;
  const own = dash === -1 ? args : args.slice(0, dash);
  try {
    const { values, positionals } = parseArgs({
      args: own,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals, command: dash === -1 ? [] : args.slice(dash + 1) };
  } catch (error) {
    // parseArgs explains unknown flags and missing values well; keep its first sentence.
    throw new UsageError((error as Error).message.split('\n')[0]?.split('. To specify a positional')[0] ?? String(error));
  }
}

// Output piped into a command that stops reading (`| head`) ends the CLI quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.exitCode = await main(process.argv.slice(2));
