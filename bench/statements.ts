/**
 * Counting statements, from both ends: the server's `SHOW GLOBAL STATUS`
 * counters, and a pool wrapper that counts what one participant sends.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { Queryable } from '../src/index.js';

/** The server's statement counters the benchmarks read (`Com_do` counts `DO RELEASE_LOCK(…)`). */
export const COUNTERS = ['Com_select', 'Com_insert', 'Com_update', 'Com_delete', 'Com_do'] as const;

/** Values of {@link COUNTERS}. */
export type ServerCounts = Record<(typeof COUNTERS)[number], number>;

/** Reads the server-wide counters (the `SHOW` itself counts as `Com_show_status`, none of these). */
export async function serverCounts(pool: Pool): Promise<ServerCounts> {
  const [rows] = await pool.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${COUNTERS.map(() => '?').join(', ')})`, [...COUNTERS]);
  const counts = Object.fromEntries(COUNTERS.map((name) => [name, 0])) as ServerCounts;
  for (const row of rows as { Variable_name: string; Value: string }[]) {
    counts[row.Variable_name as keyof ServerCounts] = Number(row.Value);
  }
  return counts;
}

/** `after - before`, counter by counter. */
export function serverDelta(before: ServerCounts, after: ServerCounts): ServerCounts {
  return Object.fromEntries(COUNTERS.map((name) => [name, after[name] - before[name]])) as ServerCounts;
}

/** What one participant sent: row reads, writes (claims, renewals, releases) and hand-over lock statements. */
export interface ClientCounts {
  reads: number;
  writes: number;
  locks: number;
}

/** Which of {@link ClientCounts} a statement of the library counts as (GET_LOCK, RELEASE_LOCK, IS_USED_LOCK: a lock's). */
function kindOf(sql: string): keyof ClientCounts {
  if (/\b[A-Z_]+_LOCK\(/.test(sql)) return 'locks';
  return /^\s*SELECT\b/i.test(sql) ? 'reads' : 'writes';
}

/**
 * A mysql2 pool, as the library sees it, that counts every statement the
 * library sends through it (also on connections it takes for itself).
 */
export class CountingPool implements Queryable {
  readonly #pool: Pool;
  readonly #counts: ClientCounts = { reads: 0, writes: 0, locks: 0 };

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** The counts so far (a copy). */
  get counts(): ClientCounts {
    return { ...this.#counts };
  }

  /** Counts and runs one statement on the pool. */
  query(sql: string, values: unknown[]): Promise<unknown> {
    this.#counts[kindOf(sql)]++;
    return this.#pool.query(sql, values);
  }

  /** A connection of the pool whose statements are counted too (the library takes some for itself). */
  async getConnection(): Promise<Pick<PoolConnection, 'query' | 'release' | 'destroy'>> {
    const connection = await this.#pool.getConnection();
    const counts = this.#counts;
    return {
      query: ((sql: string, values: unknown[]) => {
        counts[kindOf(sql)]++;
        return connection.query(sql, values);
      }) as PoolConnection['query'],
      release: () => connection.release(),
      destroy: () => connection.destroy(),
    };
  }
}

/** `after - before`, kind by kind. */
export function clientDelta(before: ClientCounts, after: ClientCounts): ClientCounts {
  return { reads: after.reads - before.reads, writes: after.writes - before.writes, locks: after.locks - before.locks };
}
