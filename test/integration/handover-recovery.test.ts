/**
 * The hand-over lock degrades, then recovers: when the pool has no
 * connection to spare for the election, the lock's connection is given back
 * (followers poll), and once a tick has passed it is taken back,
 * so that a hand-over takes milliseconds again, not a tick. Likewise after
 * the leader's lock session is killed: the followers are back on the lock
 * once the leader has taken it back.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { MysqlLeader, continueOnError, createMysqlLeaderTable, type Logger } from '../../src/index.js';
import { useDatabase } from '../support/database.js';
import { electionsOn } from '../support/leaders.js';
import { StatementProxy } from '../support/statement-proxy.js';

const AGE = 2000;
/** Long, so that a hand-over by polling (up to a tick) is far from one through the lock (milliseconds). */
const TICK = 1500;
const QUERY_TIMEOUT = 300;

const db = await useDatabase('handover_recovery');
await createMysqlLeaderTable(db.pool);
const elections = electionsOn(db, { age: AGE, tick: TICK }, 2);

/** Sessions of this test's database waiting on a hand-over lock (a GET_LOCK, or one only while it is held). */
async function lockWaiters(): Promise<number> {
  const [rows] = await db.pool.query(
    "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND (INFO LIKE 'SELECT GET_LOCK%' OR INFO LIKE 'SELECT IF(IS_FREE_LOCK%')",
    [db.name],
  );
  return Number((rows as { n: number }[])[0]?.n);
}

/** The server's id of the session holding the hand-over lock of `election` (named as src/mysql/sql.ts names it), if any. */
async function lockHolder(election: string): Promise<number | undefined> {
  const [rows] = await db.pool.query("SELECT IS_USED_LOCK(CONCAT('mysql-leader:', LEFT(SHA2(CONCAT_WS(',', ?, 'leader_election', ?), 256), 48))) AS id", [
    db.name,
    election,
  ]);
  const id = (rows as { id: number | null }[])[0]?.id;
  return id === null || id === undefined ? undefined : Number(id);
}

async function until(what: string, condition: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await delay(20);
  }
}

/** A logger that keeps what it was told. */
function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (_fields: object, message: string) => void lines.push(`${level}: ${message}`);
  return { lines, info: log('info'), warn: log('warn'), error: log('error') };
}

describe('hand-over lock: degrade, then recover', () => {
  it('a follower whose pool starved gives the lock back and polls; after a tick it takes the lock back, and a resign() hands over in milliseconds again', async () => {
    const name = elections.name('recovery');
    const logger = recordingLogger();
    const leader = new MysqlLeader(db.newPool({ connectionLimit: 3 }), name, {
      nodeName: 'a',
      age: AGE,
      tick: TICK,
      queryTimeout: QUERY_TIMEOUT,
      onError: continueOnError,
    });
    const followerPool = db.newPool({ connectionLimit: 2 }); // one for the lock, one for the election's statements
    const follower = new MysqlLeader(followerPool, name, {
      nodeName: 'b',
      age: AGE,
      tick: TICK,
      queryTimeout: QUERY_TIMEOUT,
      onError: continueOnError,
      logger,
    });
    elections.track(leader);
    elections.track(follower);
    void leader.acquire();
    await once(leader, 'elected');
    void follower.acquire();
    await until('the follower waits on the lock', async () => (await lockWaiters()) === 1, 3 * TICK);
    assert.equal(follower.handoverLockActive, true);

    // Starve the follower's pool: its next read waits for a connection past its time limit.
    const held = await followerPool.getConnection();
    await until('the follower gives the lock back', () => !follower.handoverLockActive, 3 * TICK);
    const offAt = performance.now();
    held.release(); // healed
    await until('it says so in a log line', () => logger.lines.some((line) => /^warn: hand-over lock off/.test(line)), TICK);
    assert.equal(await lockWaiters(), 0, 'while the lock is off, nobody waits on it');

    await until('the follower takes the lock back', () => follower.handoverLockActive, AGE + TICK);
    assert.ok(performance.now() - offAt < TICK + 300, 'back after one back-off (a tick), not later');
    await until('the follower waits on the lock again', async () => (await lockWaiters()) === 1, 3 * TICK);
    assert.ok(
      logger.lines.some((line) => /^info: hand-over lock taken back/.test(line)),
      'it says so in a log line',
    );

    const elected = once(follower, 'elected');
    const resignedAt = performance.now();
    await leader.resign();
    await elected;
    const took = performance.now() - resignedAt;
    assert.ok(took < 200, `hand-over took ${took.toFixed(0)} ms (a tick is ${TICK} ms)`);
    await Promise.all([leader.close(), follower.close()]);
  });

  it("after a KILL of the leader's lock session and a slow retake, the followers are back on the lock by the leader's second renewal: a resign() half a tick later hands over in milliseconds", async (t) => {
    const tick = 1000;
    const options = { age: 3 * tick, tick, queryTimeout: 500, onError: continueOnError };
    const name = elections.name('kill');
    // The leader's statements go through a proxy, which holds its retake of the lock for a while:
    // a new connection through a loaded proxy, while the woken followers read the row just after the renewal.
    const target = new URL(db.url);
    const proxy = new StatementProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.listen();
    t.after(() => proxy.close()); // also when an assertion fails: the leaders are closed after the file.
    const leader = new MysqlLeader(db.newPool({ uri: proxy.through(db.url), connectionLimit: 3 }), name, { ...options, nodeName: 'a' });
    const followers = ['b', 'c'].map((nodeName) => new MysqlLeader(db.newPool({ connectionLimit: 3 }), name, { ...options, nodeName }));
    for (const participant of [leader, ...followers]) elections.track(participant);
    void leader.acquire();
    await once(leader, 'elected');
    for (const follower of followers) void follower.acquire();
    await until('both followers wait on the lock', async () => (await lockWaiters()) === 2, 3 * tick);
    const killed = await lockHolder(name);
    assert.ok(killed !== undefined, 'the leader holds its lock');

    const retake = proxy.trap(/GET_LOCK\(/, 'statement');
    let renewals = 0;
    const secondRenewal = new Promise<void>((resolve) => leader.on('renewed', () => ++renewals === 2 && resolve()));
    await db.pool.query('KILL ?', [killed]);
    await retake.reached; // at the next renewal, after its check of the lock failed
    await delay(150);
    retake.release();
    await secondRenewal;
    await delay(tick / 2);
    const holder = await lockHolder(name);
    assert.ok(holder !== undefined && holder !== killed, 'the leader took its lock back');
    assert.equal(leader.leading, true);

    const resignedAt = performance.now();
    const elected = Promise.race(followers.map(async (follower) => once(follower, 'elected')));
    await leader.resign();
    await elected;
    const took = performance.now() - resignedAt;
    // Through the lock: a few statements. A follower still on a timer: up to half a tick more.
    assert.ok(took < tick / 4, `hand-over took ${took.toFixed(0)} ms (a tick is ${tick} ms)`);
    await Promise.all([leader, ...followers].map((participant) => participant.close()));
  });
});
