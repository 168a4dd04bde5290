import { SchemaError } from '../errors.js';
import { DEFAULT_TABLE_NAME, checkTableName } from '../options.js';
import { describeColumns, type Column } from './columns.js';
import { Driver, type Queryable } from './driver.js';
import { wrongColumnsError } from './errors.js';
import { StatementRunner } from './runner.js';
import { COLUMNS, createTableSql, quoteTable } from './sql.js';

/** Options of {@link createMysqlLeaderTable} and {@link createMysqlLeaderSql}. */
export interface TableOptions {
  /**
   * The election table: an identifier or `schema.table`.
   * @default 'leader_election'
   */
  tableName?: string;
}

/** Options of {@link createMysqlLeaderTable}. */
export interface CreateTableOptions extends TableOptions {
  /** Aborts the statements (the table may or may not exist afterwards: DDL is not transactional). */
  signal?: AbortSignal;
}

/**
 * The DDL of the election table, for migrations: `CREATE TABLE IF NOT
 * EXISTS`, so it is safe to apply more than once. Same as
 * {@link CREATE_MYSQL_LEADER_SQL} for the default table name.
 */
export function createMysqlLeaderSql(options: TableOptions = {}): string {
  return createTableSql(checkTableName(options.tableName ?? DEFAULT_TABLE_NAME));
}

/** The DDL of the default election table (`leader_election`), for migrations. */
export const CREATE_MYSQL_LEADER_SQL: string = createMysqlLeaderSql();

/**
 * Creates the election table if it does not exist, then checks that its
 * columns are the ones this library needs (an older table of the Go package
 * with the same name is reported, not used). Idempotent and safe to run
 * concurrently. Services rarely should hold the right to create tables:
 * prefer applying {@link CREATE_MYSQL_LEADER_SQL} in a migration.
 */
export async function createMysqlLeaderTable(db: Queryable, options: CreateTableOptions = {}): Promise<void> {
  const tableName = checkTableName(options.tableName ?? DEFAULT_TABLE_NAME);
  const runner = new StatementRunner(new Driver(db), tableName);
  const signal = options.signal ?? new AbortController().signal;
  await runner.run(`creating the election table ${quoteTable(tableName)}`, createTableSql(tableName), [], signal);
  await checkSchema(runner.driver, tableName, signal);
}

/** What each column must be for the protocol to be safe, and how to say it is not. */
const REQUIRED: Readonly<Record<(typeof COLUMNS)[number], (column: Column) => string | undefined>> = {
  leader_name: (c) => text(c),
  node_name: (c) => text(c),
  term: (c) => (c.type === 'bigint' ? undefined : `term is ${c.type}, not BIGINT`),
  acquired_at: (c) => datetime(c),
  renewed_at: (c) => datetime(c),
  // Whole seconds would end the lease in the database before the leader's
  // deadline; TIMESTAMP would depend on each session's time_zone.
  expires_at: (c) => datetime(c),
};
const text = (c: Column): string | undefined =>
  (c.type === 'varchar' || c.type === 'char') && (c.length ?? 0) >= 255 ? undefined : `${c.name} is ${c.type}(${c.length}), not VARCHAR(255)`;
const datetime = (c: Column): string | undefined =>
  c.type === 'datetime' && c.fsp === 6 ? undefined : `${c.name} is ${c.type}(${c.fsp ?? ''}), not DATETIME(6)`;

/**
 * Throws a {@link SchemaError} unless `tableName` has every column of the
 * protocol with a safe type (DATETIME(6) times, VARCHAR(255) names, BIGINT
 * term): a table made by hand or by an ORM could otherwise store lease ends
 * rounded to the second, or shifted by a session's time zone.
 */
export async function checkSchema(driver: Driver, tableName: string, signal: AbortSignal): Promise<void> {
  const columns = await describeColumns(driver, tableName, signal);
  const names = columns.map((column) => column.name);
  if (!COLUMNS.every((name) => names.includes(name))) throw wrongColumnsError('checking the election table', tableName, names);
  const problems = COLUMNS.map((name) => REQUIRED[name](columns.find((column) => column.name === name) as Column)).filter((problem) => problem !== undefined);
  if (problems.length > 0) {
    throw new SchemaError(
      `the election table ${quoteTable(tableName)} has unsafe column types: ${problems.join('; ')}. Recreate it from CREATE_MYSQL_LEADER_SQL.`,
    );
  }
}
