/**
 * `withLock()` next to node-redlock's `using()`, in the same run: acquire →
 * release of an empty critical section, uncontended (calls one after the
 * other) and contended (callers at once on one name), on the private
 * MariaDB and on the local Redis (127.0.0.1:6379). Without a Redis that
 * answers, the redlock rows are reported skipped. Only `withLock()`
 * uncontended has a target; the rest is a comparison.
 *
 * `withLock()`: one `Leases` engine on one mysql2 pool of 10, `age` 5000 ms,
 * `tick` 1000 ms (the contended callers share the engine, as callers in one
 * process do: a waiter is woken the moment the holder lets go). redlock:
 * one client on one ioredis connection, a 5000 ms lock, `retryCount: -1`
 * (wait until obtained) and its default retry delay (200 ms ± 200 ms).
 */
import { performance } from 'node:perf_hooks';
import { createPool } from 'mysql2/promise';
import { Redis } from 'ioredis';
// redlock's `exports` names no types: its declarations are taken by path, the module loaded when a Redis answers.
import type Redlock from '../node_modules/redlock/dist/index.js';
import { Leases } from '../src/index.js';
import { electionName, type BenchContext, type Measure, type ScenarioResult } from './scenario.js';
import { summarize } from './stats.js';

const AGE = 5000;
const TICK = 1000;
const CONNECTIONS = 10;
const WARMUP = 20;
const UNCONTENDED = 500;
const CALLERS = 4;
const REDIS = { host: '127.0.0.1', port: 6379 };
/** By a name in a variable: TypeScript would look for the types `exports` does not give. */
const REDLOCK = 'redlock';

/** The latency of each of `rounds` calls of `call`, one after the other, in ms. */
async function oneAfterAnother(rounds: number, call: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await call();
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  }
  return samples;
}

/** The latency of each call, `callers` at once, each making `rounds` calls one after the other, in ms. */
async function atOnce(callers: number, rounds: number, call: () => Promise<unknown>): Promise<number[]> {
  const perCaller = await Promise.all(Array.from({ length: callers }, () => oneAfterAnother(rounds, call)));
  return perCaller.flat();
}

/** A connected ioredis client, or `undefined` when no Redis answers PING. */
async function redisClient(): Promise<Redis | undefined> {
  const redis = new Redis({ ...REDIS, lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {}); // a refused connection is the skip below, not a crash.
  try {
    await redis.connect();
    if ((await redis.ping()) === 'PONG') return redis;
  } catch {
    // No Redis here: skipped.
  }
  redis.disconnect();
  return undefined;
}

/** Measures withLock() and redlock's using(), uncontended and contended. */
export async function locks(context: BenchContext): Promise<ScenarioResult> {
  const contendedRounds = context.quick ? 10 : 25;
  const rounds = context.quick ? 100 : UNCONTENDED;
  const pool = createPool({ uri: context.url, connectionLimit: CONNECTIONS });
  const leases = new Leases(pool, { age: AGE, tick: TICK });
  const measures: Measure[] = [];
  const notes: string[] = [];
  try {
    const lone = electionName('lock');
    const uncontended = summarize(await oneAfterAnother(rounds, () => leases.withLock(lone, async () => {})));
    const shared = electionName('lock-contended');
    const contended = summarize(await atOnce(CALLERS, contendedRounds, () => leases.withLock(shared, async () => {}, { wait: 30_000 })));
    measures.push(
      { label: 'withLock() uncontended, acquire → release', unit: 'ms', value: uncontended, target: 'p50 < 2 ms', met: uncontended.p50 < 2 },
      { label: `withLock() ${CALLERS} callers at once on one name, call → release`, unit: 'ms', value: contended },
    );
    context.log(`  withLock: uncontended p50 ${uncontended.p50.toFixed(2)} ms; ${CALLERS} callers p50 ${contended.p50.toFixed(2)} ms`);
  } finally {
    await leases.close();
    await pool.end();
  }
  const redis = await redisClient();
  if (!redis) {
    notes.push(`redlock rows skipped: no Redis answered PING at ${REDIS.host}:${REDIS.port}.`);
    measures.push(
      { label: 'redlock using() uncontended, acquire → release: skipped (no Redis)', unit: 'ms', value: Number.NaN },
      { label: `redlock using() ${CALLERS} callers at once: skipped (no Redis)`, unit: 'ms', value: Number.NaN },
    );
  } else {
    try {
      const { default: RedlockClient } = (await import(REDLOCK)) as { default: typeof Redlock };
      const redlock = new RedlockClient([redis], { retryCount: -1 });
      redlock.on('error', () => {}); // a contended attempt is reported as an error event too.
      const lone = electionName('redlock');
      const uncontended = summarize(await oneAfterAnother(rounds, () => redlock.using([lone], AGE, async () => {})));
      const shared = electionName('redlock-contended');
      const contended = summarize(await atOnce(CALLERS, contendedRounds, () => redlock.using([shared], AGE, async () => {})));
      measures.push(
        { label: 'redlock using() uncontended, acquire → release', unit: 'ms', value: uncontended },
        { label: `redlock using() ${CALLERS} callers at once on one name, call → release`, unit: 'ms', value: contended },
      );
      context.log(`  redlock: uncontended p50 ${uncontended.p50.toFixed(2)} ms; ${CALLERS} callers p50 ${contended.p50.toFixed(2)} ms`);
    } finally {
      redis.disconnect();
    }
  }
  notes.push(
    `withLock(): one Leases engine on one mysql2 pool (connectionLimit ${CONNECTIONS}), age ${AGE} ms, tick ${TICK} ms, an empty function; ${rounds} calls one after the other after ${WARMUP} to warm up; then ${CALLERS} callers at once on one name in the same engine, ${contendedRounds} calls each (wait 30 s).`,
    `redlock 5.0.0-beta.2 using() on one ioredis connection to ${REDIS.host}:${REDIS.port}, a ${AGE} ms lock, retryCount -1, default retryDelay 200 ms and retryJitter 200 ms; the same calls. A comparison, not a target: Redis locks cannot be fenced.`,
  );
  return {
    name: 'locks',
    settings: { age: AGE, tick: TICK, connectionLimit: CONNECTIONS, warmup: WARMUP, rounds, callers: CALLERS, contendedRounds },
    measures,
    notes,
  };
}
