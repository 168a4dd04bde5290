/**
 * A fenced call always settles, and with the truth, whatever happens at any
 * of its statements: the tenure ends while the statement waits for its
 * reply, the connection is cut there, or the reply never comes. The fenced
 * transactions run on a pool behind a proxy that holds or cuts one chosen
 * statement (test/support/statement-proxy.ts); the election's own pool
 * talks to the server directly.
 *
 * The bounds: when the tenure ends before COMMIT is sent, the call is
 * answered at once (NotLeaderError, nothing written); once COMMIT is sent,
 * the server's answer is awaited at most `queryTimeout`, and without one the
 * call rejects with CommitUnknownError.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, after } from 'node:test';
import { performance } from 'node:perf_hooks';
import type { PoolConnection } from 'mysql2/promise';
import { CommitUnknownError, type MysqlLeader, NotLeaderError, QueryTimeoutError, createMysqlLeaderTable } from '../../src/index.js';
import { useDatabase } from '../support/database.js';
import { electionsOn } from '../support/leaders.js';
import { StatementProxy, type Trap, type TrapMode } from '../support/statement-proxy.js';

const AGE = 2000;
const TICK = 500;
/** `queryTimeout` (its default: a tick), the time limit of the fence's own statements. */
const QUERY_TIMEOUT = TICK;
/** "At once", on a busy 2-core machine: the answer needs no statement, only the event loop. */
const AT_ONCE = 500;
/** What a busy machine may add to a time limit. */
const SLACK = 1000;

const db = await useDatabase('fence_faults');
await createMysqlLeaderTable(db.pool);
await db.pool.query('CREATE TABLE writes (id BIGINT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(64) NOT NULL)');
const target = new URL(db.url);
const proxy = new StatementProxy({ host: target.hostname, port: Number(target.port) });
await proxy.listen();
after(() => proxy.close());
/** The application's pool, through the proxy: where the fenced transactions run. */
const app = db.newPool({ uri: proxy.through(db.url), connectionLimit: 2 });
const elections = electionsOn(db, { age: AGE, tick: TICK }, 4);

/** The statements of one fenced call, in the order they are sent, as the proxy recognises them. */
const STATEMENTS: Record<string, RegExp> = {
  'setting idle_transaction_timeout': /^SET SESSION idle_transaction_timeout = \d/,
  'START TRANSACTION': /^START TRANSACTION/,
  'the share lock and lease check': /LOCK IN SHARE MODE$/,
  "fn's own INSERT": /^INSERT INTO writes/,
};

let tags = 0;
/** A new elected leader, and a fenced call of it that inserts a row tagged `tag`, sent with `trap` set. */
async function fencedCall(pattern: RegExp, mode: TrapMode = 'reply', fail = false) {
  const [leader] = elections.group(1);
  assert.ok(leader);
  void leader.acquire();
  if (!leader.leading) await once(leader, 'elected');
  const tag = `t${++tags}`;
  const trap = proxy.trap(pattern, mode);
  const call = leader.withLeadership(
    async (conn: PoolConnection) => {
      await conn.query('INSERT INTO writes (tag) VALUES (?)', [tag]);
      if (fail) throw new Error('fn failed');
      return tag;
    },
    { db: app },
  );
  call.catch(() => {}); // settled below.
  return { leader, tag, trap, call };
}

