/** How the CLI shows elections and jobs: durations and aligned columns for people, and one JSON shape for scripts. */
import type { ElectionStatus } from '../index.js';

/** `850 ms`, `12.3 s`, `5 min 3 s`, `2 h 5 min`. */
export function duration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  if (abs < 60_000) return `${(abs / 1000).toFixed(1)} s`;
  const seconds = Math.floor(abs / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** `rows` (a header first) as aligned columns, two spaces apart, one line each. */
export function columns(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `held`: a live lease; `expired`: the last lease lapsed or was released; `none`: never elected. */
export type ElectionState = 'held' | 'expired' | 'none';

/** One election as `status --json` and `watch --json` print it. */
export interface ElectionJson {
  /** The election. */
  readonly name: string;
  /** See {@link ElectionState}. */
  readonly state: ElectionState;
  /** The node that leads now, or null. */
  readonly leader: string | null;
  /** The node of the last lease (live or not), or null. */
  readonly node: string | null;
  /** The term of the last lease: the fencing token while it is live. */
  readonly term: number | null;
  /** Start of the last tenure (ISO 8601, database clock). */
  readonly acquiredAt: string | null;
  /** Its last renewal (ISO 8601, database clock). */
  readonly renewedAt: string | null;
  /** Remaining life of the lease by the database clock (negative once it has lapsed), in whole ms. */
  readonly expiresInMs: number | null;
}

/** An election's row (or its absence) in the JSON shape. */
export function electionJson(name: string, status: ElectionStatus | undefined): ElectionJson {
  if (!status) return { name, state: 'none', leader: null, node: null, term: null, acquiredAt: null, renewedAt: null, expiresInMs: null };
  const live = status.expiresInMs > 0;
  return {
    name,
    state: live ? 'held' : 'expired',
    leader: live ? status.nodeName : null,
    node: status.nodeName,
    term: status.term,
    acquiredAt: status.acquiredAt.toISOString(),
    renewedAt: status.renewedAt.toISOString(),
    expiresInMs: Math.round(status.expiresInMs),
  };
}

/**
 * An election row's name as the `status` table shows it: the rows the lease
 * engine keeps under a name with U+0000 (which no election name has) read as
 * what they are, `NAME [permit K]` for a semaphore's permit, `GROUP [member
 * NODE]` and `GROUP [key KEY]` for a share's rows; any other U+0000 is shown
 * as ␀. `--json` keeps the row's name as it is.
 */
export function rowLabel(name: string): string {
  const at = name.indexOf('\u0000');
  if (at < 0) return name;
  const base = name.slice(0, at);
  const rest = name.slice(at + 1);
  if (/^\d+$/u.test(rest)) return `${base} [permit ${rest}]`;
  if (rest.startsWith('@')) return `${base} [member ${rest.slice(1)}]`;
  if (rest.startsWith('k:')) return `${base} [key ${rest.slice(2)}]`;
  return name.replaceAll('\u0000', '\u2400');
}
