/**
 * The replicated harness (src/cli/harness/replicated-mariadb.ts) on real
 * servers: rows replicate; a promotion loses exactly the writes made while
 * replication was paused; the proxy resets its connections and sends new ones
 * to the new primary; the old primary is gone; after rebuildReplica() it
 * fails over again. It starts its own servers: no MYSQL_URL needed.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, beforeEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { startReplicatedMariadb, type ReplicationMember } from '../../src/cli/harness/replicated-mariadb.js';

/** Generous: two servers and the test share two busy cores. */
const DEADLINE_MS = 20_000;

const db = await startReplicatedMariadb();
after(() => db.stop());
await query(db.url, 'CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(64) NOT NULL UNIQUE)');

/** A connection that records its errors (a reset arrives as an `error` event when no statement is running). */
async function connect(url: string): Promise<{ connection: Connection; errors: NodeJS.ErrnoException[] }> {
  const connection = await createConnection({ uri: url, connectTimeout: DEADLINE_MS });
  const errors: NodeJS.ErrnoException[] = [];
  connection.on('error', (error: NodeJS.ErrnoException) => void errors.push(error));
  return { connection, errors };
}

async function query(url: string, sql: string, values: unknown[] = []): Promise<RowDataPacket[]> {
  const { connection } = await connect(url);
  try {
    const [rows] = await connection.query<RowDataPacket[]>(sql, values);
    return rows;
  } finally {
    connection.destroy();
  }
}

async function write(url: string, label: string): Promise<void> {
  await query(url, 'INSERT INTO events (label) VALUES (?)', [label]);
}

async function labels(url: string): Promise<string[]> {
  return (await query(url, 'SELECT label FROM events ORDER BY id')).map((row) => String(row['label']));
}

async function serverId(url: string): Promise<number> {
  return Number((await query(url, 'SELECT @@server_id AS id'))[0]?.['id']);
}

async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + DEADLINE_MS;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`not within ${DEADLINE_MS} ms: ${what}`);
    await delay(20);
  }
}

function replicaOf(): ReplicationMember {
  assert.ok(db.replica, 'a replica');
  return db.replica;
}

/** The old primary is killed: it accepts no connection, so no write. */
async function assertGone(old: ReplicationMember): Promise<void> {
  await assert.rejects(write(old.url, `after-promotion-${old.serverId}`), { code: 'ECONNREFUSED' });
}

describe('replicated MariaDB: a primary, a replica, and a name that moves', () => {
  // Every test starts with a replica, even if the one before failed between promote() and rebuildReplica().
  beforeEach(async () => {
    if (!db.replica) await db.rebuildReplica();
  });

  it('starts a primary and a replica with distinct server ids; a row written through the url reaches the replica', async () => {
    const replica = replicaOf();
    assert.notEqual(db.primary.serverId, replica.serverId);
    assert.equal(await serverId(db.url), db.primary.serverId);
    assert.equal(await serverId(replica.url), replica.serverId);
    await write(db.url, 'replicated');
    await until('the row on the replica', async () => (await labels(replica.url)).includes('replicated'));
  });

  it('promote({ lostWrites: true }) with replication paused: the write made during the pause is lost, the one before it is kept, and the old primary is gone', async () => {
    const old = db.primary;
    const replica = replicaOf();
    await write(db.url, 'before-pause');
    await db.pauseReplication();
    await write(db.url, 'during-pause');
    assert.ok((await labels(old.url)).includes('during-pause'), 'committed on the old primary');
    assert.ok(!(await labels(replica.url)).includes('during-pause'), 'not on the paused replica');

    const promotion = await db.promote({ lostWrites: true });
    assert.equal(promotion.lostTransactions, 1, `${promotion.oldPrimaryGtid} → ${promotion.newPrimaryGtid}`);
    assert.equal(db.primary.serverId, replica.serverId);
    assert.equal(db.replica, undefined);
    assert.equal(await serverId(db.url), replica.serverId);
    for (const url of [db.url, replica.url]) {
      const seen = await labels(url);
      assert.ok(seen.includes('before-pause'), 'the write before the pause is on the new primary');
      assert.ok(!seen.includes('during-pause'), 'the write during the pause is not');
    }
    await write(db.url, 'on-new-primary');
    assert.ok((await labels(replica.url)).includes('on-new-primary'));
    await assertGone(old);
  });

  it('on promote() the proxy resets every connection, busy or idle; a new one reaches the new primary; nothing is lost without lostWrites', async () => {
    const replica = replicaOf();
    const idle = await connect(db.url);
    const busy = await connect(db.url);
    try {
      const sleeping = busy.connection.query('SELECT SLEEP(60)');
      sleeping.catch(() => {}); // asserted below.
      await until(
        'the SLEEP running on the primary',
        async () => (await query(db.primary.url, "SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(60)'")).length > 0,
      );
      await write(db.url, 'just-before-promotion'); // not waited for on the replica: the promotion catches up.

      const promotion = await db.promote();
      assert.equal(promotion.lostTransactions, 0);
      assert.ok(promotion.resetConnections >= 2, `reset ${promotion.resetConnections}`);
      await assert.rejects(sleeping, { code: 'ECONNRESET' });
      await until('the idle connection told of its reset', async () => idle.errors.length > 0);
      assert.equal(idle.errors[0]?.code, 'ECONNRESET');
      await assert.rejects(idle.connection.query('SELECT 1'));

      assert.equal(await serverId(db.url), replica.serverId);
      assert.ok((await labels(db.url)).includes('just-before-promotion'));
    } finally {
      idle.connection.destroy();
      busy.connection.destroy();
    }
  });

  it('rebuildReplica() then promote({ lostWrites: true }) works three times in a row', async (t) => {
    for (let round = 1; round <= 3; round++) {
      if (!db.replica) {
        const began = performance.now();
        await db.rebuildReplica();
        t.diagnostic(`round ${round}: rebuildReplica() ${(performance.now() - began).toFixed(0)} ms`);
      }
      const old = db.primary;
      const replica = replicaOf();
      assert.ok(replica.serverId !== old.serverId);
      await write(db.url, `kept-${round}`);
      await db.pauseReplication();
      await write(db.url, `lost-${round}`);
      const promotion = await db.promote({ lostWrites: true });
      t.diagnostic(`round ${round}: promote() ${promotion.ms.toFixed(0)} ms, ${promotion.oldPrimaryGtid} → ${promotion.newPrimaryGtid}`);
      assert.equal(promotion.lostTransactions, 1);
      assert.equal(await serverId(db.url), replica.serverId);
      const seen = await labels(db.url);
      assert.ok(seen.includes(`kept-${round}`) && !seen.includes(`lost-${round}`), seen.join(', '));
      await write(db.url, `written-${round}`);
      await assertGone(old);
    }
  });

  it('resumeReplication() after pauseReplication() delivers what was written meanwhile', async () => {
    const replica = replicaOf();
    await db.pauseReplication();
    await write(db.url, 'while-paused');
    assert.ok(!(await labels(replica.url)).includes('while-paused'));
    await db.resumeReplication();
    await until('the row written while paused on the replica', async () => (await labels(replica.url)).includes('while-paused'));
  });

  it('stop() ends the servers and the proxy, and can be called again', async () => {
    const members = [db.primary, replicaOf()];
    await db.stop();
    await db.stop();
    await assert.rejects(query(db.url, 'SELECT 1'), { code: 'ECONNREFUSED' });
    for (const member of members) await assertGone(member);
  });
});
