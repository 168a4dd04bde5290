import type { Observation, ObservedLease } from '../store.js';
import { batchStatements, type BatchStatements } from './batch-sql.js';
import { learnCoordinator, readFor, type Coordinator } from './cluster.js';
import { abortable, toNumber, type Driver, type Row } from './driver.js';
import { ER, errnoOf } from './errors.js';
import { StatementRunner } from './runner.js';
import { checkSchema } from './schema.js';
import { statements, type Statements } from './sql.js';
import { toObservedLease } from './store.js';

/** A lease to renew or release: an election and the term this node holds it under. */
export interface HeldItem {
  readonly name: string;
  readonly term: number;
}

/** A claim of an election, as `LeaseStore.claim` takes it. */
export interface ClaimItem {
  readonly name: string;
  /** The row as the claimant read it, or `undefined` when it had none. */
  readonly seen: ObservedLease | undefined;
  readonly minTerm: number;
}

/**
 * The statements of a lease engine for one table and one node: each batch
 * in one statement, each answer per election, exactly.
 *
 * **Which rows a batch wrote.** A write of `n` rows that matched `n` wrote
 * every one of them. One that matched fewer is followed by a read of the
 * batch's rows that name this node ({@link BatchStatements.owned}), and an
 * election counts as written only when that read shows the row written by
 * it: held under the term renewed (renew), or under the new term (claim).
 * That read cannot credit a write that did not happen, because no other
 * statement can have put the row in that state:
 * - renew: a lease held under a term stays held under it until it is
 *   released or taken, never held again under that term, and the batch's
 *   `UPDATE` matched every row held under its term at the time it ran; a
 *   row held at the read was held then;
 * - claim: only this node writes rows in its name, and its engine sends a
 *   claim of an election whose earlier claim is in doubt apart, by itself
 *   (see `BatchedStore`), so a row in its name under the new term was
 *   written by this batch. (Two processes must not share a `nodeName`.)
 * The read may miss a write (the row was taken or released between the two
 * statements): that election then counts as lost, which it is by then.
 */
export class MysqlBatches {
  readonly #runner: StatementRunner;
  readonly #sql: BatchStatements;
  readonly #one: Statements;
  readonly #ageUs: number;
  /** What the handle reaches (see cluster.ts), once learnt. */
  #coordinator: Coordinator | undefined;
  /** The table's check, before the first claim (once per engine). */
  #checked: Promise<void> | undefined;

  /** The statements for `tableName` (validated) on `driver`, with leases `ageMs` long. */
  constructor(driver: Driver, tableName: string, ageMs: number) {
    this.#runner = new StatementRunner(driver, tableName);
    this.#sql = batchStatements(tableName);
    this.#one = statements(tableName);
    this.#ageUs = ageMs * 1000;
  }

