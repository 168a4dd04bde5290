/**
 * `Leases.withLock()` and `withFencedLock()` against a real server: one
 * holder at a time across engines (as across processes), a bounded wait
 * with a typed error, a prompt wake-up in the same process, a signal that
 * aborts when the lease is lost, a release after the function settles.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { Leases, LeadershipEndedError, LockTimeoutError, NotLeaderError, createMysqlLeaderTable, forceRelease, readElection } from '../../src/index.js';
import { useDatabase } from '../support/database.js';

const AGE = 2000;
const TICK = 500;
const db = await useDatabase('locks');
await createMysqlLeaderTable(db.pool);
await db.pool.query('CREATE TABLE locked_writes (id INT AUTO_INCREMENT PRIMARY KEY, term BIGINT NOT NULL)');

/** An engine (as one process) on a pool of its own, closed after the test. */
function engine(t: { after: (fn: () => Promise<void>) => void }, nodeName: string): Leases {
  const leases = new Leases(db.newPool({ connectionLimit: 4 }), { age: AGE, tick: TICK, nodeName });
  t.after(() => leases.close());
  return leases;
}

let locks = 0;
const lockName = (): string => `lock-${++locks}`;

describe('withLock', () => {
  it('runs fn under a fresh term, returns its value, and releases the lease after it settles (also when it throws)', async (t) => {
    const leases = engine(t, 'a');
    const name = lockName();
    const value = await leases.withLock(name, async ({ term, signal }) => {
      assert.equal(signal.aborted, false);
      assert.equal((await readElection(db.pool, name))?.term, term);
      return `done under ${term}`;
    });
    assert.equal(value, 'done under 1');
    assert.equal((await readElection(db.pool, name))?.released, true);
    const failure = new Error('fn failed');
    await assert.rejects(
      leases.withLock(name, async () => {
        throw failure;
      }),
      (error) => error === failure,
    );
    const row = await readElection(db.pool, name);
    assert.equal(row?.term, 2);
    assert.equal(row?.released, true);
  });

  it('wait: 0 tries once: a LockTimeoutError with a stable code while another process holds it, nothing run', async (t) => {
    const holder = engine(t, 'holder');
    const other = engine(t, 'other');
    const name = lockName();
    let release: () => void = () => {};
    const held = holder.withLock(name, () => new Promise<void>((resolve) => (release = resolve)));
    while ((await readElection(db.pool, name))?.nodeName !== 'holder') await delay(10);
    let ran = false;
    const started = performance.now();
    await assert.rejects(
      other.withLock(name, async () => {
        ran = true;
      }),
      (error: unknown) => error instanceof LockTimeoutError && error.code === 'ERR_MYSQL_LEADER_LOCK_TIMEOUT' && error.lockName === name,
    );
    assert.ok(performance.now() - started < TICK, 'tried once, without waiting a tick');
    assert.equal(ran, false);
    release();
    await held;
  });

  it('holders never overlap, across engines and within one; a waiter in the same process is woken at once', async (t) => {
    const engines = [engine(t, 'p1'), engine(t, 'p2')];
    const name = lockName();
    const spans: { start: number; end: number; term: number }[] = [];
    let inside = 0;
    const run = (leases: Leases) =>
      leases.withLock(
        name,
        async ({ term }) => {
          inside++;
          assert.equal(inside, 1, 'one holder at a time');
          const start = performance.now();
          await delay(50);
          inside--;
          spans.push({ start, end: performance.now(), term });
        },
        { wait: 20_000 },
      );
    await Promise.all([run(engines[0] as Leases), run(engines[0] as Leases), run(engines[1] as Leases), run(engines[1] as Leases), run(engines[0] as Leases)]);
    assert.equal(spans.length, 5);
    const terms = spans.map((span) => span.term);
    assert.deepEqual(
      terms,
      [...terms].sort((x, y) => x - y),
      'terms grow with each holder',
    );
    assert.equal(new Set(terms).size, 5);
    // In one process, the next holder starts as soon as the one before let go (no tick of polling).
    const local = engine(t, 'p3');
    const localName = lockName();
    let firstEnd = 0;
    const first = local.withLock(localName, async () => {
      await delay(100);
      firstEnd = performance.now();
    });
    const second = local.withLock(localName, async () => performance.now() - firstEnd, { wait: 5_000 });
    await first;
    const gap = await second;
    assert.ok(gap < TICK, `woken ${Math.round(gap)} ms after the release`);
  });

  it('aborts the signal the moment the lease is lost, with the reason', async (t) => {
    const leases = engine(t, 'a');
    const name = lockName();
    const reason = await leases.withLock(name, async ({ signal }) => {
      await forceRelease(db.pool, name);
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      return signal.reason as unknown;
    });
    assert.ok(reason instanceof LeadershipEndedError);
    assert.equal(reason.reason, 'lost');
  });

  it('tells fn how long it is sure to hold the lock: at most age - margin while held, 0 once lost', async (t) => {
    const leases = engine(t, 'a');
    const name = lockName();
    const [held, lost] = await leases.withLock(name, async (lock) => {
      const before = lock.remainingMs;
      await forceRelease(db.pool, name);
      await new Promise((resolve) => lock.signal.addEventListener('abort', resolve, { once: true }));
      return [before, lock.remainingMs];
    });
    assert.ok(held !== undefined && held > 0 && held <= AGE - AGE / 20, `remainingMs ${held} while held`);
    assert.equal(lost, 0);
  });

  it('renews the lease while fn runs for longer than the lease', async (t) => {
    const leases = engine(t, 'a');
    const name = lockName();
    const aborted = await leases.withLock(name, async ({ signal }) => {
      await delay(AGE + 2 * TICK);
      return signal.aborted;
    });
    assert.equal(aborted, false);
  });

  it('stops waiting when options.signal aborts, with its reason', async (t) => {
    const holder = engine(t, 'holder');
    const other = engine(t, 'other');
    const name = lockName();
    let release: () => void = () => {};
    const held = holder.withLock(name, () => new Promise<void>((resolve) => (release = resolve)));
    while ((await readElection(db.pool, name))?.nodeName !== 'holder') await delay(10);
    const reason = new Error('give up');
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 100);
    await assert.rejects(
      other.withLock(name, async () => {}, { wait: 20_000, signal: controller.signal }),
      (error) => error === reason,
    );
    release();
    await held;
  });

  it('validates its arguments before anything is sent', async (t) => {
    const leases = engine(t, 'a');
    await assert.rejects(
      leases.withLock('', async () => {}),
      RangeError,
    );
    await assert.rejects(
      leases.withLock('x', async () => {}, { wait: -1 }),
      /options\.wait/,
    );
    assert.throws(() => new Leases(db.pool, { age: AGE, tick: TICK, batchWindow: TICK }), /options\.batchWindow/);
    assert.throws(() => new Leases(db.pool, { maxBatch: 0 }), /options\.maxBatch/);
    assert.throws(() => new Leases(db.pool, { handoverLock: true } as never), /options\.handoverLock/);
  });
});

describe('withFencedLock', () => {
  it("runs fn in a transaction fenced by the lease on the caller's db, and commits with it", async (t) => {
    const leases = engine(t, 'a');
    const name = lockName();
    const term = await leases.withFencedLock(
      name,
      async (connection, lock) => {
        assert.ok(lock.remainingMs > 0);
        await connection.query('INSERT INTO locked_writes (term) VALUES (?)', [lock.term]);
        return lock.term;
      },
      { db: db.pool },
    );
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT term FROM locked_writes WHERE term = ?', [term]);
    assert.equal(rows.length, 1);
  });

  it('writes nothing when the lease ends before the commit', async (t) => {
    const leases = engine(t, 'a');
    const name = lockName();
    await assert.rejects(
      leases.withFencedLock(
        name,
        async (connection, { term, signal }) => {
          await connection.query('INSERT INTO locked_writes (term) VALUES (?)', [term + 1000]);
          // Another process takes the row meanwhile: its UPDATE waits for the share lock, then this tenure is over.
          void forceRelease(db.pool, name);
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        },
        { db: db.pool },
      ),
      NotLeaderError,
    );
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT term FROM locked_writes WHERE term > 1000');
    assert.equal(rows.length, 0);
  });
});
