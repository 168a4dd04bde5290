/**
 * The candidate registry's read: the rows `NAME` + U+0000 + `@` + node
 * name of one election (or share group), in one statement, through the
 * primary key (a range of `leader_name`, compared byte by byte under the
 * table's `utf8mb4_bin`). Each row is an election of its own, held by that
 * node alone and renewed in its engine's batches like any lease; the read
 * only reports them. Which are live is decided by the database clock
 * (`expires_at` against `UTC_TIMESTAMP(6)`), as `currentLeader()` does:
 * for counting and display, never for safety.
 */
import type { Driver, Row } from './driver.js';
import { StatementRunner } from './runner.js';
import { LEASE_COLUMNS, quoteTable } from './sql.js';
import { toLease } from './store.js';

/** Separates an election's name from a candidate's node name in its registry row: U+0000 and `@` (permits of a semaphore have digits there). */
export const CANDIDATE_MARK = '\u0000@';

/** The registry row of `nodeName` as a candidate of `name`. */
export function candidateRowName(name: string, nodeName: string): string {
  return `${name}${CANDIDATE_MARK}${nodeName}`;
}

/**
 * A live participant of an election, as its registry row says: a node that
 * has registered (a member of a share group, an election opened with
 * `candidate: true`) and whose registration has not run out.
 */
export interface Candidate {
  /** The participant's `nodeName`. */
  readonly nodeName: string;
  /** When it was last seen: the last renewal of its registration (UTC, database clock). */
  readonly lastSeen: Date;
  /** How long ago that was, by the database clock (ms). */
  readonly lastSeenMsAgo: number;
  /** When it registered, this time (UTC, database clock). */
  readonly since: Date;
  /** Remaining life of its registration by the database clock (ms): it drops out of the list once this is over. */
  readonly expiresInMs: number;
}

/** Reads the registry rows of one election table. */
export class CandidateRegistry {
  readonly #runner: StatementRunner;
  readonly #sql: string;

  /** The registry in `tableName` (validated), read through `driver`. */
  constructor(driver: Driver, tableName: string) {
    this.#runner = new StatementRunner(driver, tableName);
    this.#sql = `SELECT leader_name, ${LEASE_COLUMNS} FROM ${quoteTable(tableName)} WHERE leader_name >= ? AND leader_name < ? ORDER BY leader_name`;
  }

  /** The live candidates of `name` (validated), by node name: one statement. */
  async live(name: string, signal: AbortSignal): Promise<Candidate[]> {
    const from = `${name}${CANDIDATE_MARK}`;
    const to = `${name}\u0000${String.fromCharCode(CANDIDATE_MARK.charCodeAt(1) + 1)}`; // just past every name with that prefix
    const { rows } = await this.#runner.run('reading the candidates', this.#sql, [from, to], signal);
    const candidates: Candidate[] = [];
    for (const row of rows as Row[]) {
      const lease = toLease(row);
      if (lease.released || lease.expiresInMs <= 0) continue;
      const rowName = String(row['leader_name']);
      candidates.push({
        nodeName: rowName.slice(from.length),
        lastSeen: lease.renewedAt,
        lastSeenMsAgo: Number(row['renewed_us_ago']) / 1000,
        since: lease.acquiredAt,
        expiresInMs: lease.expiresInMs,
      });
    }
    return candidates.sort((a, b) => (a.nodeName < b.nodeName ? -1 : a.nodeName > b.nodeName ? 1 : 0));
  }
}
