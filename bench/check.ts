/**
 * The cost of a leadership check on a leader: the sync getter `leading` and
 * `isLeader()`, per call, and proof that neither sends a statement. The
 * checks run in batches with a turn of the event loop between them, so the
 * leader keeps renewing (one UPDATE per tick) while they run: the server's
 * `Com_select` and the statements the library sent through its pool are
 * counted over the whole window. The election has one participant and no
 * hand-over lock (there is no one to wake), so the renewals are the only
 * statements expected, and any SELECT would be a check's.
 */
import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createPool } from 'mysql2/promise';
import { MysqlLeader } from '../src/index.js';
import { electionName, type BenchContext, type ScenarioResult } from './scenario.js';
import { clientDelta, CountingPool, serverCounts, serverDelta } from './statements.js';

/** Checks per batch: a few milliseconds, far less than a tick, so renewals stay on time. */
const BATCH = 100_000;

/** Measures `leading` and `isLeader()` on the leader of a one-participant election. */
export async function check(context: BenchContext): Promise<ScenarioResult> {
  const { age, tick, quick } = context;
  const windowMs = quick ? 1000 : 5000;
  const pool = createPool({ uri: context.url, connectionLimit: 3 });
  const counted = new CountingPool(pool);
  const leader = new MysqlLeader(counted, electionName('check'), { age, tick, handoverLock: false });
  let renewals = 0;
  leader.on('renewed', () => renewals++);
  const elected = once(leader, 'elected');
  const campaign = leader.acquire();
  try {
    await elected;
    const server = await serverCounts(pool);
    const client = counted.counts;
    renewals = 0;
    let syncNs = 0n;
    let asyncNs = 0n;
    let calls = 0;
    let yes = 0;
    const end = performance.now() + windowMs;
    while (performance.now() < end) {
      let started = process.hrtime.bigint();
      for (let i = 0; i < BATCH; i++) if (leader.leading) yes++;
      syncNs += process.hrtime.bigint() - started;
      started = process.hrtime.bigint();
      for (let i = 0; i < BATCH; i++) if (await leader.isLeader()) yes++;
      asyncNs += process.hrtime.bigint() - started;
      calls += BATCH;
      await nextTurn(); // timers and I/O run here: the leader renews as usual.
    }
    const serverSent = serverDelta(server, await serverCounts(pool));
    const clientSent = clientDelta(client, counted.counts);
    const leadingNs = Number(syncNs) / calls;
    const isLeaderNs = Number(asyncNs) / calls;
    context.log(`  ${calls} calls each; leading ${leadingNs.toFixed(1)} ns, isLeader() ${isLeaderNs.toFixed(1)} ns; ${renewals} renewals meanwhile`);
    return {
      name: 'check',
      settings: { age, tick, handoverLock: false, windowMs, callsEach: calls, batch: BATCH },
      measures: [
        { label: '`leading` (sync getter), per call', unit: 'ns', value: leadingNs, target: '< 1000 ns', met: leadingNs < 1000 },
        { label: '`await isLeader()`, per call', unit: 'ns', value: isLeaderNs, target: '< 1000 ns', met: isLeaderNs < 1000 },
        { label: 'checks that answered true', unit: `of ${2 * calls}`, value: yes, target: 'all', met: yes === 2 * calls },
        {
          label: `SELECTs on the server during ${((2 * calls) / 1e6).toFixed(1)} M checks (Com_select)`,
          unit: 'statements',
          value: serverSent.Com_select,
          target: '0',
          met: serverSent.Com_select === 0,
        },
        {
          label: 'statements the library sent besides its renewals',
          unit: 'statements',
          value: clientSent.reads + clientSent.locks + clientSent.writes - renewals,
          target: '0',
          met: clientSent.reads + clientSent.locks === 0 && clientSent.writes === renewals,
        },
        { label: 'renewals (UPDATE) during the window, for context', unit: 'statements', value: serverSent.Com_update },
      ],
      notes: [
        `Checks ran in batches of ${BATCH / 1000}k with a turn of the event loop between batches, for ${windowMs / 1000} s, so the leader kept renewing meanwhile (one UPDATE per tick, counted apart).`,
        'Both checks compare performance.now() with the local deadline; isLeader() adds a promise and an await.',
        'handoverLock is off here: with it, the leader also checks once a tick that it still holds the lock (a SELECT), which has nothing to do with the checks measured.',
      ],
    };
  } finally {
    await leader.close();
    await campaign;
    await pool.end();
  }
}
