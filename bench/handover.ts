/**
 * Hand-over after `close()`: the time from the leader's `close()` call to
 * the `elected` event of the follower that takes over. One election of a
 * leader and 3 followers, each on a pool of its own (as in separate
 * processes), with the hand-over lock (the default). Each round closes the
 * leader at a random moment of its tick, then a new participant takes the
 * closed one's place, so that there are always 3 followers.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createPool, type Pool } from 'mysql2/promise';
import { MysqlLeader } from '../src/index.js';
import { electionName, within, type BenchContext, type ScenarioResult } from './scenario.js';
import { summarize } from './stats.js';

const FOLLOWERS = 3;

/** Measures `rounds` hand-overs after `close()`. */
export async function handover(context: BenchContext): Promise<ScenarioResult> {
  const { age, tick, quick } = context;
  const rounds = quick ? 20 : 200;
  const name = electionName('handover');
  const pools = Array.from({ length: FOLLOWERS + 1 }, () => createPool({ uri: context.url, connectionLimit: 3 }));
  const campaigns: Promise<void>[] = [];
  let overlaps = 0;
  let errors = 0;
  /** Called with the participant just elected and when (performance.now()). */
  let onElected: ((leader: MysqlLeader, at: number) => void) | undefined;
  /** When each participant last saw the lease vacant (its `leaderChange` to no leader). */
  const sawVacant = new Map<MysqlLeader, number>();

  let joined = 0;
  const join = (pool: Pool): MysqlLeader => {
    const leader = new MysqlLeader(pool, name, { nodeName: `n${++joined}`, age, tick });
    leader.on('elected', () => {
      const at = performance.now();
      if (participants.some((other) => other !== leader && other.leading)) overlaps++;
      onElected?.(leader, at);
    });
    leader.on('leaderChange', ({ leader: now }) => {
      if (now === undefined) sawVacant.set(leader, performance.now());
    });
    leader.on('error', () => errors++);
    campaigns.push(leader.acquire());
    return leader;
  };
  const participants = pools.map(join);
  const nextElected = (): Promise<{ leader: MysqlLeader; at: number }> =>
    within(
      new Promise((resolve) => {
        onElected = (leader, at) => {
          onElected = undefined;
          resolve({ leader, at });
        };
      }),
      age + 2 * tick,
      'election',
    );

  const times: number[] = [];
  const closeTimes: number[] = [];
  const vacantTimes: number[] = [];
  const claimTimes: number[] = [];
  try {
    let { leader } = await nextElected();
    for (let round = 1; round <= rounds; round++) {
      // At least a tick: every follower is back waiting on the lock; then a random moment of the leader's tick.
      await delay(tick + Math.random() * tick);
      const next = nextElected();
      const closedAt = performance.now();
      const closing = leader.close();
      const elected = await next;
      times.push(elected.at - closedAt);
      const vacant = sawVacant.get(elected.leader) ?? Number.NaN;
      vacantTimes.push(vacant - closedAt);
      claimTimes.push(elected.at - vacant);
      await closing;
      closeTimes.push(performance.now() - closedAt);
      const slot = participants.indexOf(leader);
      participants[slot] = join(pools[slot]!);
      leader = elected.leader;
      if (round % 50 === 0 || round === rounds) context.log(`  ${round}/${rounds} rounds`);
    }
  } finally {
    onElected = undefined;
    await Promise.all(participants.map((participant) => participant.close()));
    await Promise.all(campaigns);
    await Promise.all(pools.map((pool) => pool.end()));
  }
  const summary = summarize(times);
  return {
    name: 'handover',
    settings: { age, tick, followers: FOLLOWERS, rounds, handoverLock: true },
    measures: [
      { label: `close() → next leader's elected (${FOLLOWERS} followers)`, unit: 'ms', value: summary, target: 'p99 ≤ 50 ms', met: summary.p99 <= 50 },
      { label: '  of which: close() → the winner reads the row vacant', unit: 'ms', value: summarize(vacantTimes) },
      { label: '  of which: row read vacant → elected (the claim)', unit: 'ms', value: summarize(claimTimes) },
      { label: 'close() → close() resolved (for context)', unit: 'ms', value: summarize(closeTimes) },
      { label: 'elected while another believed it led', unit: 'times', value: overlaps, target: '0', met: overlaps === 0 },
      { label: 'database errors reported', unit: '', value: errors },
    ],
    notes: [
      'close() steps down, releases the row (expires_at = now), then frees the hand-over lock; the first follower waiting on GET_LOCK wakes, reads the row and claims it.',
    ],
  };
}
