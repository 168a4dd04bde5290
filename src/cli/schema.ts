/** `mysql-leader schema` and `mysql-leader init`: the election table. */
import { createMysqlLeaderSql, createMysqlLeaderTable } from '../index.js';
import { UsageError, write, type Command, type CommandInput } from './command.js';
import { DATABASE_OPTIONS, DATABASE_USAGE, openDatabase, tableFlag, target } from './database.js';
import { redact } from './url.js';

/** Throws a usage error for any argument that is not a flag. */
function noArguments(input: CommandInput): void {
  if (input.positionals[0] !== undefined) throw new UsageError(`unexpected argument "${input.positionals[0]}"`);
}

/** `mysql-leader schema`. */
export const schemaCommand: Command = {
  summary: 'print the DDL of the election table, for a migration',
  usage: `mysql-leader schema [--table NAME]

Prints the CREATE TABLE IF NOT EXISTS statement of the election table (safe to
apply twice). Needs no database.

Options:
  --table NAME   the election table, NAME or SCHEMA.NAME (default: leader_election)

Exit codes: 0 success, 2 usage error.`,
  options: { table: { type: 'string' } },
  async run(input) {
    noArguments(input);
    write(`${createMysqlLeaderSql({ tableName: tableFlag(input.values) })};`);
    return 0;
  },
};

/** `mysql-leader init`. */
export const initCommand: Command = {
  summary: 'create the election table if it does not exist',
  usage: `mysql-leader init [options]

Creates the election table if it does not exist, then checks its columns (an
older table of the Go package with the same name is reported, not changed).
The user needs the CREATE privilege; without it, apply the output of
"mysql-leader schema" in a migration.

Options:
${DATABASE_USAGE}

Exit codes: 0 success, 1 error, 2 usage error.`,
  options: { ...DATABASE_OPTIONS },
  async run(input) {
    noArguments(input);
    const { url, tableName } = target(input.values);
    const db = openDatabase(url);
    try {
      await createMysqlLeaderTable(db, { tableName });
      write(`table ${tableName} is ready on ${redact(url)}`);
      return 0;
    } finally {
      await db.end();
    }
  },
};
