/**
 * Fail-over after SIGKILL of the leading process: real participant
 * processes (src/cli/harness/participant.ts), 1 leader and 3 followers. Each round
 * kills the leader at a random moment between two renewals (never while one
 * is in flight), notes when another process reports `elected`, and starts
 * the killed one again as a follower. All times are on the machine's shared
 * monotonic clock.
 *
 * A lease renewed by a statement sent at `sent` ends in the database at
 * `sent + age` at the earliest (the server computes it on receipt), so a
 * kill at a random moment of the tick leaves between `age - tick` and `age`
 * of lease: "kill → elected − age" is then mostly negative. The honest
 * overhead of fail-over is "lease end → elected": how long after the lease
 * lapsed a follower held it (its upper bound, since `sent` is before the
 * server's clock reading).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ParticipantProcess } from '../src/cli/harness/participant-process.js';
import { findViolation, tenuresOf, type Report } from '../src/cli/harness/tenures.js';
import { sharedNow } from '../src/cli/shared-clock.js';
import { resolveOptions } from '../src/options.js';
import { electionName, within, type BenchContext, type ScenarioResult } from './scenario.js';
import { summarize } from './stats.js';

const PROCESSES = 4;
/** The kill lands at least this long before the next renewal is sent (ms). */
const GUARD = 50;

/** Measures `rounds` fail-overs after SIGKILL of the leading process. */
export async function failover(context: BenchContext): Promise<ScenarioResult> {
  const { age, tick, quick } = context;
  const rounds = quick ? 5 : 50;
  // The participants leave margin at its default: their local deadline `until` is `sent + age - margin`.
  const { margin } = resolveOptions({ age, tick });
  const leaderName = electionName('failover');
  const nodes = Array.from({ length: PROCESSES }, (_, i) => new ParticipantProcess({ url: context.url, leaderName, nodeName: `p${i + 1}`, age, tick }));
  const forget = nodes.map((node) => context.onExit(() => void node.kill('SIGKILL')));

  /** The first `elected` reported after `since` by a node other than `except`. */
  const nextElected = (since: number, except?: ParticipantProcess): Promise<{ node: ParticipantProcess; report: Report }> =>
    within(
      Promise.any(
        nodes
          .filter((node) => node !== except)
          .map(async (node) => ({ node, report: await node.waitFor((r) => r.event === 'elected' && r.mono > since, age + 2 * tick + 5000, 'election') })),
      ),
      age + 2 * tick + 5000,
      'election',
    );
  const ready = (node: ParticipantProcess, since: number): Promise<Report> => node.waitFor((r) => r.event === 'ready' && r.mono > since, 30_000, 'ready');

  const killToElected: number[] = [];
  const afterLeaseEnd: number[] = [];
  try {
    const startedAt = sharedNow();
    for (const node of nodes) node.start();
    await Promise.all(nodes.map((node) => ready(node, startedAt)));
    let { node: leader } = await nextElected(startedAt);
    for (let round = 1; round <= rounds; round++) {
      const since = sharedNow();
      const renewal = await leader.waitFor((r) => r.event === 'renewed' && r.mono > since, age, 'renewal');
      const sent = (renewal.until as number) + margin - age;
      const killAt = renewal.mono + Math.random() * Math.max(0, sent + tick - GUARD - renewal.mono);
      await delay(killAt - sharedNow());
      const killedAt = sharedNow();
      await leader.kill('SIGKILL');
      const next = await nextElected(killedAt, leader);
      // The killed process's last word on its lease: the last renewal (or election) it reported.
      const last = leader.reports.findLast((r) => (r.event === 'renewed' || r.event === 'elected') && r.mono < killedAt);
      const leaseEnd = (last?.until as number) + margin;
      killToElected.push(next.report.mono - killedAt);
      afterLeaseEnd.push(next.report.mono - leaseEnd);
      const restartedAt = sharedNow();
      leader.start();
      await ready(leader, restartedAt);
      leader = next.node;
      if (round % 10 === 0 || round === rounds) context.log(`  ${round}/${rounds} rounds`);
    }
  } finally {
    await Promise.all(nodes.map((node) => node.kill('SIGKILL')));
    for (const unregister of forget) unregister();
  }
  const violation = findViolation(nodes.flatMap((node) => tenuresOf(node.reports)));
  const errors = nodes.reduce((count, node) => count + node.reports.filter((r) => r.event === 'error').length, 0);
  const raw = summarize(killToElected);
  const minusAge = summarize(killToElected.map((ms) => ms - age));
  const late = summarize(afterLeaseEnd);
  return {
    name: 'failover',
    settings: { age, tick, margin, processes: PROCESSES, rounds, handoverLock: true },
    measures: [
      { label: 'kill → elected in another process', unit: 'ms', value: raw, target: `p99 ≤ ${age + 100} ms (age + 100)`, met: raw.p99 <= age + 100 },
      { label: 'kill → elected, minus age', unit: 'ms', value: minusAge, target: 'p99 ≤ 100 ms', met: minusAge.p99 <= 100 },
      {
        label: "lease end (last renewal's send + age) → elected",
        unit: 'ms',
        value: late,
        target: 'p99 ≤ 100 ms, min ≥ 0',
        met: late.p99 <= 100 && late.min >= 0,
      },
      { label: 'one leader at a time (reported tenures)', unit: '', value: violation ? 1 : 0, target: '0 overlaps', met: violation === undefined },
      { label: 'database errors reported', unit: '', value: errors },
    ],
    notes: [
      `Each kill lands at a random moment between a renewal and ${GUARD} ms before the next: the lease has between ${age - tick} and ${age} ms left, so "kill → elected − age" is mostly negative (the time the lease had already run).`,
      `"lease end → elected" is the fail-over overhead proper: how long after the lease ended by the database clock a follower was elected (upper bound: the lease end is taken as the renewal's send time + age). Its worst case, a kill just after a renewal, makes "kill → elected − age" equal to it.`,
      ...(violation ? [`VIOLATION: ${violation}`] : []),
    ],
  };
}
