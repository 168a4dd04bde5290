/**
 * The handles users already have: mysql2's promise and callback pools, a
 * single mysql2 connection, the mariadb connector's pool, and any object
 * with a compatible query().
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import * as mariadb from 'mariadb';
import mysql from 'mysql2';
import { createConnection } from 'mysql2/promise';
import { MysqlLeader, createMysqlLeaderTable, type Queryable } from '../../src/index.js';
import { useDatabase } from '../support/database.js';

const db = await useDatabase('drivers');
await createMysqlLeaderTable(db.pool);
let elections = 0;

/** Two participants on `handles`: the first is elected, closes, and the second takes over with the next term. */
async function electAndHandOver(handles: [Queryable, Queryable]): Promise<number[]> {
  const name = `election-${++elections}`;
  const [a, b] = handles.map((handle, i) => new MysqlLeader(handle, name, { nodeName: `n${i}`, age: 2000, tick: 500 })) as [MysqlLeader, MysqlLeader];
  const terms: number[] = [];
  void a.acquire();
  terms.push(((await once(a, 'elected')) as [{ term: number }])[0].term);
  void b.acquire();
  const tookOver = once(b, 'elected') as Promise<[{ term: number }]>;
  await a.close();
  terms.push((await tookOver)[0].term);
  assert.equal((await b.currentLeader())?.nodeName, 'n1');
  await b.close();
  return terms;
}

describe('drivers', () => {
  it('mysql2/promise pools', async () => {
    assert.deepEqual(await electAndHandOver([db.newPool(), db.newPool()]), [1, 2]);
  });

  it('mysql2 callback pools', async () => {
    const pools = [mysql.createPool({ uri: db.url, connectionLimit: 3 }), mysql.createPool({ uri: db.url, connectionLimit: 3 })] as const;
    try {
      assert.deepEqual(await electAndHandOver([pools[0], pools[1]]), [1, 2]);
    } finally {
      await Promise.all(pools.map((pool) => new Promise((resolve) => pool.end(resolve))));
    }
  });

  it('single mysql2 connections (no hand-over lock: followers poll)', async () => {
    const connections = await Promise.all([createConnection(db.url), createConnection(db.url)]);
    try {
      assert.deepEqual(await electAndHandOver([connections[0], connections[1]]), [1, 2]);
    } finally {
      await Promise.all(connections.map((connection) => connection.end()));
    }
  });

  it('mariadb connector pools (BIGINT as bigint, rows without fields)', async () => {
    const url = new URL(db.url);
    const config = { host: url.hostname, port: Number(url.port), user: 'root', database: db.name, connectionLimit: 3 };
    const pools = [mariadb.createPool(config), mariadb.createPool(config)] as const;
    try {
      assert.deepEqual(await electAndHandOver([pools[0], pools[1]]), [1, 2]);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('any object with a compatible query(sql, values)', async () => {
    const wrap = (): Queryable => {
      const pool = db.newPool();
      return { query: (sql: string, values: unknown[]) => pool.query(sql, values) };
    };
    assert.deepEqual(await electAndHandOver([wrap(), wrap()]), [1, 2]);
  });

  it('a handle whose query() does not return a promise is refused with a clear error', async () => {
    const leader = new MysqlLeader({ query: () => undefined }, 'x');
    await assert.rejects(leader.acquire(), { message: /db\.query\(\) did not return a promise/ });
    await leader.close();
  });
});
