/**
 * The keys workload (`npm run chaos -- --keys`): every participant also runs
 * one `Leases` engine with `share()` of the same M numbered keys, and
 * reports each key's tenures into the run log; the checker
 * (chaos/key-checker.ts) proves from them that no key ever had two believed
 * owners, that each key's terms only grow, that the keys end balanced, and
 * that no task ran on long after its signal aborted.
 *
 * Reports (JSON lines, see records.ts):
 * - `key-acquired` (`key`, `term`, `until`: the tenure's local deadline on
 *   the shared clock) as the tenure begins, before its task starts;
 *   `key-renewed` (`renewed`: a list of `[key, term, until]`) for the
 *   renewals of the keys, a line per turn of the event loop; either with
 *   `expired` (a fourth element of the list, a field of `key-acquired`) when
 *   the deadline had passed already as the participant looked, `until` then
 *   being that instant; `key-released`
 *   (`key`, `term`, `reason`) as the tenure ends (the task's signal aborts).
 * - `task-start` (`key`, `term`); `task-abort` (`key`, `term`, `reason`) the
 *   instant the task sees its signal abort; `task-end` (`key`, `term`) once
 *   it has drained ({@link TASK_DRAIN_MS}) and returns.
 * - `key-view` (`owned`, `target`, `members`) whenever this member's view
 *   changes (looked at every 50 ms).
 *
 * The deadlines come from the share's own events, as a user would have
 * them: each `acquired` and `renewed` is reported with the deadline the key's
 * tenure holds at that instant (`share.remainingMs(key)` is exact, and read
 * before the clock, so that a pause between the two can only make the
 * deadline later), so a member that is paused right after a renewal still
 * has its new deadline in the log once it runs again, and one killed has
 * its tenures cut at its exit. A pause between the election's own check and
 * the participant's look finds the deadline passed: `expired`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'mysql2/promise';
import { LeadershipEndedError, Leases } from '../src/index.js';
import { sharedNow as mono } from '../src/cli/shared-clock.js';

/** The share group of the workload. */
export const KEY_GROUP = 'chaos-keys';

/**
 * The default number of keys: enough that each of up to 5 members holds a
 * dozen or more (so that give-ups and claims of several keys at once, and
 * uneven targets, happen at every join and leave), few enough that five
 * members' renewals, reports and checks stay light on 2 shared cores.
 */
export const DEFAULT_KEY_COUNT = 64;

/**
 * How long a task works on after its signal aborted before it returns (a
 * consumer committing its position): a graceful give-up must wait for it
 * before the key is released, so a release that does not is caught.
 */
export const TASK_DRAIN_MS = 100;

/** Starts the share of `count` keys on an engine of its own over `pool`; `report` prints a line of the run log. `close()` leaves the group. */
export function shareKeys(
  pool: Pool,
  options: { readonly nodeName: string; readonly age: number; readonly tick: number; readonly count: number },
  report: (fields: Record<string, unknown>) => void,
): { close(): Promise<void> } {
  let renewed: [string, number, number, 'expired'?][] = [];
  const flush = (): void => {
    if (renewed.length > 0) report({ event: 'key-renewed', renewed });
    renewed = [];
  };
  const leases = new Leases(pool, { nodeName: options.nodeName, age: options.age, tick: options.tick });
  const share = leases.share(KEY_GROUP, options.count, async ({ key, term, signal }) => {
    report({ event: 'task-start', key, term });
    await new Promise<void>((resolve) => {
      const aborted = (): void => {
        const reason: unknown = signal.reason;
        report({ event: 'task-abort', key, term, reason: reason instanceof LeadershipEndedError ? reason.reason : String(reason) });
        resolve();
      };
      if (signal.aborted) aborted();
      else signal.addEventListener('abort', aborted, { once: true });
    });
    await sleep(TASK_DRAIN_MS);
    report({ event: 'task-end', key, term });
  });
  /** The deadline of this member's tenure of `key` on the shared clock, or the instant it was found passed. */
  const deadline = (key: string): { until: number; expired?: true } => {
    const left = share.remainingMs(key);
    const now = mono();
    return left > 0 ? { until: now + left } : { until: now, expired: true };
  };
  share.on('acquired', ({ key, term }) => report({ event: 'key-acquired', key, term, ...deadline(key) }));
  share.on('renewed', ({ key, term }) => {
    if (renewed.length === 0) setImmediate(flush);
    const { until, expired } = deadline(key);
    renewed.push(expired ? [key, term, until, 'expired'] : [key, term, until]);
  });
  share.on('released', ({ key, term, reason }) => report({ event: 'key-released', key, term, reason }));
  share.on('taskError', ({ key, term, error }) => report({ event: 'key-task-error', key, term, message: String(error) }));
  share.on('error', (error) => report({ event: 'key-error', message: error.message }));

  let view = '';
  const watch = setInterval(() => {
    const now = JSON.stringify([share.owned.length, share.target, share.members]);
    if (now === view) return;
    view = now;
    report({ event: 'key-view', owned: share.owned.length, target: share.target, members: share.members });
  }, 50);
  return {
    close: async () => {
      clearInterval(watch);
      await share.close();
      await leases.close();
      flush();
    },
  };
}
