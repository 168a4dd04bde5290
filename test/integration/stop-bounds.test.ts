/**
 * `resign()` and `close()` always settle within their stated bound,
 * `drainTimeout + 4 × queryTimeout`, whatever a connection does at any of
 * the statements they wait for: its reply held (a frozen server, a
 * half-open link) or the connection cut. The election's pool runs behind a
 * proxy that holds or cuts one chosen statement.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { MysqlLeader, continueOnError, createMysqlLeaderTable } from '../../src/index.js';
import { useDatabase } from '../support/database.js';
import { StatementProxy } from '../support/statement-proxy.js';

const AGE = 2000;
const TICK = 500;
const QUERY_TIMEOUT = TICK;
const DRAIN_TIMEOUT = 1000;
/** The bound the README states. */
const BOUND = DRAIN_TIMEOUT + 4 * QUERY_TIMEOUT;
/** What a busy 2-core machine may add. */
const SLACK = 1000;

const db = await useDatabase('stop_bounds');
await createMysqlLeaderTable(db.pool);
const target = new URL(db.url);
let elections = 0;

/** A leader elected on a pool behind a proxy of its own. */
async function proxiedLeader() {
  const proxy = new StatementProxy({ host: target.hostname, port: Number(target.port) });
  await proxy.listen();
  const pool = db.newPool({ uri: proxy.through(db.url), connectionLimit: 3 });
  const leader = new MysqlLeader(pool, `stop-${++elections}`, { age: AGE, tick: TICK, drainTimeout: DRAIN_TIMEOUT, onError: continueOnError });
  void leader.acquire();
  await once(leader, 'elected');
  return { leader, proxy };
}

/** How long `call` took to settle, failing the test if it takes longer than `within`. */
async function settleTime(call: Promise<unknown>, since: number, within: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${within} ms`)), within);
  });
  try {
    await Promise.race([call.catch(() => {}), hung]);
    return performance.now() - since;
  } finally {
    clearTimeout(timer);
  }
}

/** The statements a stop waits for, as the proxy recognises them; `resign()` reads the row before it releases. */
const STATEMENTS: { name: string; pattern: RegExp; for: readonly ('resign' | 'close')[] }[] = [
  { name: 'the read before the release', pattern: /^SELECT answering\.server_id, /, for: ['resign'] },
  { name: 'the release', pattern: /expires_at = renewed_at WHERE/, for: ['resign', 'close'] },
  { name: 'freeing the hand-over lock', pattern: /RELEASE_LOCK/, for: ['resign', 'close'] },
];

describe('resign() and close(): bounded whatever a connection does', () => {
  for (const statement of STATEMENTS) {
    for (const method of statement.for) {
      for (const fault of ['held', 'cut'] as const) {
        it(`${method}() with ${statement.name} ${fault === 'held' ? 'never answered' : 'cut'}: settles within drainTimeout + 4 × queryTimeout`, async () => {
          const { leader, proxy } = await proxiedLeader();
          const trap = proxy.trap(statement.pattern);
          const since = performance.now();
          const stopping = method === 'resign' ? leader.resign() : leader.close();
          await trap.reached;
          if (fault === 'cut') trap.cut();
          const took = await settleTime(stopping, since, BOUND + SLACK);
          assert.ok(took < BOUND + SLACK, `${method}() took ${took.toFixed(0)} ms`);
          assert.equal(leader.leading, false);
          trap.release();
          await leader.close();
          await proxy.close();
        });
      }
    }
  }

  it('close() with a tenure task that ignores its signal: releases after drainTimeout, within the bound', async () => {
    const { leader, proxy } = await proxiedLeader();
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    leader.runWhileLeader(() => {
      started();
      return new Promise(() => {}); // never settles
    });
    await running;
    const since = performance.now();
    const took = await settleTime(leader.close(), since, BOUND + SLACK);
    assert.ok(took >= DRAIN_TIMEOUT - 10 && took < BOUND + SLACK, `close() took ${took.toFixed(0)} ms`);
    const [rows] = await db.pool.query('SELECT expires_at <= renewed_at AS released FROM leader_election WHERE leader_name = ?', [leader.leaderName]);
    assert.equal(Number((rows as { released: number }[])[0]?.released), 1, 'the lease was released');
    await proxy.close();
  });
});
