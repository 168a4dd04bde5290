/**
 * Leader-only work against a real server: fenced transactions serialize
 * the leader's writes with changes of leader; a stale leader writes nothing;
 * tenure tasks are drained before the lease is released.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createConnection, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import { MysqlLeader, MysqlLeaderError, NotLeaderError, createMysqlLeaderTable } from '../../src/index.js';
import { ParticipantProcess } from '../../src/cli/harness/participant-process.js';
import { tenuresOf } from '../../src/cli/harness/tenures.js';
import { useDatabase } from '../support/database.js';
import { electionsOn } from '../support/leaders.js';

const AGE = 2000;
const TICK = 500;
const db = await useDatabase('fencing');
await createMysqlLeaderTable(db.pool);
await db.pool.query('CREATE TABLE writes (id BIGINT AUTO_INCREMENT PRIMARY KEY, term BIGINT NOT NULL, node VARCHAR(64) NOT NULL, seq INT NOT NULL)');
await db.pool.query('CREATE TABLE counter (n INT NOT NULL)');
await db.pool.query('INSERT INTO counter VALUES (0)');

const elections = electionsOn(db, { age: AGE, tick: TICK }, 4);
const { group } = elections;

async function elected(leader: MysqlLeader): Promise<number> {
  if (!leader.leading) await once(leader, 'elected');
  return leader.term as number;
}

async function rows<T>(sql: string, values: unknown[] = []): Promise<T[]> {
  const [result] = await db.pool.query<RowDataPacket[]>(sql, values);
  return result as T[];
}

describe('withLeadership', () => {
  it('commits what fn wrote and returns its value; rolls back and rethrows its error unchanged', async () => {
    const [leader] = group(1);
    assert.ok(leader);
    void leader.acquire();
    const term = await elected(leader);
    const value = await leader.withLeadership(async (conn, tenure) => {
      await conn.query('INSERT INTO writes (term, node, seq) VALUES (?, ?, 1)', [tenure.term, 'commit']);
      return tenure.term;
    });
    assert.equal(value, term);
    const failure = new Error('boom');
    await assert.rejects(
      leader.withLeadership(async (conn) => {
        await conn.query("INSERT INTO writes (term, node, seq) VALUES (0, 'rollback', 1)");
        throw failure;
      }),
      (error) => error === failure && /fencing\.test\.ts/.test(String((error as Error).stack)),
    );
    assert.deepEqual(await rows("SELECT node FROM writes WHERE node IN ('commit', 'rollback')"), [{ node: 'commit' }]);
    assert.equal(leader.term, term, 'the lease is untouched');
    await leader.close();
  });

  it('rejects with NotLeaderError on a follower, and with ClosedError after close(), before any query', async () => {
    const [a, b] = group(2, { handoverLock: false });
    assert.ok(a && b);
    void a.acquire();
    await elected(a);
    void b.acquire();
    let called = false;
    await assert.rejects(
      b.withLeadership(async () => void (called = true)),
      (error) => error instanceof NotLeaderError && error.code === 'ERR_MYSQL_LEADER_NOT_LEADER',
    );
    await a.close();
    await assert.rejects(
      a.withLeadership(async () => void (called = true)),
      { code: 'ERR_MYSQL_LEADER_CLOSED' },
    );
    assert.equal(called, false);
    await b.close();
  });

  it('rolls back with NotLeaderError when the database says the lease is gone, even if the node still believes it leads', async () => {
    const [leader] = group(1);
    assert.ok(leader);
    void leader.acquire();
    const term = await elected(leader);
    // An operator forces the lease to another node behind the leader's back.
    await db.pool.query("UPDATE leader_election SET node_name = 'intruder', term = term + 1 WHERE leader_name = ?", [leader.leaderName]);
    assert.equal(leader.term, term, 'it has not noticed yet');
    let called = false;
    await assert.rejects(
      leader.withLeadership(async () => void (called = true)),
      (error) => error instanceof NotLeaderError && /checked in the database/.test(error.message),
    );
    assert.equal(called, false);
    await leader.close();
  });

  it('takes its connection from options.db, and the dropped connection mid-fn rolls back and surfaces the driver error', async () => {
    const [leader] = group(1);
    assert.ok(leader);
    const appPool = db.newPool({ connectionLimit: 2 });
    void leader.acquire();
    await elected(leader);
    await assert.rejects(
      leader.withLeadership(
        async (conn: PoolConnection) => {
          await conn.query("INSERT INTO writes (term, node, seq) VALUES (0, 'dropped', 1)");
          const [[{ id }]] = (await conn.query('SELECT CONNECTION_ID() AS id')) as unknown as [[{ id: number }]];
          await db.pool.query(`KILL ${Number(id)}`);
          await conn.query('SELECT 1');
        },
        { db: appPool },
      ),
      // The driver's own error (mysql2: the socket was ended, or is closed), not one of ours.
      (error) => error instanceof Error && !(error instanceof MysqlLeaderError),
    );
    assert.deepEqual(await rows("SELECT id FROM writes WHERE node = 'dropped'"), []);
    assert.equal(await leader.withLeadership(async () => 'still leading', { db: appPool }), 'still leading');
    await leader.close();
  });

  it('on a leader built on a single connection, needs options.db: its renewals must not run inside the transaction', async () => {
    const own = await createConnection(db.url);
    const other = await createConnection(db.url);
    const leader = new MysqlLeader(own, elections.name('single'), { age: AGE, tick: TICK });
    elections.track(leader);
    void leader.acquire();
    await elected(leader);
    await assert.rejects(
      leader.withLeadership(async () => 1),
      { name: 'TypeError', message: /needs options\.db/ },
    );
    await assert.rejects(
      leader.withLeadership(async () => 1, { db: own }),
      { name: 'TypeError' },
    );
    assert.equal(await leader.withLeadership(async () => 2, { db: other }), 2);
    await leader.close();
    await Promise.all([own.end(), other.end()]);
  });

  it('a take-over attempted while a fenced transaction is open waits until it commits; the new term writes after', async () => {
    const [a] = group(1);
    assert.ok(a);
    void a.acquire();
    const term = await elected(a);
    let lastWriteAt = 0;
    const revoked = new Promise((resolve) => a.once('revoked', resolve)); // its renewal will find the row taken.
    const fenced = a.withLeadership(async (conn) => {
      await conn.query("INSERT INTO writes (term, node, seq) VALUES (?, 'old', 1)", [term]);
      await conn.query('DO SLEEP(1)'); // the take-over below is attempted now, and must wait.
      await conn.query("INSERT INTO writes (term, node, seq) VALUES (?, 'old', 2)", [term]);
      lastWriteAt = performance.now(); // COMMIT is sent after this.
    });
    await delay(300);
    // A take-over of the row by force (the conditional claim would not even match a live lease).
    const intruder = await db.pool.getConnection();
    await intruder.query(
      "UPDATE leader_election SET node_name = 'intruder', term = term + 1, expires_at = UTC_TIMESTAMP(6) + INTERVAL 5 SECOND WHERE leader_name = ?",
      [a.leaderName],
    );
    const takenAt = performance.now();
    await intruder.query("INSERT INTO writes (term, node, seq) VALUES (?, 'new', 1)", [term + 1]);
    intruder.release();
    await fenced;
    assert.ok(takenAt > lastWriteAt, `the take-over went through ${(lastWriteAt - takenAt).toFixed(0)} ms before the fenced transaction's last write`);
    const order = await rows<{ node: string; seq: number }>("SELECT node, seq FROM writes WHERE node IN ('old', 'new') ORDER BY id");
    assert.deepEqual(order, [
      { node: 'old', seq: 1 },
      { node: 'old', seq: 2 },
      { node: 'new', seq: 1 },
    ]);
    await revoked;
    await a.close();
  });

  it('a fenced transaction still running when the tenure ends is rolled back at once: nothing of the tenure lands after it', async () => {
    const [a] = group(1);
    assert.ok(a);
    void a.acquire();
    const term = await elected(a);
    const started = performance.now();
    await assert.rejects(
      a.withLeadership(async (conn) => {
        await conn.query("INSERT INTO writes (term, node, seq) VALUES (?, 'outlived', 1)", [term]);
        await conn.query('DO SLEEP(?)', [(3 * AGE) / 1000]); // longer than the lease
      }),
      (error) => error instanceof NotLeaderError && /rolled back/.test(error.message),
    );
    const took = performance.now() - started;
    assert.ok(took < AGE + TICK, `answered ${took.toFixed(0)} ms later, at the end of the tenure, not of the statement`);
    assert.equal(a.leading, false);
    assert.deepEqual(await rows("SELECT id FROM writes WHERE node = 'outlived'"), []);
    await a.close();
  });
});

describe('fenced work across processes', () => {
  const worker = fileURLToPath(new URL('../fixtures/fenced-worker.ts', import.meta.url));
  const start = async (count: number): Promise<ParticipantProcess[]> => {
    const name = elections.name();
    const workers = Array.from(
      { length: count },
      (_, i) =>
        new ParticipantProcess({ url: db.url, leaderName: name, nodeName: `w${i}`, age: AGE, tick: TICK, table: 'writes' } as never, {}, () => {}, worker),
    );
    for (const w of workers) w.start();
    await Promise.all(workers.map((w) => w.waitFor((r) => r.event === 'ready', 20_000, 'ready')));
    return workers;
  };
  const stopAll = async (workers: ParticipantProcess[]): Promise<void> => {
    for (const w of workers) w.send('close');
    await Promise.all(workers.map((w) => w.exited));
  };

  it('a leader paused with SIGSTOP past age, whose fenced transaction resumes afterwards, gets NotLeaderError and writes nothing', async () => {
    const workers = await start(2);
    const leader = await Promise.any(workers.map(async (w) => (await w.waitFor((r) => r.event === 'elected', 10_000, 'elected'), w)));
    const other = workers.find((w) => w !== leader) as ParticipantProcess;
    const before = (await rows<{ n: number }>('SELECT COUNT(*) AS n FROM writes'))[0]?.n;
    leader.send('stop-then-fence');
    await other.waitFor((r) => r.event === 'elected', AGE + TICK + 2_000, 'take-over while the leader is stopped');
    await delay(200);
    await leader.kill('SIGCONT');
    const result = await leader.waitFor((r) => r.event === 'fence-result', 10_000, 'fence-result');
    assert.equal(result['ok'], false);
    assert.equal(result['code'], 'ERR_MYSQL_LEADER_NOT_LEADER');
    assert.equal((await rows<{ n: number }>('SELECT COUNT(*) AS n FROM writes'))[0]?.n, before, 'nothing written');
    await stopAll(workers);
  });

  it('1,000 fenced increments from 3 competing processes with forced leader changes: no lost or doubled write, each row under the term that held the lease', async (t) => {
    await db.pool.query('UPDATE counter SET n = 0');
    await db.pool.query('DELETE FROM writes');
    const workers = await start(3);
    for (const w of workers) w.send('work');
    const counted = async (): Promise<number> => Number((await rows<{ n: number }>('SELECT n FROM counter'))[0]?.n);
    let changes = 0;
    while ((await counted()) < 1000) {
      await delay(150);
      const current = workers.find((w) => w.leading);
      if (current && (await counted()) < 1000) {
        current.send('resign');
        changes++;
      }
    }
    await stopAll(workers);
    const writes = workers.flatMap((w) => w.reports.filter((r) => r.event === 'write'));
    const counter = await counted();
    const table = await rows<{ term: number; node: string; seq: number }>('SELECT term, node, seq FROM writes ORDER BY id');
    const failed = workers.flatMap((w) => w.reports.filter((r) => r.event === 'write-error'));
    const unknown = failed.filter((r) => r['code'] === 'ERR_MYSQL_LEADER_COMMIT_UNKNOWN').length;
    t.diagnostic(
      `${counter} increments, ${changes} forced leader changes, ${new Set(table.map((row) => row.term)).size} terms, ${unknown} commits unknown, ${failed.length - unknown} other failures`,
    );
    assert.ok(counter >= 1000);
    assert.equal(counter, writes.length, 'the counter equals the number of successful calls');
    assert.equal(table.length, counter, 'one logged row per increment');
    const holder = new Map<number, string>();
    for (const w of workers) for (const tenure of tenuresOf(w.reports)) holder.set(tenure.term, tenure.node);
    let lastTerm = 0;
    for (const row of table) {
      assert.equal(holder.get(Number(row.term)), row.node, `row of ${row.node} under term ${row.term}, held by ${holder.get(Number(row.term))}`);
      assert.ok(Number(row.term) >= lastTerm, 'in commit order, terms never go back');
      lastTerm = Number(row.term);
    }
    for (const w of workers) {
      const seqs = table.filter((row) => row.node === w.name).map((row) => row.seq);
      assert.deepEqual(
        seqs,
        Array.from({ length: seqs.length }, (_, i) => i + 1),
        `${w.name} wrote each seq once, in order`,
      );
    }
    assert.ok(changes >= 3, `only ${changes} leader changes`);
  });
});

describe('runWhileLeader and drain', () => {
  it('close() on a leader running a 500 ms tenure task: the next leader is elected after the task settled', async () => {
    const [a, b] = group(2);
    assert.ok(a && b);
    let settledAt = 0;
    let abortedAt = 0;
    a.runWhileLeader(async ({ signal }) => {
      signal.addEventListener('abort', () => (abortedAt = performance.now()), { once: true });
      await delay(200);
      // It ignores the abort for a while, as slow cleanup would.
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      await delay(500);
      settledAt = performance.now();
    });
    void a.acquire();
    await elected(a);
    void b.acquire();
    await delay(300);
    const bElected = once(b, 'elected').then(() => performance.now());
    const closedAt = performance.now();
    await a.close();
    const electedAt = await bElected;
    assert.ok(abortedAt >= closedAt && abortedAt - closedAt < 50, 'the task was told at once');
    assert.ok(settledAt > 0 && electedAt >= settledAt, `b elected ${(settledAt - electedAt).toFixed(0)} ms before the task settled`);
    await b.close();
  });
});
