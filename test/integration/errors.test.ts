/**
 * Operational errors against a real server: a missing or foreign table, no
 * permission, a read-only server, an unreachable server, a table dropped
 * mid-election, a connection of the hand-over lock killed. Each gets a clear
 * error, keeps the driver's error as `cause`, and writes nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createPool } from 'mysql2/promise';
import { startPrivateMariadb } from '../../src/cli/harness/private-mariadb.js';
import {
  DatabaseError,
  MysqlLeader,
  SchemaError,
  continueOnError,
  createMysqlLeaderTable,
  type MysqlLeaderOptions,
  type RevokedEvent,
} from '../../src/index.js';
import { adminQuery, useDatabase } from '../support/database.js';

const FAST: MysqlLeaderOptions = { age: 2000, tick: 500 };
const db = await useDatabase('errors');
let elections = 0;

async function rowCount(table: string): Promise<number> {
  const [rows] = await db.pool.query(`SELECT COUNT(*) AS n FROM \`${table}\``);
  return Number((rows as { n: number }[])[0]?.n);
}

describe('errors: the election table', () => {
  it('a missing table rejects acquire() with a SchemaError that says how to create it', async () => {
    const leader = new MysqlLeader(db.pool, 'jobs', { ...FAST, tableName: 'no_such_table' });
    await assert.rejects(leader.acquire(), (error: unknown) => {
      assert.ok(error instanceof SchemaError);
      assert.equal(error.code, 'ERR_MYSQL_LEADER_SCHEMA');
      assert.match(error.message, /`no_such_table` does not exist\. Create it with createMysqlLeaderTable\(db\) or apply CREATE_MYSQL_LEADER_SQL/);
      assert.equal((error.cause as { errno?: number }).errno, 1146);
      return true;
    });
    await leader.close();
  });

  it("the Go package's three-column table is recognised and left untouched", async () => {
    await db.pool.query(
      'CREATE TABLE go_election (leader_name VARCHAR(255) NOT NULL PRIMARY KEY, node_name VARCHAR(255) NOT NULL, last_update DATETIME NOT NULL)',
    );
    await db.pool.query("INSERT INTO go_election VALUES ('jobs', 'old-node', UTC_TIMESTAMP())");
    const leader = new MysqlLeader(db.pool, 'jobs', { ...FAST, tableName: 'go_election' });
    await assert.rejects(leader.acquire(), { name: 'SchemaError', message: /has the Go package's columns \(leader_name, node_name, last_update\)/ });
    await assert.rejects(createMysqlLeaderTable(db.pool, { tableName: 'go_election' }), { name: 'SchemaError', message: /Go package's columns/ });
    const [rows] = await db.pool.query('SELECT node_name FROM go_election');
    assert.deepEqual(rows, [{ node_name: 'old-node' }]);
    await leader.close();
  });

  for (const [label, type] of [
    ['DATETIME without fractions (ends leases early by up to a second)', 'DATETIME'],
    ['TIMESTAMP(6) (depends on the session time zone)', 'TIMESTAMP(6) NULL'],
  ] as const) {
    it(`a table whose times are ${label} is refused before any write`, async () => {
      const table = `unsafe_${++elections}`;
      await db.pool.query(
        `CREATE TABLE ${table} (leader_name VARCHAR(255) NOT NULL PRIMARY KEY, node_name VARCHAR(255) NOT NULL, term BIGINT UNSIGNED NOT NULL, acquired_at ${type}, renewed_at ${type}, expires_at ${type})`,
      );
      const leader = new MysqlLeader(db.pool, 'jobs', { ...FAST, tableName: table });
      await assert.rejects(leader.acquire(), {
        name: 'SchemaError',
        message: /has unsafe column types: acquired_at is .*, not DATETIME\(6\); renewed_at .*; expires_at .*Recreate it from CREATE_MYSQL_LEADER_SQL/,
      });
      await assert.rejects(createMysqlLeaderTable(db.pool, { tableName: table }), { name: 'SchemaError', message: /unsafe column types/ });
      await leader.close();
      assert.equal(await rowCount(table), 0);
    });
  }

  it('createMysqlLeaderTable() is idempotent, also for schema.table', async () => {
    await createMysqlLeaderTable(db.pool, { tableName: 'twice' });
    await createMysqlLeaderTable(db.pool, { tableName: 'twice' });
    await createMysqlLeaderTable(db.pool, { tableName: `${db.name}.qualified` });
    const leader = new MysqlLeader(db.pool, 'q', { ...FAST, tableName: `${db.name}.qualified` });
    void leader.acquire();
    await once(leader, 'elected');
    await leader.close();
    assert.equal(await rowCount('qualified'), 1);
  });
});

describe('errors: the server refuses', () => {
  it('a user without write permission gets a DatabaseError saying so, and nothing is written', async () => {
    await createMysqlLeaderTable(db.pool, { tableName: 'guarded' });
    const user = `mlt_ro_${randomBytes(3).toString('hex')}`;
    await adminQuery(`CREATE USER '${user}'@'%' IDENTIFIED BY 'pw'`);
    await adminQuery(`GRANT SELECT ON \`${db.name}\`.* TO '${user}'@'%'`);
    const url = new URL(db.url);
    url.username = user;
    url.password = 'pw';
    const pool = createPool({ uri: url.toString(), connectionLimit: 2 });
    try {
      const leader = new MysqlLeader(pool, 'jobs', { ...FAST, tableName: 'guarded' });
      await assert.rejects(leader.acquire(), (error: unknown) => {
        assert.ok(error instanceof DatabaseError);
        assert.match(
          error.message,
          /claiming the lease failed: .*INSERT command denied.* \(permission denied: the user needs SELECT, INSERT and UPDATE on the election table\)/,
        );
        assert.equal(error.sqlCode, 'ER_TABLEACCESS_DENIED_ERROR');
        return true;
      });
      await leader.close();
      assert.equal(await rowCount('guarded'), 0);
    } finally {
      await pool.end();
      await adminQuery(`DROP USER '${user}'@'%'`);
    }
  });

  it('a read-only server gets a DatabaseError saying so, and nothing is written', async () => {
    const server = await startPrivateMariadb();
    const admin = createPool({ uri: server.url, connectionLimit: 1 });
    try {
      await createMysqlLeaderTable(admin);
      await admin.query("CREATE USER 'app'@'%' IDENTIFIED BY 'pw'");
      await admin.query("GRANT SELECT, INSERT, UPDATE ON test.* TO 'app'@'%'");
      await admin.query('SET GLOBAL read_only = 1');
      const pool = createPool({ uri: server.url.replace('root@', 'app:pw@'), connectionLimit: 2 });
      const leader = new MysqlLeader(pool, 'jobs', FAST);
      await assert.rejects(leader.acquire(), {
        name: 'DatabaseError',
        message: /read-only.*\(the server is read-only: point every participant at the primary\)/,
      });
      await leader.close();
      await pool.end();
      const [rows] = await admin.query('SELECT COUNT(*) AS n FROM leader_election');
      assert.deepEqual(rows, [{ n: 0 }]);
    } finally {
      await admin.end();
      await server.stop();
    }
  });

  it('an unreachable server rejects acquire() with a DatabaseError that keeps the driver error', async () => {
    const pool = createPool({ host: '127.0.0.1', port: 1, user: 'root', connectionLimit: 1 });
    const leader = new MysqlLeader(pool, 'jobs', FAST);
    await assert.rejects(leader.acquire(), (error: unknown) => {
      assert.ok(error instanceof DatabaseError);
      assert.match(error.message, /^asking whether the server is a Galera node failed: .*ECONNREFUSED/);
      assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED');
      return true;
    });
    await leader.close();
    await pool.end();
  });
});

describe('errors: the hand-over lock', () => {
  it('a killed wait on the hand-over lock reaches error listeners as a DatabaseError with a code, and the campaign goes on', async () => {
    const table = 'handover';
    await createMysqlLeaderTable(db.pool, { tableName: table });
    const name = `handover-${++elections}`;
    const leader = new MysqlLeader(db.newPool({ connectionLimit: 3 }), name, { ...FAST, tableName: table, nodeName: 'a' });
    void leader.acquire();
    await once(leader, 'elected');
    await delay(300); // the leader now holds the hand-over lock: a GET_LOCK still running is the follower's wait.
    const follower = new MysqlLeader(db.newPool({ connectionLimit: 3 }), name, { ...FAST, tableName: table, nodeName: 'b' });
    let settled = false;
    const campaign = follower.acquire().finally(() => (settled = true));
    const emitted = once(follower, 'error') as Promise<[Error]>;
    let waiting: number | undefined;
    for (let i = 0; i < 100 && waiting === undefined; i++) {
      const [found] = await db.pool.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT GET_LOCK(%'", [db.name]);
      waiting = (found as { id: number }[])[0]?.id;
      if (waiting === undefined) await delay(20);
    }
    assert.ok(waiting !== undefined, 'the follower waits on the hand-over lock');
    await db.pool.query(`KILL ${Number(waiting)}`);
    const [error] = await emitted;
    assert.ok(error instanceof DatabaseError, `${error.name}: ${error.message}`);
    assert.equal(error.code, 'ERR_MYSQL_LEADER_DATABASE');
    assert.match(error.message, /^waiting on the hand-over lock failed: /);
    assert.ok(error.cause !== undefined, "the driver's error is kept as cause");
    assert.equal(settled, false, 'the hand-over lock only speeds things up: its errors are not fatal');
    const tookOver = once(follower, 'elected');
    await leader.close();
    await tookOver;
    await follower.close();
    await campaign;
  });
});

describe('errors: a table dropped mid-election', () => {
  it('abortOnError (the default): the leader steps down and acquire() rejects with the SchemaError', async () => {
    const table = `dropped_${++elections}`;
    await createMysqlLeaderTable(db.pool, { tableName: table });
    const leader = new MysqlLeader(db.pool, 'jobs', { ...FAST, tableName: table });
    const campaign = leader.acquire();
    await once(leader, 'elected');
    const revoked = once(leader, 'revoked') as Promise<[RevokedEvent]>;
    await db.pool.query(`DROP TABLE \`${table}\``);
    await assert.rejects(campaign, { name: 'SchemaError' });
    assert.equal((await revoked)[0].reason, 'error');
    assert.equal(leader.leading, false);
    await leader.close();
  });

  it('continueOnError: errors are emitted, the campaign goes on, and it leads again once the table is back', async () => {
    const table = `dropped_${++elections}`;
    await createMysqlLeaderTable(db.pool, { tableName: table });
    const leader = new MysqlLeader(db.pool, 'jobs', { ...FAST, tableName: table, onError: continueOnError });
    const errors: Error[] = [];
    leader.on('error', (error) => errors.push(error));
    let settled = false;
    const campaign = leader.acquire().finally(() => (settled = true));
    await once(leader, 'elected');
    await db.pool.query(`DROP TABLE \`${table}\``);
    await once(leader, 'revoked');
    await once(leader, 'error');
    assert.equal(settled, false);
    await createMysqlLeaderTable(db.pool, { tableName: table });
    const [{ term }] = (await once(leader, 'elected')) as [{ term: number }];
    assert.ok(term > 1, `a new table does not give term 1 again to a participant that knew it: term ${term}`);
    assert.ok(errors.length >= 1 && errors.every((error) => error instanceof SchemaError));
    await leader.close();
    await campaign;
  });
});
