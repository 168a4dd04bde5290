/**
 * The protocol's statements against a real server: who wins, what the
 * database clock says, and what the terms become.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { createMysqlLeaderTable, type Queryable } from '../../src/index.js';
import { Driver } from '../../src/mysql/driver.js';
import { MysqlStore } from '../../src/mysql/store.js';
import type { ObservedLease } from '../../src/store.js';
import { useDatabase } from '../support/database.js';

const db = await useDatabase('protocol');
const AGE = 400;
const signal = new AbortController().signal;
let election = 0;

/** A store on a fresh election name. */
function store(ageMs = AGE, pool = db.pool): MysqlStore {
  election++;
  return new MysqlStore(new Driver(pool), `election-${election}`, { tableName: 'leader_election', age: ageMs, tick: ageMs / 4, handoverLock: false });
}

before(async () => {
  await createMysqlLeaderTable(db.pool);
});

/** The row as it is now (it exists). */
async function row(s: MysqlStore): Promise<ObservedLease> {
  const { lease } = await s.read(signal);
  assert.ok(lease, 'the row exists');
  return lease;
}

describe('protocol: claim', () => {
  it('creates the row with term 1 when it is absent; a second creation loses', async () => {
    const s = store();
    assert.equal((await s.read(signal)).lease, undefined);
    assert.equal(await s.claim('a', undefined, 0, signal), 1);
    assert.equal(await s.claim('b', undefined, 0, signal), undefined);
    const lease = await row(s);
    assert.equal(lease.nodeName, 'a');
    assert.equal(lease.term, 1);
    assert.equal(lease.released, false);
  });

  it('takes over only the version it read, with the next term, returned in the same round trip', async () => {
    const s = store();
    await s.claim('a', undefined, 0, signal);
    const seen = await row(s);
    assert.equal(await s.renew('a', 1, signal), true);
    assert.equal(await s.claim('b', seen, 0, signal), undefined, 'the row was written since');
    const renewed = await row(s);
    assert.notEqual(renewed.version, seen.version, 'a renewal gives a new version');
    assert.equal(await s.claim('b', renewed, 0, signal), 2, 'whatever the database clock says of the lease');
    assert.equal(await s.claim('c', renewed, 0, signal), undefined, 'b holds it now');
    assert.equal((await row(s)).nodeName, 'b');
  });

  it('lets exactly one of many concurrent claimants win', async () => {
    const s = store();
    await s.claim('seed', undefined, 0, signal);
    const seen = await row(s);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => s.claim(`n${i}`, seen, 0, signal)));
    assert.deepEqual(
      results.filter((term) => term !== undefined),
      [2],
    );
  });

  it('a claim never gives a term below the minimum it is told (terms never go back after a failover lost the last writes)', async () => {
    const s = store();
    assert.equal(await s.claim('a', undefined, 1_000_007, signal), 1_000_007, 'a row created anew');
    const seen = await row(s);
    assert.equal(await s.claim('b', seen, 5, signal), 1_000_008, 'the next term when it is greater');
    assert.equal(await s.claim('c', await row(s), 3_000_000, signal), 3_000_000);
  });

  it('the version moves on with every write, even when the server clock is behind the row (another node, a stepped clock)', async () => {
    const s = store(60_000);
    await s.claim('a', undefined, 0, signal);
    // A row written by a server an hour ahead of this one.
    await db.pool.query(
      'UPDATE leader_election SET renewed_at = renewed_at + INTERVAL 1 HOUR, expires_at = expires_at + INTERVAL 1 HOUR WHERE leader_name = ?',
      [`election-${election}`],
    );
    const ahead = await row(s);
    assert.equal(await s.renew('a', 1, signal), true);
    const renewed = await row(s);
    assert.ok(renewed.version > ahead.version, `renewed_at moved on: ${ahead.version} → ${renewed.version}`);
    assert.equal(renewed.released, false, 'still held: expires_at follows renewed_at');
    assert.equal(await s.release('a', 1, signal), true);
    const released = await row(s);
    assert.equal(released.released, true, 'released, though the server clock is an hour behind the row');
    assert.ok(released.version > renewed.version);
    assert.equal(released.expiresInMs, 0, 'a released lease has no life left, whatever the clocks say');
  });
});

