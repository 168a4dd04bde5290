/**
 * The lease engine against a real server: many elections in one process
 * share batched statements; a batch that partly matched ends exactly the
 * tenures it lost; a lease whose fenced transaction holds its row does not
 * hold up the batch; a burst of claims at start-up goes out paced.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { Pool } from 'mysql2/promise';
import {
  Leases,
  LeadershipEndedError,
  MysqlLeader,
  MysqlLeaderError,
  createMysqlLeaderTable,
  forceRelease,
  readElection,
  type LeasesOptions,
} from '../../src/index.js';
import { useDatabase } from '../support/database.js';

const AGE = 2000;
const TICK = 500;
const db = await useDatabase('leases');
await createMysqlLeaderTable(db.pool);
await db.pool.query('CREATE TABLE fenced_writes (id INT AUTO_INCREMENT PRIMARY KEY, term BIGINT NOT NULL)');

/** A pool whose statements are recorded, as the engine's handle. */
function recorded(pool: Pool) {
  const sql: string[] = [];
  const handle = {
    query: (text: string, values?: unknown[]) => {
      sql.push(text);
      return pool.query(text, values);
    },
    getConnection: async () => {
      const connection = await pool.getConnection();
      return {
        threadId: connection.threadId,
        query: (text: string, values?: unknown[]) => {
          sql.push(text);
          return connection.query(text, values);
        },
        release: () => connection.release(),
        destroy: () => connection.destroy(),
      };
    },
  };
  return { handle, sql };
}

/** An engine on a pool of its own, closed after the test. */
function engine(t: { after: (fn: () => Promise<void>) => void }, options: LeasesOptions = {}) {
  const { handle, sql } = recorded(db.newPool({ connectionLimit: 4 }));
  const leases = new Leases(handle, { age: AGE, tick: TICK, ...options });
  t.after(() => leases.close());
  return { leases, sql };
}

let elections = 0;
const names = (count: number, prefix = 'lease'): string[] => {
  const batch = ++elections;
  return Array.from({ length: count }, (_, i) => `${prefix}-${batch}-${String(i).padStart(5, '0')}`);
};

async function until(condition: () => boolean, limit = 10_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > limit) throw new Error(`condition not met within ${limit} ms`);
    await delay(10);
  }
}

/** Starts `leader` elections of `leases` for `list`, each counting its revocations. */
function campaign(leases: Leases, list: readonly string[]) {
  const revoked = new Map<string, string[]>();
  const renewed = new Map<string, number>();
  const leaders = list.map((name) => {
    const leader = leases.leader(name, { onError: () => undefined });
    revoked.set(name, []);
    renewed.set(name, 0);
    leader.on('revoked', ({ reason }) => revoked.get(name)?.push(reason));
    leader.on('renewed', () => renewed.set(name, (renewed.get(name) ?? 0) + 1));
    void leader.acquire();
    return leader;
  });
  return { leaders, revoked, renewed, leading: () => leaders.filter((leader) => leader.leading).length };
}

const isRenewBatch = (text: string): boolean => text.startsWith('UPDATE') && text.includes('(leader_name, term) IN') && text.includes('expires_at = GREATEST');
const isOwnedRead = (text: string): boolean => text.startsWith('SELECT leader_name, term, NOT');

