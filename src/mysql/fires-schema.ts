import { SchemaError } from '../errors.js';
import { checkTableName } from '../options.js';
import { describeColumns } from './columns.js';
import { Driver, type Queryable } from './driver.js';
import { StatementRunner } from './runner.js';
import { DEFAULT_FIRES_TABLE, FIRE_COLUMNS, createFiresTableSql } from './fires-sql.js';
import { quoteTable } from './sql.js';

/** Options of {@link createMysqlLeaderFiresTable} and {@link createMysqlLeaderFiresSql}. */
export interface FiresTableOptions {
  /**
   * The fires table of scheduled jobs: an identifier or `schema.table`.
   * @default 'leader_election_fires'
   */
  tableName?: string;
  /** Aborts the statements (for {@link createMysqlLeaderFiresTable}; DDL is not transactional). */
  signal?: AbortSignal;
}

/**
 * The DDL of the fires table of scheduled jobs (`schedule()`), for
 * migrations: `CREATE TABLE IF NOT EXISTS`, safe to apply more than once.
 * Same as {@link CREATE_MYSQL_LEADER_FIRES_SQL} for the default name.
 */
export function createMysqlLeaderFiresSql(options: Pick<FiresTableOptions, 'tableName'> = {}): string {
  return createFiresTableSql(checkTableName(options.tableName ?? DEFAULT_FIRES_TABLE));
}

/** The DDL of the default fires table (`leader_election_fires`), for migrations. */
export const CREATE_MYSQL_LEADER_FIRES_SQL: string = createMysqlLeaderFiresSql();

/**
 * Creates the fires table of scheduled jobs if it does not exist, then
 * checks that it has the columns this library needs. Idempotent and safe to
 * run concurrently; prefer {@link CREATE_MYSQL_LEADER_FIRES_SQL} in a migration.
 */
export async function createMysqlLeaderFiresTable(db: Queryable, options: FiresTableOptions = {}): Promise<void> {
  const tableName = checkTableName(options.tableName ?? DEFAULT_FIRES_TABLE);
  const runner = new StatementRunner(new Driver(db), tableName);
  const signal = options.signal ?? new AbortController().signal;
  await runner.run(`creating the fires table ${quoteTable(tableName)}`, createFiresTableSql(tableName), [], signal);
  await checkFiresSchema(runner.driver, tableName, signal);
}

/**
 * Throws a {@link SchemaError} unless `tableName` has every column of a
 * fire, its slot a DATETIME(6) (slots rounded or shifted by a session's
 * time zone would let a slot be claimed twice).
 */
export async function checkFiresSchema(driver: Driver, tableName: string, signal: AbortSignal): Promise<void> {
  const columns = await describeColumns(driver, tableName, signal);
  const names = columns.map((column) => column.name);
  if (names.length === 0) {
    throw new SchemaError(
      `the fires table ${quoteTable(tableName)} does not exist: create it with createMysqlLeaderFiresTable() or CREATE_MYSQL_LEADER_FIRES_SQL`,
    );
  }
  const missing = FIRE_COLUMNS.filter((name) => !names.includes(name));
  if (missing.length > 0) {
    throw new SchemaError(`the fires table ${quoteTable(tableName)} lacks the columns ${missing.join(', ')}. Recreate it from CREATE_MYSQL_LEADER_FIRES_SQL.`);
  }
  const slot = columns.find((column) => column.name === 'slot');
  if (slot?.type !== 'datetime' || slot.fsp !== 6) {
    throw new SchemaError(
      `the fires table ${quoteTable(tableName)} has slot ${slot?.type}(${slot?.fsp ?? ''}), not DATETIME(6). Recreate it from CREATE_MYSQL_LEADER_FIRES_SQL.`,
    );
  }
}
