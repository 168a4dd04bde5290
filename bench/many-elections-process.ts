/**
 * The child program of the many-elections benchmark: one process holding
 * `count` elections, each a MysqlLeader (alone in its election, so each
 * leads and renews once a tick) on ONE shared pool. After all are elected
 * and a warm-up, it measures its own CPU time and RSS over a window, then
 * closes everything and prints one JSON line: {@link ManyElectionsReport}.
 *
 * Config: the BENCH_MANY environment variable, a {@link ManyElectionsConfig} as JSON.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createPool } from 'mysql2/promise';
import { continueOnError, MysqlLeader } from '../src/index.js';
import { summarize, type Summary } from './stats.js';

/** What the parent passes in BENCH_MANY. */
export interface ManyElectionsConfig {
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
  /** RSS before the pool and the leaders existed (Node.js and the tsx loader), MB. */
  readonly baselineRssMb: number;
  /** Time from the first acquire() to the last `elected`, ms. */
  readonly allElectedMs: number;
  /** CPU time (user + system) over the window, as % of one core. */
  readonly cpuPercent: number;
  /** RSS sampled every 100 ms over the window, MB. */
  readonly rssMb: { readonly max: number; readonly mean: number };
  readonly heapUsedMb: number;
  /** Renewals per second over the window (one per election per tick expected). */
  readonly renewalsPerSecond: number;
  /** `renewed` event latencies (statement send to reply, pool wait included), ms. */
  readonly renewalLatencyMs: Summary;
  /** Event-loop delay over the window, ms. */
  readonly eventLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Leaders still leading at the end of the window (all of them, unless a renewal failed). */
  readonly leadingAtEnd: number;
  /** Tenures lost over the whole run (revoked other than on close). */
  readonly revoked: number;
  /** Database errors over the whole run. */
  readonly errors: number;
  readonly firstError?: string;
  readonly closeMs: number;
}

const MB = 2 ** 20;
const config = JSON.parse(process.env['BENCH_MANY'] ?? '{}') as ManyElectionsConfig;
const baselineRss = process.memoryUsage().rss;

const pool = createPool({ uri: config.url, connectionLimit: config.connectionLimit });
let elected = 0;
let renewals = 0;
let revoked = 0;
let errors = 0;
let firstError: string | undefined;
let latencies: number[] = [];
const leaders = Array.from({ length: config.count }, (_, i) => {
  const leader = new MysqlLeader(pool, `${config.prefix}-${i}`, {
    age: config.age,
    tick: config.tick,
    handoverLock: false, // the lock would hold one connection per election
    onError: continueOnError,
  });
  leader.on('elected', () => elected++);
  leader.on('renewed', ({ latencyMs }) => {
    renewals++;
    latencies.push(latencyMs);
  });
  leader.on('revoked', ({ reason }) => {
    if (reason !== 'closed') revoked++;
  });
  leader.on('error', (error) => {
    errors++;
    firstError ??= error.message;
  });
  return leader;
});

const startedAt = performance.now();
const campaigns = leaders.map((leader) => leader.acquire());
while (elected < config.count) {
  if (performance.now() - startedAt > 60_000) throw new Error(`only ${elected} of ${config.count} elected after 60 s`);
  await delay(10);
}
const allElectedMs = performance.now() - startedAt;
await delay(config.warmupMs);

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const rss: number[] = [];
const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 100);
renewals = 0;
latencies = [];
const cpuBefore = process.cpuUsage();
const windowStart = performance.now();
await delay(config.windowMs);
const cpu = process.cpuUsage(cpuBefore);
const windowMs = performance.now() - windowStart;
clearInterval(sampler);
loopDelay.disable();
const leadingAtEnd = leaders.filter((leader) => leader.leading).length;
const heapUsed = process.memoryUsage().heapUsed;
const windowRenewals = renewals;
const windowLatencies = latencies;

const closingAt = performance.now();
await Promise.all(leaders.map((leader) => leader.close()));
await Promise.all(campaigns);
await pool.end();

const report: ManyElectionsReport = {
  baselineRssMb: baselineRss / MB,
  allElectedMs,
  cpuPercent: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
  rssMb: { max: Math.max(...rss) / MB, mean: rss.reduce((sum, value) => sum + value, 0) / rss.length / MB },
  heapUsedMb: heapUsed / MB,
  renewalsPerSecond: windowRenewals / (windowMs / 1000),
  renewalLatencyMs: summarize(windowLatencies),
  eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
  leadingAtEnd,
  revoked,
  errors,
  ...(firstError !== undefined && { firstError }),
  closeMs: performance.now() - closingAt,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
