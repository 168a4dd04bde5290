/**
 * The child program of the many-elections benchmark: one process holding
 * `count` elections on ONE shared pool, then a measuring window of its own
 * CPU time and RSS. Prints one JSON line, a {@link ManyElectionsReport}.
 *
 * - `library`: `count` MysqlLeader instances, each alone in its election, so
 *   each leads and renews once a tick.
 * - `driver`: the floor, the same statements without the library: `count`
 *   timers, each sending the renewal UPDATE of its own row once a tick
 *   through the same kind of pool, as the library does (a connection taken,
 *   the statement, the connection given back).
 *
 * Config: the BENCH_MANY environment variable, a {@link ManyElectionsConfig} as JSON.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createPool, type Pool } from 'mysql2/promise';
import { continueOnError, MysqlLeader } from '../src/index.js';
import { statements } from '../src/mysql/sql.js';
import { summarize, type Summary } from './stats.js';

/** What the parent passes in BENCH_MANY. */
export interface ManyElectionsConfig {
  readonly mode: 'library' | 'driver';
  readonly url: string;
  readonly prefix: string;
  readonly count: number;
  readonly age: number;
  readonly tick: number;
  readonly connectionLimit: number;
  readonly warmupMs: number;
  readonly windowMs: number;
}

/** What the child prints when done. */
export interface ManyElectionsReport {
  /** RSS before the pool and the elections existed (Node.js, mysql2 and the library loaded), MB. */
  readonly baselineRssMb: number;
  /** Time from the start to the last election won (library) or loop started (driver), ms. */
  readonly startedMs: number;
  /** CPU time (user + system) over the window, as % of one core. */
  readonly cpuPercent: number;
  /** RSS sampled every 100 ms over the window, MB. */
  readonly rssMb: { readonly max: number; readonly mean: number };
  /** JS heap in use at the end of the window (garbage included), MB. */
  readonly heapUsedMb: number;
  /** Renewals per second over the window (one per election per tick expected). */
  readonly renewalsPerSecond: number;
  /** Renewal latencies over the window (statement sent to reply, pool wait included), ms. */
  readonly renewalLatencyMs: Summary;
  /** Event-loop delay over the window, ms. */
  readonly eventLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Elections still led at the end of the window (all of them, unless a renewal failed). */
  readonly leadingAtEnd: number;
  /** Database errors while starting (before the window): statements that timed out in the pool's queue, mostly. */
  readonly startErrors: number;
  /** Tenures lost during the window (revoked other than on close). */
  readonly revoked: number;
  /** Database errors during the window. */
  readonly errors: number;
  /** The first database error of the run. */
  readonly firstError?: string;
}

/** What the window needs of a load. */
interface Load {
  /** Renewals and their latencies (ms) since the last reset. */
  readonly renewals: number[];
  /** Resolves when every election leads (every loop runs). */
  readonly started: Promise<void>;
  leading(): number;
  stop(): Promise<void>;
}

const MB = 2 ** 20;
const config = JSON.parse(process.env['BENCH_MANY'] ?? '{}') as ManyElectionsConfig;
const counts = { revoked: 0, errors: 0, firstError: undefined as string | undefined };
const baselineRss = process.memoryUsage().rss;

/** `count` MysqlLeader instances on `pool`, each in an election of its own. */
function libraryLoad(pool: Pool): Load {
  const renewals: number[] = [];
  let elected = 0;
  const leaders = Array.from({ length: config.count }, (_, i) => {
    const leader = new MysqlLeader(pool, `${config.prefix}-${i}`, {
      age: config.age,
      tick: config.tick,
      handoverLock: false, // the lock would hold one connection per election
      onError: continueOnError,
    });
    leader.on('elected', () => elected++);
    leader.on('renewed', ({ latencyMs }) => renewals.push(latencyMs));
    leader.on('revoked', ({ reason }) => {
      if (reason !== 'closed') counts.revoked++;
    });
    leader.on('error', (error) => {
      counts.errors++;
      counts.firstError ??= error.message;
    });
    return leader;
  });
  const campaigns = leaders.map((leader) => leader.acquire());
  const started = (async () => {
    while (elected < config.count) await delay(10);
  })();
  return {
    renewals,
    started,
    leading: () => leaders.filter((leader) => leader.leading).length,
    async stop() {
      await Promise.all(leaders.map((leader) => leader.close()));
      await Promise.all(campaigns);
    },
  };
}

/** The same renewals without the library: a row per election, renewed once a tick by a timer. */
function driverLoad(pool: Pool): Load {
  const sql = statements('leader_election');
  const ageUs = config.age * 1000;
  const renewals: number[] = [];
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  let inFlight = 0;
  const renew = async (name: string, slot: number): Promise<void> => {
    const sent = performance.now();
    inFlight++;
    try {
      const connection = await pool.getConnection();
      try {
        await connection.query(sql.renew, [ageUs, name, 'driver', 1]);
      } finally {
        connection.release();
      }
      renewals.push(performance.now() - sent);
    } catch (error) {
      counts.errors++;
      counts.firstError ??= String(error);
    } finally {
      inFlight--;
    }
    if (!stopped) timers[slot] = setTimeout(() => void renew(name, slot), Math.max(0, sent + config.tick - performance.now()));
  };
  const started = (async () => {
    const names = Array.from({ length: config.count }, (_, i) => `${config.prefix}-${i}`);
    await Promise.all(names.map((name) => pool.query(sql.insert, [name, 'driver', 1, ageUs])));
    // Spread over a tick, as elections that start together end up (each renews a tick after it won).
    names.forEach((name, slot) => (timers[slot] = setTimeout(() => void renew(name, slot), Math.random() * config.tick)));
  })();
  return {
    renewals,
    started,
    leading: () => config.count,
    async stop() {
      stopped = true;
      timers.forEach((timer) => clearTimeout(timer));
      while (inFlight > 0) await delay(10);
    },
  };
}

const pool = createPool({ uri: config.url, connectionLimit: config.connectionLimit });
const startedAt = performance.now();
const load = config.mode === 'library' ? libraryLoad(pool) : driverLoad(pool);
await Promise.race([load.started, delay(60_000, undefined, { ref: false }).then(() => Promise.reject(new Error(`not started after 60 s`)))]);
const startedMs = performance.now() - startedAt;
await delay(config.warmupMs);

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const rss: number[] = [];
const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 100);
load.renewals.length = 0;
const startErrors = counts.errors;
counts.errors = 0;
counts.revoked = 0;
const cpuBefore = process.cpuUsage();
const windowStart = performance.now();
await delay(config.windowMs);
const cpu = process.cpuUsage(cpuBefore);
const windowMs = performance.now() - windowStart;
clearInterval(sampler);
loopDelay.disable();
const renewals = [...load.renewals];
const report: ManyElectionsReport = {
  baselineRssMb: baselineRss / MB,
  startedMs,
  cpuPercent: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
  rssMb: { max: Math.max(...rss) / MB, mean: rss.reduce((sum, value) => sum + value, 0) / rss.length / MB },
  heapUsedMb: process.memoryUsage().heapUsed / MB,
  renewalsPerSecond: renewals.length / (windowMs / 1000),
  renewalLatencyMs: summarize(renewals),
  eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
  leadingAtEnd: load.leading(),
  startErrors,
  revoked: counts.revoked,
  errors: counts.errors,
  ...(counts.firstError !== undefined && { firstError: counts.firstError }),
};
await load.stop();
await pool.end();
process.stdout.write(`${JSON.stringify(report)}\n`);
