/**
 * The hand-over lock degrades, then recovers: when the pool has no
 * connection to spare for the election, the lock's connection is given back
 * (followers poll), and once a tick has passed it is taken back,
 * so that a hand-over takes milliseconds again, not a tick.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { MysqlLeader, continueOnError, createMysqlLeaderTable, type Logger } from '../../src/index.js';
import { useDatabase } from '../support/database.js';
import { electionsOn } from '../support/leaders.js';

const AGE = 2000;
/** Long, so that a hand-over by polling (up to a tick) is far from one through the lock (milliseconds). */
const TICK = 1500;
const QUERY_TIMEOUT = 300;

const db = await useDatabase('handover_recovery');
await createMysqlLeaderTable(db.pool);
const elections = electionsOn(db, { age: AGE, tick: TICK }, 2);

/** Sessions of this test's database waiting on a hand-over lock. */
async function lockWaiters(): Promise<number> {
  const [rows] = await db.pool.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT GET_LOCK%'", [db.name]);
  return Number((rows as { n: number }[])[0]?.n);
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
});
