/**
 * Database statements per second at steady state: one election, 1 leader
 * and 9 followers, each participant on a pool of its own (as in separate
 * processes). Counted by the server (`SHOW GLOBAL STATUS` deltas) and by
 * each participant's pool (who sent what). The window runs from the moment
 * one of the leader's renewals was sent to the moment the Nth next one was,
 * so that it spans whole ticks.
 */
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { createPool } from 'mysql2/promise';
import { MysqlLeader, type RenewedEvent } from '../src/index.js';
import { electionName, type BenchContext, type ScenarioResult } from './scenario.js';
import { clientDelta, CountingPool, serverCounts, serverDelta, type ClientCounts } from './statements.js';

const PARTICIPANTS = 10;

/** Measures the statements of 1 leader and 9 followers over whole ticks. */
export async function steadyState(context: BenchContext): Promise<ScenarioResult> {
  const { age, tick, quick } = context;
  const ticks = quick ? 6 : 40;
  const admin = createPool({ uri: context.url, connectionLimit: 1 });
  const pools = Array.from({ length: PARTICIPANTS }, () => createPool({ uri: context.url, connectionLimit: 3 }));
  const counted = pools.map((pool) => new CountingPool(pool));
  const name = electionName('steady');
  const leaders = counted.map((pool, i) => new MysqlLeader(pool, name, { nodeName: `n${i}`, age, tick }));
  let changes = 0;
  let errors = 0;
  for (const leader of leaders) {
    leader.on('elected', () => changes++);
    leader.on('error', () => errors++);
  }
  const campaigns = leaders.map((leader) => leader.acquire());
  try {
    // Settle: a leader, and every follower back to waiting on the hand-over lock.
    await delay(3 * tick);
    const leader = leaders.find((candidate) => candidate.leading);
    if (!leader) throw new Error('no leader after 3 ticks');

    /** Waits for the leader's next renewal; returns when its statement was sent. */
    const nextRenewal = async (): Promise<number> => {
      const [{ latencyMs }] = (await once(leader, 'renewed')) as [RenewedEvent];
      return performance.now() - latencyMs;
    };
    const firstSent = await nextRenewal();
    const clientBefore = counted.map((pool) => pool.counts);
    const serverBefore = await serverCounts(admin);
    changes = 0;
    errors = 0;
    let lastSent = firstSent;
    for (let i = 0; i < ticks; i++) lastSent = await nextRenewal();
    const seconds = (lastSent - firstSent) / 1000;
    const clientSent = counted.map((pool, i) => clientDelta(clientBefore[i]!, pool.counts));
    const server = serverDelta(serverBefore, await serverCounts(admin));

    const leaderSent = clientSent[leaders.indexOf(leader)]!;
    const followers = clientSent.filter((_, i) => leaders[i] !== leader);
    const followerTotal = followers.reduce<ClientCounts>(
      (sum, sent) => ({ reads: sum.reads + sent.reads, writes: sum.writes + sent.writes, locks: sum.locks + sent.locks }),
      { reads: 0, writes: 0, locks: 0 },
    );
    const ticksElapsed = (seconds * 1000) / tick;
    const perSecond = (count: number): number => count / seconds;
    const serverReads = server.Com_select;
    const serverWrites = server.Com_update + server.Com_insert + server.Com_delete;
    const clientWrites = leaderSent.writes + followerTotal.writes;
    context.log(`  ${seconds.toFixed(2)} s window; server: ${JSON.stringify(server)}`);
    return {
      name: 'steady-state',
      settings: { age, tick, participants: PARTICIPANTS, handoverLock: true, windowTicks: ticks, windowSeconds: seconds },
      measures: [
        { label: 'server: reads (Com_select, lock waits included)', unit: '/s', value: perSecond(serverReads) },
        { label: 'server: writes (Com_update + Com_insert + Com_delete)', unit: '/s', value: perSecond(serverWrites) },
        { label: 'server: lock releases (Com_do)', unit: '/s', value: perSecond(server.Com_do) },
        { label: 'server: all statements', unit: '/s', value: perSecond(serverReads + serverWrites + server.Com_do) },
        {
          label: 'leader: writes per tick',
          unit: 'per tick',
          value: leaderSent.writes / ticksElapsed,
          target: '≤ 1 (± 1 %: timers)',
          met: leaderSent.writes <= 1.01 * ticksElapsed,
        },
        { label: 'leader: row reads per tick', unit: 'per tick', value: leaderSent.reads / ticksElapsed },
        { label: 'leader: hand-over lock statements per tick (re-check that it holds it)', unit: 'per tick', value: leaderSent.locks / ticksElapsed },
        { label: `followers (${followers.length}): writes`, unit: 'statements', value: followerTotal.writes, target: '0', met: followerTotal.writes === 0 },
        { label: 'one follower: row reads', unit: '/s', value: perSecond(followerTotal.reads) / followers.length },
        { label: 'one follower: hand-over lock waits (GET_LOCK)', unit: '/s', value: perSecond(followerTotal.locks) / followers.length },
        {
          label: "consistency: server's writes minus the participants' writes",
          unit: 'statements',
          value: serverWrites - clientWrites,
          target: '0',
          met: serverWrites === clientWrites,
        },
        { label: 'leader changes and errors during the window', unit: '', value: changes + errors, target: '0', met: changes + errors === 0 },
      ],
      notes: [
        `Window: ${ticks} renewals of the leader, ${seconds.toFixed(2)} s from the sending of one to the sending of the ${ticks}th next; rates are per second of that window. A Node.js timer may fire up to a millisecond early by the monotonic clock, hence the 1 % tolerance on writes per tick.`,
        'A follower reads the row, then waits on the hand-over lock (a SELECT GET_LOCK with a timeout of about a tick, minus up to 20 % jitter) instead of sleeping: two SELECTs per follower per cycle, no write.',
        "Server reads include every SELECT: the followers' row reads and lock waits, and the leader's own lock checks.",
      ],
    };
  } finally {
    await Promise.all(leaders.map((leader) => leader.close()));
    await Promise.all(campaigns);
    await Promise.all([admin, ...pools].map((pool) => pool.end()));
  }
}