/** How `call` settled, and how long after `since` it took; fails if it takes longer than `within`. */
async function settled<T>(call: Promise<T>, since: number, within: number): Promise<{ value?: T; error?: unknown; took: number }> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the fenced call did not settle within ${within} ms`)), within);
  });
  try {
    const value = await Promise.race([call, hung]);
    return { value, took: performance.now() - since };
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('the fenced call did not settle')) throw error;
    return { error, took: performance.now() - since };
  } finally {
    clearTimeout(timer);
  }
}

async function rowsTagged(tag: string): Promise<number> {
  const [rows] = await db.pool.query('SELECT COUNT(*) AS n FROM writes WHERE tag = ?', [tag]);
  return Number((rows as { n: number }[])[0]?.n);
}

/** Ends the tenure by resign(); resolves when the lease is released (which waits for the fenced transaction's row lock). */
async function endTenure(leader: MysqlLeader, trap: Trap, call: Promise<unknown>) {
  const since = performance.now();
  const resigned = leader.resign();
  const outcome = await settled(call, since, AT_ONCE + QUERY_TIMEOUT + SLACK);
  trap.release();
  await resigned;
  return outcome;
}

describe('fenced call: the tenure ends while a statement before COMMIT waits for its reply', () => {
  for (const [name, pattern] of Object.entries(STATEMENTS)) {
    it(`at ${name}: NotLeaderError at once, nothing written`, async () => {
      const { leader, tag, trap, call } = await fencedCall(pattern);
      await trap.answered; // the server has executed it; its reply waits in the proxy.
      const { error, took } = await endTenure(leader, trap, call);
      assert.ok(error instanceof NotLeaderError, `rejected with ${String(error)}`);
      assert.match(error.message, /nothing was written/);
      assert.ok(took < AT_ONCE, `answered after ${took.toFixed(0)} ms`);
      assert.equal(await rowsTagged(tag), 0);
      await leader.close();
    });
  }

  it('while waiting for a connection of an exhausted pool: NotLeaderError at once', async () => {
    const [leader] = elections.group(1);
    assert.ok(leader);
    const small = db.newPool({ connectionLimit: 1 });
    const taken = await small.getConnection();
    void leader.acquire();
    if (!leader.leading) await once(leader, 'elected');
    const call = leader.withLeadership(async () => 'ran', { db: small });
    call.catch(() => {});
    const since = performance.now();
    const resigned = leader.resign();
    const { error, took } = await settled(call, since, AT_ONCE + SLACK);
    assert.ok(error instanceof NotLeaderError, `rejected with ${String(error)}`);
    assert.ok(took < AT_ONCE, `answered after ${took.toFixed(0)} ms`);
    taken.release();
    await resigned;
    await leader.close();
  });
});

describe('fenced call: the connection is cut at a statement, the tenure lasting', () => {
  for (const [name, pattern] of Object.entries(STATEMENTS)) {
    it(`at ${name}: rejects at once, nothing written, still leading`, async () => {
      const { leader, tag, trap, call } = await fencedCall(pattern);
      await trap.answered;
      const since = performance.now();
      trap.cut();
      const { error, took } = await settled(call, since, AT_ONCE + SLACK);
      assert.ok(error instanceof Error && !(error instanceof CommitUnknownError), `rejected with ${String(error)}`);
      assert.ok(took < AT_ONCE, `answered after ${took.toFixed(0)} ms`);
      assert.equal(await rowsTagged(tag), 0);
      assert.equal(leader.leading, true, 'the election runs on its own pool');
      await leader.close();
    });
  }
});

describe('fenced call: COMMIT in flight', () => {
  it('the tenure ends while COMMIT waits for its reply: the answer is awaited and reported (committed), then the lease is released', async () => {
    const { leader, tag, trap, call } = await fencedCall(/^COMMIT/);
    await trap.answered; // the server has committed; the reply waits in the proxy.
    const since = performance.now();
    const resigned = leader.resign();
    let released = false;
    void resigned.then(() => (released = true));
    setTimeout(() => trap.release(), 200);
    const { value, error, took } = await settled(call, since, 200 + SLACK);
    assert.equal(error, undefined);
    assert.equal(value, tag, 'resolved with what fn returned');
    assert.ok(took >= 190, `answered after ${took.toFixed(0)} ms, before the reply was delivered`);
    assert.equal(await rowsTagged(tag), 1, 'the row is there, as reported');
    await resigned;
    assert.ok(released);
    await leader.close();
  });

  it('the tenure ends while COMMIT waits, and its reply never comes: CommitUnknownError within queryTimeout; the commit had landed', async () => {
    const { leader, tag, trap, call } = await fencedCall(/^COMMIT/);
    const sent = await trap.reached.then(() => performance.now());
    await trap.answered;
    const { error } = await endTenure(leader, trap, call);
    const took = performance.now() - sent;
    assert.ok(error instanceof CommitUnknownError, `rejected with ${String(error)}`);
    assert.ok(error.cause instanceof QueryTimeoutError);
    assert.equal(error.cause.operation, 'committing the fenced transaction');
    assert.equal(error.cause.timeoutMs, QUERY_TIMEOUT);
    // It waited for the answer (it did not give up when the tenure ended), and no longer than the time limit allows.
    assert.ok(took >= QUERY_TIMEOUT / 2 && took < QUERY_TIMEOUT + SLACK, `answered ${took.toFixed(0)} ms after COMMIT was sent`);
    assert.equal(await rowsTagged(tag), 1);
    await leader.close();
  });

  it('the connection is cut after the server committed: CommitUnknownError (code, term, message), and the row is there', async () => {
    const { leader, tag, trap, call } = await fencedCall(/^COMMIT/);
    const term = leader.term;
    await trap.answered;
    const since = performance.now();
    trap.cut();
    const { error, took } = await settled(call, since, AT_ONCE + SLACK);
    assert.ok(error instanceof CommitUnknownError, `rejected with ${String(error)}`);
    assert.equal(error.code, 'ERR_MYSQL_LEADER_COMMIT_UNKNOWN');
    assert.equal(error.term, term);
    assert.match(error.message, /may or may not have landed/);
    assert.ok(took < AT_ONCE, `answered after ${took.toFixed(0)} ms`);
    assert.equal(await rowsTagged(tag), 1);
    await leader.close();
  });

  it('the connection is cut before COMMIT reached the server: CommitUnknownError too, and the row is not there', async () => {
    const { leader, tag, trap, call } = await fencedCall(/^COMMIT/, 'statement');
    await trap.reached;
    const since = performance.now();
    trap.cut();
    const { error, took } = await settled(call, since, AT_ONCE + SLACK);
    assert.ok(error instanceof CommitUnknownError, `rejected with ${String(error)}`);
    assert.ok(took < AT_ONCE, `answered after ${took.toFixed(0)} ms`);
    assert.equal(await rowsTagged(tag), 0);
    await leader.close();
  });
});

describe('fenced call: after fn', () => {
  it('ROLLBACK (fn threw) without a reply: rejects with fn’s error within queryTimeout', async () => {
    const { leader, tag, trap, call } = await fencedCall(/^ROLLBACK/, 'reply', true);
    await trap.reached;
    const since = performance.now();
    const { error, took } = await settled(call, since, QUERY_TIMEOUT + SLACK);
    assert.match(String(error), /fn failed/);
    assert.ok(took < QUERY_TIMEOUT + SLACK, `answered after ${took.toFixed(0)} ms`);
    trap.release();
    assert.equal(await rowsTagged(tag), 0);
    await leader.close();
  });

  it('restoring idle_transaction_timeout after the commit without a reply: resolves (committed) within queryTimeout', async () => {
    const { leader, tag, trap, call } = await fencedCall(/^SET SESSION idle_transaction_timeout = DEFAULT/);
    await trap.reached;
    const since = performance.now();
    const { value, took } = await settled(call, since, QUERY_TIMEOUT + SLACK);
    assert.equal(value, tag);
    assert.ok(took < QUERY_TIMEOUT + SLACK, `answered after ${took.toFixed(0)} ms`);
    trap.release();
    assert.equal(await rowsTagged(tag), 1);
    await leader.close();
  });
});