describe('protocol: read', () => {
  it('says which server answered, row or no row, and the row only when it exists (a failover is noticed on an absent row too)', async () => {
    const [[server]] = (await db.pool.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
    const s = store();
    const absent = await s.read(signal);
    assert.deepEqual(absent, { lease: undefined, coordinator: String(server.id) });
    await s.claim('a', undefined, 0, signal);
    const present = await s.read(signal);
    assert.equal(present.coordinator, String(server.id));
    assert.equal(present.lease?.nodeName, 'a');
    assert.equal(present.lease?.term, 1);
  });
});

describe('protocol: renew and release', () => {
  it('renews only for the holder, under its term, while the lease is held', async () => {
    const s = store();
    await s.claim('a', undefined, 0, signal);
    assert.equal(await s.renew('b', 1, signal), false, 'another node');
    assert.equal(await s.renew('a', 2, signal), false, 'another term');
    await delay(AGE / 2);
    assert.equal(await s.renew('a', 1, signal), true);
    const lease = await row(s);
    assert.ok(lease.expiresInMs > AGE - 50, `renewed for a full age: ${lease.expiresInMs} ms left`);
  });

  it('renews a lease that lapsed by the database clock but that nobody took: the clock decides nothing', async () => {
    const s = store();
    await s.claim('a', undefined, 0, signal);
    await delay(AGE + 20);
    assert.ok((await row(s)).expiresInMs <= 0, 'lapsed by the database clock');
    assert.equal(await s.renew('a', 1, signal), true);
    assert.equal((await row(s)).term, 1);
  });

  it('release ends a held lease now, so another node takes over at once; a stale release does nothing', async () => {
    const s = store(60_000);
    await s.claim('a', undefined, 0, signal);
    assert.equal(await s.release('a', 7, signal), false, 'wrong term');
    assert.equal(await s.release('b', 1, signal), false, 'wrong node');
    assert.equal(await s.release('a', 1, signal), true);
    const released = await row(s);
    assert.equal(released.released, true);
    assert.ok(released.expiresInMs <= 0);
    assert.equal(await s.release('a', 1, signal), false, 'already released');
    assert.equal(await s.renew('a', 1, signal), false, 'a released lease is never renewed');
    assert.equal(await s.claim('b', released, 0, signal), 2);
    assert.equal(await s.renew('a', 1, signal), false, 'the old tenure cannot come back');
  });
});

describe('protocol: abandoned statements', () => {
  it('a claim abandoned while it waits on a row lock is killed on the server: it never lands later', async () => {
    const s = store(100);
    await s.claim('old', undefined, 0, signal);
    const seen = await row(s); // a claim on this version would win, once the row is free.
    const locker = await db.pool.getConnection();
    await locker.query('START TRANSACTION');
    await locker.query('SELECT * FROM leader_election WHERE leader_name = ? FOR UPDATE', [`election-${election}`]);
    await assert.rejects(s.claim('late', seen, 0, AbortSignal.timeout(300)), { name: 'TimeoutError' });
    await delay(500); // the best-effort KILL runs in the background.
    await locker.query('COMMIT');
    locker.release();
    await delay(100);
    assert.equal((await row(s)).nodeName, 'old', 'the abandoned claim did not land');
  });
});

describe('protocol: statements on one pool', () => {
  it('a signal serves statement after statement: each takes its listener back, whether it succeeds, fails or waits for a connection', async () => {
    const shared = new AbortController().signal;
    const small = db.newPool({ connectionLimit: 1 });
    const s = new MysqlStore(new Driver(small), `election-${++election}`, { tableName: 'leader_election', age: AGE, tick: AGE / 4, handoverLock: false });
    const missing = new MysqlStore(new Driver(small), 'x', { tableName: 'no_such_table', age: AGE, tick: AGE / 4, handoverLock: false });
    await s.claim('a', undefined, 0, shared);
    // Ten at once on one connection: nine wait in the pool's queue first.
    assert.deepEqual(await Promise.all(Array.from({ length: 10 }, () => s.renew('a', 1, shared))), Array(10).fill(true));
    await assert.rejects(missing.read(shared), { name: 'SchemaError' });
    assert.equal(await s.release('a', 1, shared), true);
    assert.equal(getEventListeners(shared, 'abort').length, 0);
  });

  it('elections that start together on one handle share one check of the table; one that starts later checks again', async () => {
    const { handle, statements } = recording(db.pool);
    const checks = (): number => statements.filter((sql) => sql.includes('information_schema.COLUMNS')).length;
    const stores = Array.from(
      { length: 20 },
      () => new MysqlStore(new Driver(handle), `election-${++election}`, { tableName: 'leader_election', age: AGE, tick: AGE / 4, handoverLock: false }),
    );
    assert.deepEqual(await Promise.all(stores.map((s) => s.claim('a', undefined, 0, signal))), Array(20).fill(1));
    assert.equal(checks(), 1);
    const later = new MysqlStore(new Driver(handle), `election-${++election}`, { tableName: 'leader_election', age: AGE, tick: AGE / 4, handoverLock: false });
    assert.equal(await later.claim('a', undefined, 0, signal), 1);
    assert.equal(checks(), 2);
  });
});

/** `pool` behind a handle that records every statement sent through it or its connections. */
function recording(pool: Pool): { handle: Queryable; statements: string[] } {
  const statements: string[] = [];
  const record = (target: { query(sql: string, values?: unknown[]): unknown }) => (sql: string, values?: unknown[]) => {
    statements.push(sql);
    return target.query(sql, values);
  };
  const handle = {
    query: record(pool),
    async getConnection() {
      const connection = await pool.getConnection();
      return Object.assign(Object.create(connection) as PoolConnection, { query: record(connection) });
    },
  };
  return { handle, statements };
}

describe('protocol: the database clock', () => {
  it('stores UTC with microseconds and reports the remaining life from the server clock, whatever the session time zone', async () => {
    const zoned = db.newPool({ connectionLimit: 1 });
    await zoned.query("SET time_zone = '+05:00'"); // a session far from UTC (the pool's only connection).
    const s = store(10_000, zoned);
    const before = Date.now();
    await s.claim('a', undefined, 0, signal);
    const { lease } = await s.read(signal);
    assert.ok(lease);
    assert.ok(Math.abs(lease.acquiredAt.getTime() - before) < 2_000, `acquired_at ${lease.acquiredAt.toISOString()} is UTC`);
    assert.ok(lease.expiresInMs > 9_000 && lease.expiresInMs <= 10_000, `${lease.expiresInMs} ms left of 10 s`);
    const [rows] = await db.pool.query(
      'SELECT DATE_FORMAT(expires_at, "%f") AS us, TIMESTAMPDIFF(MICROSECOND, acquired_at, expires_at) AS span FROM leader_election WHERE leader_name = ?',
      [`election-${election}`],
    );
    const [row] = rows as { us: string; span: number }[];
    assert.equal(Number(row?.span), 10_000_000, 'expires_at = acquired_at + age, to the microsecond');
  });
});
