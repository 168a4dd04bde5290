/**
 * The statements of a lease engine (`Leases`): the protocol's statements of
 * sql.ts for many elections of one table at once, one statement per batch.
 * Each is a single autocommit statement that MySQL 5.7/8/9 and MariaDB 10.3+
 * accept alike (row constructors in `IN`, `CASE`, multi-row `INSERT`); the
 * rules of sql.ts hold row by row.
 *
 * A batch is built for its size: `n` elections, `?` placeholders bound in
 * the order each builder names. Every batch lists its names twice: once as
 * `leader_name IN (…)`, which the server reads through the primary key (only
 * those rows are read and locked), and once in the row constructor that
 * carries each row's own condition (its term, or its version).
 *
 * Writes report matched rows only as a total: when it is short of `n`, the
 * caller reads the rows again ({@link BatchStatements.owned}) to learn which
 * were written (see batches.ts, which says why that read is exact).
 */
import { HELD, LEASE_COLUMNS, NEXT, NOT_RELEASED, quoteTable } from './sql.js';

/** `?, ?, …`: `item` `n` times, joined by `separator`. */
function list(n: number, item = '?', separator = ', '): string {
  return n <= 0 ? '' : item + (separator + item).repeat(n - 1);
}

/** The batch statements of one election table, built per batch size. */
export interface BatchStatements {
  /**
   * `[...names]` → `server_id` (the answering server's) on every row, and one
   * row per name that has a lease, with `leader_name` and the columns of
   * `Statements.read`; a single row of NULL lease columns when none has.
   */
  read(n: number): string;
  /**
   * `[ageUs, ...names, nodeName, ...(name, term) pairs]` → matched rows:
   * each lease held by `nodeName` under its term, extended by `age`.
   */
  renew(n: number): string;
  /**
   * `[...(name, nodeName, term, ageUs) tuples]` → rows inserted: each
   * election that had no row gets one, held by `nodeName` under its term.
   */
  insert(n: number): string;
  /**
   * `[nodeName, ...(name, newTerm) pairs, ageUs, ...names, ...(name, term, version) triples]`
   * → matched rows: each row that still has the version its claimant read
   * goes to `nodeName` under its new term.
   */
  takeOver(n: number): string;
  /** `[...names, nodeName, ...(name, term) pairs]` → matched rows: each lease held under its term is released. */
  release(n: number): string;
  /**
   * `[...names, nodeName]` → `leader_name`, `term` and `released` of each of
   * the rows that name `nodeName`: what the rows of a partly matched write
   * say now.
   */
  owned(n: number): string;
}

/** The batch statements for `tableName` (already validated). */
export function batchStatements(tableName: string): BatchStatements {
  const table = quoteTable(tableName);
  return Object.freeze({
    // A derived table without FROM, LEFT JOINed, as Statements.read.
    read: (n: number) =>
      `SELECT answering.server_id, leader_name, ${LEASE_COLUMNS} FROM (SELECT @@server_id AS server_id) AS answering ` +
      `LEFT JOIN ${table} ON leader_name IN (${list(n)})`,
    renew: (n: number) =>
      `UPDATE ${table} SET ${HELD} WHERE leader_name IN (${list(n)}) AND node_name = ? ` +
      `AND (leader_name, term) IN (${list(n, '(?, ?)')}) AND ${NOT_RELEASED}`,
    // INSERT IGNORE: a row that exists is skipped, and not counted (whatever the client flags).
    insert: (n: number) =>
      `INSERT IGNORE INTO ${table} (leader_name, node_name, term, acquired_at, renewed_at, expires_at) VALUES ` +
      list(n, '(?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)'),
    // The new terms are computed by the claimant from the term it read, which the version check requires.
    // The version (a string) is cast: within a row constructor, as with `renewed_at = ?`, it is compared as a DATETIME(6).
    takeOver: (n: number) =>
      `UPDATE ${table} SET node_name = ?, term = CASE leader_name ${list(n, 'WHEN ? THEN ?', ' ')} END, ` +
      `acquired_at = UTC_TIMESTAMP(6), ${HELD} WHERE leader_name IN (${list(n)}) ` +
      `AND (leader_name, term, renewed_at) IN (${list(n, '(?, ?, CAST(? AS DATETIME(6)))')})`,
    release: (n: number) =>
      `UPDATE ${table} SET renewed_at = ${NEXT}, expires_at = renewed_at WHERE leader_name IN (${list(n)}) AND node_name = ? ` +
      `AND (leader_name, term) IN (${list(n, '(?, ?)')}) AND ${NOT_RELEASED}`,
    owned: (n: number) => `SELECT leader_name, term, NOT (${NOT_RELEASED}) AS released FROM ${table} WHERE leader_name IN (${list(n)}) AND node_name = ?`,
  });
}
