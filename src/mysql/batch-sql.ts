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
 *
 * The two statements of every tick, the read and the renewal, also come
 * with their names (and terms) in the text when every name is plain (see
 * {@link isPlainName}): a driver then formats no value, rather than 3,000
 * (the formatting of a batch of 1,000 was 40 % of what a renewal allocated,
 * measured).
 */
import { HELD, LEASE_COLUMNS, NEXT, NOT_RELEASED, heldFor, quoteTable } from './sql.js';

/** `?, ?, …`: `item` `n` times, joined by `separator`. */
function list(n: number, item = '?', separator = ', '): string {
  return n <= 0 ? '' : item + (separator + item).repeat(n - 1);
}

/**
 * Whether `name` can go into a statement as it is, between single quotes:
 * none of the characters a driver escapes (quotes, backslash, NUL, `\b`,
 * tab, newline, carriage return, Ctrl-Z) and no `?`. Its literal is then the
 * very text a driver's placeholder would give, with or without
 * `NO_BACKSLASH_ESCAPES` or `ANSI_QUOTES`, so that both paths name the same
 * row, and no driver's placeholder parser can take anything in it for a
 * placeholder. Election names usually are (`shard-17`, `tenant:acme`); the
 * engine's own rows are not (a semaphore's permits, a share's keys and the
 * candidates hold U+0000), and a batch with any such name goes through
 * placeholders. (As with placeholders, a connection character set whose
 * encoding of some character holds the byte of a backslash, `sjis` or
 * `cp932` for `¥`, is not safe for names that hold it.)
 */
function isPlainName(name: string): boolean {
  return !UNPLAIN.test(name);
}

// eslint-disable-next-line no-control-regex -- Ctrl-Z (\x1a) is one of the characters drivers escape.
const UNPLAIN = /['"\\?\0\b\t\n\r\x1a]/;

/** A lease to renew, as the renewal batch names it. */
interface RenewItem {
  readonly name: string;
  readonly term: number;
}

/** The batch statements of one election table, built per batch size. */
export interface BatchStatements {
  /**
   * `[...names]` → `server_id` (the answering server's) on every row, and one
   * row per name that has a lease, with `leader_name` and the columns of
   * `Statements.read`; a single row of NULL lease columns when none has.
   */
  read(n: number): string;
  /** `[]` → as {@link read}, with `names` in the text; `undefined` unless every name is plain. */
  readInline(names: readonly string[]): string | undefined;
  /**
   * `[ageUs, nodeName, ...names, ...(name, term) pairs]` → matched rows:
   * each lease held by `nodeName` under its term, extended by `age`.
   */
  renew(n: number): string;
  /** `[]` → as {@link renew}, with every value in the text; `undefined` unless `nodeName` and every name are plain. */
  renewInline(nodeName: string, ageUs: number, items: readonly RenewItem[]): string | undefined;
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
  // A derived table without FROM, LEFT JOINed, as Statements.read.
  const readHead = `SELECT answering.server_id, leader_name, ${LEASE_COLUMNS} FROM (SELECT @@server_id AS server_id) AS answering LEFT JOIN ${table} ON leader_name IN (`;
  const renewHead = (held: string, nodeName: string): string => `UPDATE ${table} SET ${held} WHERE node_name = ${nodeName} AND leader_name IN (`;
  const renewTail = `) AND ${NOT_RELEASED}`;
  return Object.freeze({
    read: (n: number) => `${readHead}${list(n)})`,
    readInline: (names: readonly string[]) => {
      // Pieces of one array of the statement's size, joined once: one string for a batch, not one per name.
      const n = names.length;
      if (n === 0) return undefined;
      const parts = new Array<string>(2 * n + 2);
      parts[0] = readHead;
      for (let k = 0; k < n; k++) {
        const name = names[k] as string;
        if (!isPlainName(name)) return undefined;
        parts[1 + 2 * k] = k === 0 ? "'" : "', '";
        parts[2 + 2 * k] = name;
      }
      parts[2 * n + 1] = "')";
      return parts.join('');
    },
    // The same order as the statement with its values in the text (both from renewHead): age, node_name, names, pairs.
    renew: (n: number) => `${renewHead(HELD, '?')}${list(n)}) AND (leader_name, term) IN (${list(n, '(?, ?)')}${renewTail}`,
    renewInline: (nodeName: string, ageUs: number, items: readonly RenewItem[]) => {
      // `'a', 'b'` then `('a', 1), ('b', 2)`, written in one pass into one array joined once.
      const n = items.length;
      if (n === 0 || !isPlainName(nodeName)) return undefined;
      const parts = new Array<string | number>(6 * n + 3);
      parts[0] = renewHead(heldFor(String(ageUs)), `'${nodeName}'`);
      const pairs = 2 * n + 2;
      for (let k = 0; k < n; k++) {
        const { name, term } = items[k] as RenewItem;
        if (!isPlainName(name) || !Number.isSafeInteger(term)) return undefined;
        parts[1 + 2 * k] = k === 0 ? "'" : "', '";
        parts[2 + 2 * k] = name;
        parts[pairs + 4 * k] = k === 0 ? "('" : "), ('";
        parts[pairs + 1 + 4 * k] = name;
        parts[pairs + 2 + 4 * k] = "', ";
        parts[pairs + 3 + 4 * k] = term;
      }
      parts[2 * n + 1] = "') AND (leader_name, term) IN (";
      parts[6 * n + 2] = `)${renewTail}`;
      return parts.join('');
    },
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
