import { SchemaError } from '../errors.js';
import { DEFAULT_TABLE_NAME, checkTableName } from '../options.js';
import { Driver, rowsOf, type Queryable } from './driver.js';
import { translateError, wrongColumnsError } from './errors.js';
import { COLUMNS, COLUMNS_OF, COLUMNS_OF_QUALIFIED, createTableSql, quoteTable } from './sql.js';

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
  const driver = new Driver(db);
  const signal = options.signal ?? new AbortController().signal;
  try {
    await driver.query(createTableSql(tableName), [], signal);
  } catch (error) {
    throw translateError(error, `creating the election table ${quoteTable(tableName)}`, tableName);
  }
  const columns = await readColumns(driver, tableName, signal);
  if (!COLUMNS.every((column) => columns.includes(column))) throw wrongColumnsError('checking the election table', tableName, columns);
}

/** The column names of `tableName`, in order (empty when the table does not exist). */
export async function readColumns(driver: Driver, tableName: string, signal: AbortSignal): Promise<string[]> {
  const parts = tableName.split('.');
  const [sql, values] = parts.length === 2 ? [COLUMNS_OF_QUALIFIED, parts] : [COLUMNS_OF, parts];
  try {
    return rowsOf(await driver.query(sql, values, signal)).map((row) => String(row['name']));
  } catch (error) {
    throw new SchemaError(`could not read the columns of ${quoteTable(tableName)}: ${String((error as Error).message)}`, { cause: error });
  }
}
