/**
 * What participant processes report (see participant.ts) and what can be
 * proven from it: each node's tenures as it believed them, and whether two
 * ever overlapped. Times are on the machine's shared monotonic clock.
 */
import { sharedNow } from '../shared-clock.js';

/** One line a participant printed. */
export interface Report {
  readonly node: string;
  readonly event: string;
  /** When it was printed, on the clock processes of this machine share (`sharedNow()`), ms. */
  readonly mono: number;
  /** The participant's own wall clock, ms since the epoch (skewed participants differ). */
  readonly wall: number;
  readonly term?: number;
  /** With `elected` and `renewed`: the last instant the node would say it leads, without a further renewal. */
  readonly until?: number;
  readonly reason?: string;
  readonly [key: string]: unknown;
}

/** A tenure as its node believed it: from `elected` to the earlier of `revoked` and its last deadline. */
export interface Tenure {
  readonly node: string;
  readonly term: number;
  readonly start: number;
  readonly end: number;
}

/** The tenures in one node's reports; one still open ends at `now` or its deadline, whichever is first. */
export function tenuresOf(reports: readonly Report[], now = sharedNow()): Tenure[] {
  const result: Tenure[] = [];
  let open: { node: string; term: number; start: number; end: number } | undefined;
  for (const report of reports) {
    // A process killed while leading reports no `revoked`: its tenure ended at
    // its last deadline, which a new process's first report comes after.
    if (open && (report.event === 'ready' || report.event === 'elected')) {
      result.push(open);
      open = undefined;
    }
    if (report.event === 'elected' && report.term !== undefined) {
      open = { node: report.node, term: report.term, start: report.mono, end: report.until ?? report.mono };
    } else if (report.event === 'renewed' && open && report.until !== undefined) {
      open.end = report.until;
    } else if (report.event === 'revoked' && open) {
      result.push({ ...open, end: Math.min(open.end, report.mono) });
      open = undefined;
    }
  }
  if (open) result.push({ ...open, end: Math.min(open.end, now) });
  return result;
}

/** The first problem among all nodes' tenures: two at once, or a term that does not grow; `undefined` when there is none. */
export function findViolation(tenures: readonly Tenure[]): string | undefined {
  const sorted = [...tenures].sort((a, b) => a.start - b.start);
  let latest: Tenure | undefined;
  for (const current of sorted) {
    if (latest && current.start < latest.end) return `two leaders at once: ${describe(latest)} and ${describe(current)}`;
    if (latest && current.term <= latest.term) return `terms do not grow: ${describe(latest)}, then ${describe(current)}`;
    if (!latest || current.end > latest.end) latest = current;
  }
  return undefined;
}

const describe = (tenure: Tenure): string => `${tenure.node} term ${tenure.term} [${tenure.start.toFixed(1)}, ${tenure.end.toFixed(1)}] ms`;
