/**
 * A primary that fails over, as a managed service or a failover tool does it:
 * asynchronous replication to a replica, the primary killed, the replica
 * promoted without the last writes, and every participant reconnecting
 * through a name (a proxy) that moves. Three participants campaign
 * throughout, with the default `abortOnError`; each round loses a claim (a
 * new term) made on the old primary. No two believed tenures overlap, every
 * term is above every term before it, and no campaign ends.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';
import { createPool, type Pool } from 'mysql2/promise';
import { startReplicatedMariadb } from '../../src/cli/harness/replicated-mariadb.js';
import { MysqlLeader, createMysqlLeaderTable } from '../../src/index.js';

const AGE = 1000;
const TICK = 250;
const ROUNDS = 20;
/** Generous: two servers, three participants and the test share two busy cores. */
const WAIT_MS = 20_000;

const db = await startReplicatedMariadb();
const pools: Pool[] = [];
after(async () => {
  await Promise.all(pools.map((pool) => pool.end().catch(() => {})));
  await db.stop();
});

/** One believed tenure: from `elected` to the first of its revoke and its local deadline (as `remainingMs` last said). */
interface Tenure {
  readonly node: string;
  readonly term: number;
  readonly start: number;
  deadline: number;
  end: number;
}

/** Resolves when `check` holds, polling; rejects after WAIT_MS. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('a primary that fails over, losing the last writes', () => {
  it(`${ROUNDS} promotions: no overlap of believed tenures, terms always grow, no campaign ends`, async () => {
    const setup = createPool({ uri: db.url, connectionLimit: 1 });
    pools.push(setup);
    await createMysqlLeaderTable(setup);
    const tenures: Tenure[] = [];
    const ended: string[] = [];
    const leaders = ['p1', 'p2', 'p3'].map((nodeName) => {
      const pool = createPool({ uri: db.url, connectionLimit: 4 });
      pools.push(pool);
      const leader = new MysqlLeader(pool, 'failover', { nodeName, age: AGE, tick: TICK });
      const current = (): Tenure | undefined => tenures.findLast((t) => t.node === nodeName && t.end === Infinity);
      leader.on('elected', ({ term }) => {
        tenures.push({ node: nodeName, term, start: performance.now(), deadline: performance.now() + leader.remainingMs, end: Infinity });
      });
      leader.on('renewed', () => {
        const tenure = current();
        if (tenure) tenure.deadline = performance.now() + leader.remainingMs;
      });
      leader.on('revoked', () => {
        const tenure = current();
        if (tenure) tenure.end = Math.min(performance.now(), tenure.deadline);
      });
      leader.acquire().then(
        () => {},
        (error: unknown) => void ended.push(`${nodeName}: ${String(error)}`),
      );
      return leader;
    });
    const leading = () => leaders.find((leader) => leader.leading);
    await until('a first leader', () => leading() !== undefined);

    const lostTerms: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // A claim on the old primary that will never reach the new one.
      await db.pauseReplication();
      const resigning = leading();
      assert.ok(resigning, `round ${round}: a leader before the promotion`);
      const before = tenures.length;
      await resigning.resign();
      await until(`round ${round}: a new leader on the old primary`, () => tenures.length > before);
      const lost = tenures.at(-1) as Tenure;
      lostTerms.push(lost.term);
      const promotion = await db.promote({ lostWrites: true });
      assert.ok(promotion.lostTransactions >= 1, `round ${round}: the claim of term ${lost.term} was lost`);
      await until(`round ${round}: a leader on the new primary`, () => tenures.some((t) => t.term > lost.term));
      await db.rebuildReplica();
    }
    await Promise.all(leaders.map((leader) => leader.close()));

    assert.deepEqual(ended, [], 'no campaign ended');
    for (const [i, tenure] of tenures.entries()) {
      const earlier = tenures.slice(0, i);
      assert.ok(
        earlier.every((t) => t.term < tenure.term),
        `term ${tenure.term} of ${tenure.node} is above every earlier term (${earlier.map((t) => t.term).join(', ')})`,
      );
      for (const other of earlier) {
        if (other.node === tenure.node) continue;
        assert.ok(other.end <= tenure.start, `${other.node} (term ${other.term}) still believed it led when ${tenure.node} (term ${tenure.term}) was elected`);
      }
    }
    assert.ok(tenures.length >= 2 * ROUNDS, `${tenures.length} tenures`);
    console.log(`# ${ROUNDS} promotions, ${tenures.length} tenures; lost terms ${lostTerms.join(', ')}; last term ${tenures.at(-1)?.term}`);
  });
});
