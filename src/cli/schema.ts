/** `mysql-leader schema` and `mysql-leader init`: the election table. */
import { createMysqlLeaderFiresSql, createMysqlLeaderFiresTable, createMysqlLeaderSql, createMysqlLeaderTable } from '../index.js';
import { UsageError, stringFlag, write, type Command, type CommandInput, type Values } from './command.js';
import { DATABASE_OPTIONS, DATABASE_USAGE, openDatabase, tableFlag, target } from './database.js';
import { redact } from './url.js';

/** Throws a usage error for any argument that is not a flag. */
function noArguments(input: CommandInput): void {
  if (input.positionals[0] !== undefined) throw new UsageError(`unexpected argument "${input.positionals[0]}"`);
}

/** Reads and checks `--fires-table`, the fires table of scheduled jobs. */
export function firesTableFlag(values: Values): string {
  const tableName = stringFlag(values, 'fires-table') ?? 'leader_election_fires';
  try {
    createMysqlLeaderFiresSql({ tableName });
  } catch {
    throw new UsageError(`--fires-table must be an identifier ([A-Za-z_][A-Za-z0-9_$]*, at most 64 characters) or SCHEMA.TABLE, received "${tableName}"`);
  }
  return tableName;
}

/** The flag of the fires table, in every `--help` that has it. */
export const FIRES_TABLE_USAGE = '  --fires-table NAME  the fires table of scheduled jobs (default: leader_election_fires)';

/** `mysql-leader schema`. */
export const schemaCommand: Command = {
  summary: 'print the DDL of the election table and the fires table, for a migration',
  usage: `mysql-leader schema [--table NAME] [--fires-table NAME]

Prints the CREATE TABLE IF NOT EXISTS statements of the election table and of
the fires table of scheduled jobs (safe to apply twice). Needs no database.

Options:
  --table NAME   the election table, NAME or SCHEMA.NAME (default: leader_election)
${FIRES_TABLE_USAGE}

Exit codes: 0 success, 2 usage error.`,
  options: { table: { type: 'string' }, 'fires-table': { type: 'string' } },
  async run(input) {
    noArguments(input);
    const firesTable = firesTableFlag(input.values);
    write(`${createMysqlLeaderSql({ tableName: tableFlag(input.values) })};\n\n${createMysqlLeaderFiresSql({ tableName: firesTable })};`);
    return 0;
  },
};

/** `mysql-leader init`. */
export const initCommand: Command = {
  summary: 'create the election table and the fires table if they do not exist',
  usage: `mysql-leader init [options]

Creates the election table and the fires table of scheduled jobs if they do
not exist, then checks their columns (an older table of the Go package with
the same name is reported, not changed).
The user needs the CREATE privilege; without it, apply the output of
"mysql-leader schema" in a migration.

Options:
${DATABASE_USAGE}
${FIRES_TABLE_USAGE}

Exit codes: 0 success, 1 error, 2 usage error.`,
  options: { ...DATABASE_OPTIONS, 'fires-table': { type: 'string' } },
  async run(input) {
    noArguments(input);
    const { url, tableName } = target(input.values);
    const firesTable = firesTableFlag(input.values);
    const db = openDatabase(url);
    try {
      await createMysqlLeaderTable(db, { tableName });
      await createMysqlLeaderFiresTable(db, { tableName: firesTable });
      write(`tables ${tableName} and ${firesTable} are ready on ${redact(url)}`);
      return 0;
    } finally {
      await db.end();
    }
  },
};
