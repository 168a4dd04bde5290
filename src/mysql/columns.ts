import { SchemaError } from '../errors.js';
import type { Driver } from './driver.js';
import { COLUMNS_OF, COLUMNS_OF_QUALIFIED, quoteTable } from './sql.js';

/** A column as information_schema describes it. */
export interface Column {
  readonly name: string;
  readonly type: string;
  readonly fsp: number | null;
  readonly length: number | null;
}

/**
 * The columns of `tableName`, in order (none when the table does not exist).
 * A failure is a {@link SchemaError} (the table could not be checked), with
 * the driver's error as `cause`.
 */
export async function describeColumns(driver: Driver, tableName: string, signal: AbortSignal): Promise<Column[]> {
  const parts = tableName.split('.');
  const [sql, values] = parts.length === 2 ? [COLUMNS_OF_QUALIFIED, parts] : [COLUMNS_OF, parts];
  try {
    return (await driver.query(sql, values, signal)).rows.map((row) => ({
      name: String(row['name']).toLowerCase(),
      type: String(row['type']).toLowerCase(),
      fsp: row['fsp'] === null ? null : Number(row['fsp']),
      length: row['length'] === null ? null : Number(row['length']),
    }));
  } catch (error) {
    throw new SchemaError(`could not read the columns of ${quoteTable(tableName)}: ${String((error as Error).message)}`, { cause: error });
  }
}

/** The column names of `tableName`, in order (empty when the table does not exist). */
export async function readColumns(driver: Driver, tableName: string, signal: AbortSignal): Promise<string[]> {
  return (await describeColumns(driver, tableName, signal)).map((column) => column.name);
}
