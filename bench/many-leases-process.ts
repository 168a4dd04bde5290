/**
 * The child program of the many-leases benchmark: one process, one `Leases`
 * engine on one pool. Prints one JSON line, a {@link ManyLeasesReport}.
 *
 * - `hold`: `count` elections of the engine, each alone in its election (so
 *   each leads and renews once a tick), then a measuring window of the
 *   process's CPU time and RSS and of the statements the server received.
 * - `lock`: `rounds` calls of `withLock()` one after the other, on a lock no
 *   one else wants (acquire → a function that returns at once → release).
 *
 * Config: the BENCH_LEASES environment variable, a {@link ManyLeasesConfig} as JSON.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { createPool, type Pool, type RowDataPacket } from 'mysql2/promise';
import { continueOnError, Leases, type RenewedEvent, type RevokedEvent } from '../src/index.js';
import { summarize, summarizeHistogram, type Summary } from './stats.js';

/** What the parent passes in BENCH_LEASES. */
export interface ManyLeasesConfig {
  readonly mode: 'hold' | 'lock';
  readonly url: string;
  readonly prefix: string;
  readonly count: number;
  readonly age: number;
  readonly tick: number;
  readonly connectionLimit: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  /** `lock`: how many calls. */
  readonly rounds: number;
}

/** What the child prints when done. */
export interface ManyLeasesReport {
  /** RSS before the pool and the engine existed (Node.js, mysql2 and the library loaded), MB. */
  readonly baselineRssMb: number;
  /** `hold`: time from the start to the last election won, ms. */
  readonly startedMs: number;
  /** `hold`: CPU time (user + system) over the window, as % of one core. */
  readonly cpuPercent: number;
  /** `hold`: RSS sampled every 100 ms over the window, MB (start-up included in `startMaxMb`). */
  readonly rssMb: { readonly max: number; readonly mean: number; readonly startMaxMb: number };
  /** `hold`: statements the server received per second over the window (its `Questions` counter). */
  readonly statementsPerSecond: number;
  /** `hold`: renewals per second over the window (one per lease per tick expected). */
  readonly renewalsPerSecond: number;
  /** `hold`: renewal latencies (asked → confirmed, the wait for the batch included), ms. */
  readonly renewalLatencyMs: Summary;
  /** `hold`: event-loop delay over the window, ms. */
  readonly eventLoopDelayMs: { readonly p50: number; readonly p99: number };
  /** `hold`: leases still held at the end of the window. */
  readonly leadingAtEnd: number;
  /** `hold`: tenures lost and database errors during the window. */
  readonly revoked: number;
  readonly errors: number;
  /** `lock`: acquire → release of an uncontended `withLock()`, ms. */
  readonly lockMs?: Summary;
  readonly firstError?: string;
}

const MB = 2 ** 20;
const config = JSON.parse(process.env['BENCH_LEASES'] ?? '{}') as ManyLeasesConfig;
const counts = { revoked: 0, errors: 0, firstError: undefined as string | undefined };
const baselineRss = process.memoryUsage().rss;

/** The server's count of statements received so far (this query included). */
async function questions(pool: Pool): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Questions'");
  return Number(rows[0]?.['Value']);
}

const empty: ManyLeasesReport = {
  baselineRssMb: baselineRss / MB,
  startedMs: 0,
  cpuPercent: 0,
  rssMb: { max: 0, mean: 0, startMaxMb: 0 },
  statementsPerSecond: 0,
  renewalsPerSecond: 0,
  renewalLatencyMs: summarize([]),
  eventLoopDelayMs: { p50: 0, p99: 0 },
  leadingAtEnd: 0,
  revoked: 0,
  errors: 0,
};

async function hold(pool: Pool, status: Pool): Promise<ManyLeasesReport> {
  const startRss: number[] = [];
  const startSampler = setInterval(() => startRss.push(process.memoryUsage().rss), 100);
  const startedAt = performance.now();
  const leases = new Leases(pool, { age: config.age, tick: config.tick, onError: continueOnError });
  // The renewal latencies in a histogram of fixed size (µs), not an array of 600,000 samples that the measure would count.
  const renewals = createHistogram();
  let elected = 0;
  // One listener of each kind for all the leases, as an application would have.
  const onElected = (): void => void elected++;
  const onRenewed = ({ latencyMs }: RenewedEvent): void => renewals.record(Math.max(1, Math.round(latencyMs * 1000)));
  const onRevoked = ({ reason }: RevokedEvent): void => {
    if (reason !== 'closed') counts.revoked++;
  };
  const onError = (error: Error): void => {
    counts.errors++;
    counts.firstError ??= error.message;
  };
  const leaders = Array.from({ length: config.count }, (_, i) => {
    const leader = leases.leader(`${config.prefix}-${i}`);
    leader.on('elected', onElected).on('renewed', onRenewed).on('revoked', onRevoked).on('error', onError);
    void leader.acquire();
    return leader;
  });
  const deadline = performance.now() + 60_000;
  while (elected < config.count) {
    if (performance.now() > deadline) throw new Error(`${elected} of ${config.count} elected after 60 s`);
    await delay(10);
  }
  const startedMs = performance.now() - startedAt;
  await delay(config.warmupMs);
  clearInterval(startSampler);

  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 100);
  renewals.reset();
  counts.errors = 0;
  counts.revoked = 0;
  const questionsBefore = await questions(status);
  const cpuBefore = process.cpuUsage();
  const windowStart = performance.now();
  await delay(config.windowMs);
  const cpu = process.cpuUsage(cpuBefore);
  const windowMs = performance.now() - windowStart;
  const questionsAfter = await questions(status);
  clearInterval(sampler);
  loopDelay.disable();
  const report: ManyLeasesReport = {
    ...empty,
    startedMs,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
    rssMb: {
      max: Math.max(...rss) / MB,
      mean: rss.reduce((sum, value) => sum + value, 0) / rss.length / MB,
      startMaxMb: Math.max(...startRss, ...rss) / MB,
    },
    // The status query after the window counts itself.
    statementsPerSecond: (questionsAfter - questionsBefore - 1) / (windowMs / 1000),
    renewalsPerSecond: renewals.count / (windowMs / 1000),
    renewalLatencyMs: summarizeHistogram(renewals, 1000),
    eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6 },
    leadingAtEnd: leaders.filter((leader) => leader.leading).length,
    revoked: counts.revoked,
    errors: counts.errors,
    ...(counts.firstError !== undefined && { firstError: counts.firstError }),
  };
  await leases.close();
  return report;
}

async function lock(pool: Pool): Promise<ManyLeasesReport> {
  const leases = new Leases(pool, { age: config.age, tick: config.tick });
  const name = `${config.prefix}-lock`;
  const samples: number[] = [];
  for (let round = 0; round < config.rounds + 20; round++) {
    const start = performance.now();
    await leases.withLock(name, async () => {});
    if (round >= 20) samples.push(performance.now() - start); // the first calls warm up (JIT, connections)
  }
  await leases.close();
  return { ...empty, lockMs: summarize(samples) };
}

const pool = createPool({ uri: config.url, connectionLimit: config.connectionLimit });
const status = createPool({ uri: config.url, connectionLimit: 1 });
const report = config.mode === 'hold' ? await hold(pool, status) : await lock(pool);
await pool.end();
await status.end();
process.stdout.write(`${JSON.stringify(report)}\n`);