  /** Reads the rows of `names` in one statement: an observation for each. */
  async read(names: readonly string[], signal: AbortSignal): Promise<Observation[]> {
    const ask = (sql: string) => this.#runner.run('asking whether the server is a Galera node', sql, [], signal);
    const coordinator = (this.#coordinator ??= await abortable(learnCoordinator(this.#runner.driver.db, ask), signal));
    const inline = this.#sql.readInline(names);
    const [sql, values] = inline === undefined ? [this.#sql.read(names.length), [...names]] : [inline, []];
    const { rows } = await this.#runner.run('reading the election rows', readFor(coordinator, sql), values, signal);
    const found = new Map<string, Row>();
    for (const row of rows) if (typeof row['leader_name'] === 'string') found.set(row['leader_name'], row);
    // On Galera, the answering node is no coordinator of its own.
    const first: Row = rows[0] ?? {}; // the LEFT JOIN always gives a row
    const server = coordinator.galera ? '' : String(first['server_id']);
    return names.map((name) => {
      const row = found.get(name);
      return { lease: row && toObservedLease(row), coordinator: server };
    });
  }

  /** Renews the leases of `items` held by `nodeName`, in one statement: `true` for each one renewed, or `true` alone when all were. */
  async renew(nodeName: string, items: readonly HeldItem[], signal: AbortSignal): Promise<boolean[] | true> {
    const inline = this.#sql.renewInline(nodeName, this.#ageUs, items);
    const sql = inline ?? this.#sql.renew(items.length);
    const values = inline === undefined ? this.#renewValues(nodeName, items) : [];
    let matched: number;
    try {
      matched = (await this.#runner.run('renewing the leases', sql, values, signal)).affectedRows;
    } catch (error) {
      // A deadlock rolled the statement back (another node's claim locked a
      // row of the batch meanwhile): nothing was written, send it once more.
      if (errnoOf(error) !== ER.LOCK_DEADLOCK) throw error;
      matched = (await this.#runner.run('renewing the leases', sql, values, signal)).affectedRows;
    }
    if (matched === items.length) return true;
    const now = await this.#owned(nodeName, items, signal);
    return items.map((item) => {
      const row = now.get(item.name);
      return row !== undefined && row.term === item.term && !row.released;
    });
  }

  /** The values of a renewal batch that goes through placeholders (see `BatchStatements.renew`). */
  #renewValues(nodeName: string, items: readonly HeldItem[]): unknown[] {
    // Filled in place: a batch of 1,000 leases makes no array per lease.
    const n = items.length;
    const values: unknown[] = new Array(2 + 3 * n);
    values[0] = this.#ageUs;
    values[1] = nodeName;
    for (let i = 0; i < n; i++) {
      const item = items[i] as HeldItem;
      values[2 + i] = item.name;
      values[n + 2 + 2 * i] = item.name;
      values[n + 3 + 2 * i] = item.term;
    }
    return values;
  }

  /** Renews one lease by itself (one held by a fenced transaction of its own: see `BatchedStore`). */
  async renewOne(nodeName: string, item: HeldItem, signal: AbortSignal): Promise<boolean> {
    const values = [this.#ageUs, item.name, nodeName, item.term];
    return (await this.#runner.run('renewing the lease', this.#one.renew, values, signal)).affectedRows === 1;
  }

  /**
   * Claims the elections of `items` for `nodeName`, in one statement for
   * those without a row and one for the others: for each, its new term, or
   * `undefined` when the row was created or written meanwhile.
   */
  async claim(nodeName: string, items: readonly ClaimItem[], signal: AbortSignal): Promise<(number | undefined)[]> {
    await this.#checkSchema(signal);
    const terms = new Map<string, number>();
    const inserts = items.filter((item) => item.seen === undefined);
    const takeOvers = items.filter((item) => item.seen !== undefined);
    for (const item of inserts) terms.set(item.name, Math.max(1, item.minTerm));
    for (const item of takeOvers) terms.set(item.name, Math.max((item.seen as ObservedLease).term + 1, item.minTerm));
    const won = new Set<string>();
    if (inserts.length > 0) {
      const values = inserts.flatMap((item) => [item.name, nodeName, terms.get(item.name), this.#ageUs]);
      await this.#claimPart(nodeName, inserts, terms, won, this.#sql.insert(inserts.length), values, signal);
    }
    if (takeOvers.length > 0) {
      const values = [
        nodeName,
        ...takeOvers.flatMap((item) => [item.name, terms.get(item.name)]),
        this.#ageUs,
        ...takeOvers.map((item) => item.name),
        ...takeOvers.flatMap((item) => [item.name, (item.seen as ObservedLease).term, (item.seen as ObservedLease).version]),
      ];
      await this.#claimPart(nodeName, takeOvers, terms, won, this.#sql.takeOver(takeOvers.length), values, signal);
    }
    return items.map((item) => (won.has(item.name) ? terms.get(item.name) : undefined));
  }

  /** Claims one election by itself, as `MysqlStore.claim` does (a claim after one in doubt: see `BatchedStore`). */
  async claimOne(nodeName: string, item: ClaimItem, signal: AbortSignal): Promise<number | undefined> {
    await this.#checkSchema(signal);
    const { name, seen, minTerm } = item;
    try {
      if (!seen) {
        const term = Math.max(1, minTerm);
        const result = await this.#runner.run('claiming the lease', this.#one.insert, [name, nodeName, term, this.#ageUs], signal);
        return result.affectedRows === 1 ? term : undefined;
      }
      const values = [nodeName, minTerm, this.#ageUs, name, seen.term, seen.version];
      const result = await this.#runner.run('claiming the lease', this.#one.takeOver, values, signal);
      return result.affectedRows === 1 ? result.insertId : undefined;
    } catch (error) {
      if (errnoOf(error) === ER.LOCK_DEADLOCK) return undefined; // rolled back: a lost race.
      throw error;
    }
  }

  /** Releases the leases of `items` held by `nodeName`, in one statement; `true` for each one released now (by this batch or before). */
  async release(nodeName: string, items: readonly HeldItem[], signal: AbortSignal): Promise<boolean[]> {
    const values = [...items.map((item) => item.name), nodeName, ...items.flatMap((item) => [item.name, item.term])];
    const matched = (await this.#runner.run('releasing the leases', this.#sql.release(items.length), values, signal)).affectedRows;
    if (matched === items.length) return items.map(() => true);
    const now = await this.#owned(nodeName, items, signal);
    return items.map((item) => {
      const row = now.get(item.name);
      return row !== undefined && row.term === item.term && row.released;
    });
  }

  /** One claim statement for `items`: adds to `won` the elections it gave their new term. */
  async #claimPart(
    nodeName: string,
    items: readonly ClaimItem[],
    terms: ReadonlyMap<string, number>,
    won: Set<string>,
    sql: string,
    values: unknown[],
    signal: AbortSignal,
  ): Promise<void> {
    let matched: number;
    try {
      matched = (await this.#runner.run('claiming the leases', sql, values, signal)).affectedRows;
    } catch (error) {
      // Rolled back (a deadlock with another node's claim; on Galera, a lost certification): every claim of it lost.
      if (errnoOf(error) === ER.LOCK_DEADLOCK) return;
      throw error;
    }
    if (matched === items.length) {
      for (const item of items) won.add(item.name);
      return;
    }
    if (matched === 0) return;
    const now = await this.#owned(nodeName, items, signal);
    for (const item of items) if (now.get(item.name)?.term === terms.get(item.name)) won.add(item.name);
  }

  /** What the rows of `items` that name `nodeName` say now: term and whether released, by election. */
  async #owned(nodeName: string, items: readonly { readonly name: string }[], signal: AbortSignal): Promise<Map<string, { term: number; released: boolean }>> {
    const values = [...items.map((item) => item.name), nodeName];
    const { rows } = await this.#runner.run('reading which leases the batch wrote', this.#sql.owned(items.length), values, signal);
    return new Map(rows.map((row) => [String(row['leader_name']), { term: toNumber(row['term']), released: toNumber(row['released']) === 1 }]));
  }

  /** Checks the table once per engine, before its first claim (again after a failed check). */
  #checkSchema(signal: AbortSignal): Promise<void> {
    this.#checked ??= checkSchema(this.#runner.driver, this.#runner.tableName, signal).catch((error: unknown) => {
      this.#checked = undefined;
      throw error;
    });
    return abortable(this.#checked, signal);
  }
}