describe('Leases', () => {
  it('renews many leases in a few statements a tick, each lease keeping its own term and events', async (t) => {
    const { leases, sql } = engine(t);
    const list = names(300);
    const { leaders, revoked, renewed, leading } = campaign(leases, list);
    await until(() => leading() === list.length);
    assert.deepEqual(new Set(leaders.map((leader) => leader.term)), new Set([1]));
    const before = sql.length;
    const renewedBefore = [...renewed.values()].reduce((sum, n) => sum + n, 0);
    await delay(4 * TICK);
    const statements = sql.slice(before);
    const renewals = [...renewed.values()].reduce((sum, n) => sum + n, 0) - renewedBefore;
    // About 300 × 4 renewals; at most one batch per 50 ms window (80 in 4 ticks), in practice a few a tick.
    assert.ok(renewals >= 300 * 3, `${renewals} renewals`);
    assert.ok(statements.length <= 4 * (TICK / 50), `${statements.length} statements for ${renewals} renewals`);
    assert.ok(statements.every(isRenewBatch), 'only renewal batches while every lease is held');
    assert.equal(leading(), list.length);
    assert.deepEqual([...revoked.values()].flat(), []);
  });

  it('ends the tenure of exactly the leases a batch did not renew (released by force, or taken over), and keeps the rest', async (t) => {
    const { leases, sql } = engine(t);
    const list = names(50);
    const { leaders, revoked, renewed, leading } = campaign(leases, list);
    await until(() => leading() === list.length);
    const forced = list[17] as string;
    const taken = list[31] as string;
    // Between two batches: one lease released by an operator, another taken by a node of another process.
    assert.ok(await forceRelease(db.pool, forced));
    await db.pool.query(
      "UPDATE leader_election SET node_name = 'intruder', term = term + 1, acquired_at = UTC_TIMESTAMP(6), renewed_at = UTC_TIMESTAMP(6), expires_at = UTC_TIMESTAMP(6) + INTERVAL 10 SECOND WHERE leader_name = ?",
      [taken],
    );
    await until(() => (revoked.get(forced)?.length ?? 0) > 0 && (revoked.get(taken)?.length ?? 0) > 0, 3 * TICK);
    assert.deepEqual(revoked.get(forced), ['lost']);
    assert.deepEqual(revoked.get(taken), ['lost']);
    assert.ok(sql.some(isOwnedRead), 'a partly matched batch was followed by the read that tells its rows apart');
    const renewedThen = new Map(renewed);
    await delay(2 * TICK);
    for (const [i, name] of list.entries()) {
      if (name === forced || name === taken) continue;
      assert.deepEqual(revoked.get(name), [], `${name} kept its tenure`);
      assert.ok(leaders[i]?.leading, `${name} leads`);
      assert.ok((renewed.get(name) ?? 0) > (renewedThen.get(name) ?? 0), `${name} was renewed again`);
    }
    assert.equal((await readElection(db.pool, taken))?.nodeName, 'intruder');
  });

  it('renews a lease whose fenced transaction holds its row apart, without holding up the batch of the others', async (t) => {
    const { leases, sql } = engine(t);
    const list = names(20);
    const { leaders, revoked, leading } = campaign(leases, list);
    await until(() => leading() === list.length);
    const fencedLeader = leaders[5] as MysqlLeader;
    const latencies: number[] = [];
    for (const leader of leaders) if (leader !== fencedLeader) leader.on('renewed', ({ latencyMs }) => latencies.push(latencyMs));
    // The row stays share-locked for three ticks (well past the batches' time limit, a tick).
    const written = await fencedLeader.withLeadership(async (connection, { term }) => {
      await connection.query('INSERT INTO fenced_writes (term) VALUES (?)', [term]);
      await delay(3 * TICK);
      return term;
    });
    assert.equal(written, fencedLeader.term);
    await delay(TICK);
    assert.equal(leading(), list.length);
    assert.deepEqual([...revoked.values()].flat(), []);
    assert.ok(latencies.length >= 19 * 3, `${latencies.length} renewals of the others meanwhile`);
    assert.ok(
      latencies.every((ms) => ms < TICK),
      `the others renewed within a tick each (max ${Math.round(Math.max(...latencies))} ms)`,
    );
    // The fenced lease's renewals went by themselves (the single-row statement), while its transaction was open.
    assert.ok(sql.some((text) => text.startsWith('UPDATE') && text.includes('WHERE leader_name = ? AND node_name = ? AND term = ?')));
  });

  it('reads and renews plain names in the text of its statements, and any other name through placeholders', async (t) => {
    const plain = engine(t);
    const odd = engine(t);
    const plainNames = names(3, 'plain');
    // A quote, a backslash or a placeholder's mark sends its batch through placeholders.
    const oddNames = [`it's-${++elections}`, `back\\slash-${elections}`, `what?-${elections}`, `plain-among-odd-${elections}`];
    const plainRun = campaign(plain.leases, plainNames);
    const oddRun = campaign(odd.leases, oddNames);
    await until(() => plainRun.leading() === plainNames.length && oddRun.leading() === oddNames.length);
    await delay(3 * TICK);
    assert.equal(plainRun.leading(), plainNames.length);
    assert.equal(oddRun.leading(), oddNames.length);
    assert.deepEqual([...plainRun.revoked.values(), ...oddRun.revoked.values()].flat(), []);
    for (const [name, count] of [...plainRun.renewed, ...oddRun.renewed]) assert.ok(count >= 2, `${JSON.stringify(name)} renewed ${count} times`);
    for (const name of oddNames) assert.equal((await readElection(db.pool, name))?.term, 1, `${JSON.stringify(name)} is held under its own row`);
    const inline = plain.sql.filter(isRenewBatch);
    // Leases elected together may renew in different batches (their first renewals are spread).
    assert.ok(inline.length > 0 && inline.every((text) => !text.includes('?, ?')), 'no placeholders for plain names');
    for (const name of plainNames)
      assert.ok(
        inline.some((text) => text.includes(`('${name}', 1)`)),
        `${name} renewed in the text`,
      );
    assert.ok(
      plain.sql.some((text) => text.includes('LEFT JOIN') && text.includes(`'${plainNames[0]}'`)),
      'plain names read in the text',
    );
    assert.ok(
      odd.sql.some((text) => isRenewBatch(text) && text.includes('(?, ?)')),
      'a batch with an odd name renewed through placeholders',
    );
    // Every batch matched all its rows: none needed the read that tells a partly matched batch apart (which would hide a wrong statement).
    assert.ok(!plain.sql.some(isOwnedRead) && !odd.sql.some(isOwnedRead), 'every renewal batch matched all its rows');
  });

  it('paces a burst of 2,000 claims at start-up into a few statements, then holds every lease', async (t) => {
    const { leases, sql } = engine(t, { maxBatch: 500 });
    const list = names(2000, 'burst');
    const { revoked, leading } = campaign(leases, list);
    await until(() => leading() === list.length, 20_000);
    const reads = sql.filter((text) => text.includes('LEFT JOIN')).length;
    const claims = sql.filter((text) => text.startsWith('INSERT IGNORE')).length;
    assert.ok(reads <= 8, `${reads} read statements for 2,000 elections`);
    assert.ok(claims <= 8, `${claims} claim statements for 2,000 elections`);
    assert.ok(sql.filter((text) => text.includes('information_schema.COLUMNS')).length <= 1, 'the table is checked once per engine');
    await delay(2 * TICK);
    assert.equal(leading(), list.length);
    assert.deepEqual([...revoked.values()].flat(), []);
  });

  it('runs at most one election of a name per engine, and refuses to make one after close()', async (t) => {
    const { leases } = engine(t);
    const [name] = names(1) as [string];
    const leader = leases.leader(name);
    assert.throws(
      () => leases.leader(name),
      (error: unknown) => error instanceof MysqlLeaderError && error.code === 'ERR_MYSQL_LEADER_BUSY',
    );
    await leader.close();
    const again = leases.leader(name);
    await again.close();
    assert.throws(() => leases.leader(name, { age: 10_000 } as never), /options\.age is the engine's/);
    await leases.close();
    assert.throws(() => leases.leader(name), /closed Leases/);
  });

  it('an election of the engine hands over to a standalone MysqlLeader on close(), with the next term', async (t) => {
    const { leases } = engine(t);
    const [name] = names(1) as [string];
    const leader = leases.leader(name);
    void leader.acquire();
    await once(leader, 'elected');
    const other = new MysqlLeader(db.newPool({ connectionLimit: 3 }), name, { age: AGE, tick: TICK, nodeName: 'standalone' });
    t.after(() => other.close());
    void other.acquire();
    await leader.close();
    await once(other, 'elected');
    assert.equal(other.term, 2);
  });

  it('a tenure lost while a batch is in flight aborts its signal with the reason', async (t) => {
    const { leases } = engine(t);
    const [name] = names(1) as [string];
    const leader = leases.leader(name, { onError: () => undefined });
    void leader.acquire();
    await once(leader, 'elected');
    const signal = leader.signal;
    await forceRelease(db.pool, name);
    await once(signal, 'abort');
    assert.ok(signal.reason instanceof LeadershipEndedError);
    assert.equal(signal.reason.reason, 'lost');
  });
});
