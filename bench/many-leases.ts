/**
 * The lease engine (`Leases`): one process holding 10,000 leases, then
 * 1,000, each alone in its election (so each renews once a tick), all
 * through one engine on ONE pool; and an uncontended `withLock()`, acquire
 * to release. Each runs in a child process of its own (many-leases-process.ts),
 * compiled to plain JavaScript first, as many-elections does.
 *
 * The statements are counted by the server (`Questions`): the private server
 * serves nothing else meanwhile. `age` 5000 ms and `tick` 1000 ms, the
 * settings of the targets; the engine's default batching (a 50 ms
 * window, 1,000 leases a statement).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { compileChild } from './many-elections.js';
import type { ManyLeasesConfig, ManyLeasesReport } from './many-leases-process.js';
import { electionName, type BenchContext, type Measure, type ScenarioResult } from './scenario.js';

const SOURCE = join(fileURLToPath(new URL('.', import.meta.url)), 'many-leases-process.ts');
const TICK = 1000;
const AGE = 5000;
/** mysql2's default `connectionLimit`. */
const CONNECTIONS = 10;
const LOCK_ROUNDS = 500;

/** Runs the compiled child with `config` and returns its report. */
async function runChild(context: BenchContext, program: string, config: ManyLeasesConfig): Promise<ManyLeasesReport> {
  const child = spawn(process.execPath, [program], { env: { ...process.env, BENCH_LEASES: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const forget = context.onExit(() => child.kill('SIGKILL'));
  try {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const output = await text(child.stdout);
    const code = await exited;
    if (code !== 0) throw new Error(`many-leases child (${config.mode}, ${config.count}) exited with ${code}`);
    const report = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as ManyLeasesReport;
    context.log(`  ${config.mode} ${config.mode === 'hold' ? config.count : config.rounds}: ${JSON.stringify(report)}`);
    return report;
  } finally {
    forget();
  }
}

/** The figures of `count` leases held by one process. */
function holdMeasures(count: number, report: ManyLeasesReport, targets: { cpu?: number; rss: number; statements?: number }): Measure[] {
  const measures: Measure[] = [];
  const { cpu, rss, statements } = targets;
  measures.push(
    cpu === undefined
      ? { label: `${count} leases: CPU of the process`, unit: '% of one core', value: report.cpuPercent }
      : { label: `${count} leases: CPU of the process`, unit: '% of one core', value: report.cpuPercent, target: `< ${cpu} %`, met: report.cpuPercent < cpu },
    { label: `${count} leases: RSS (max over the window)`, unit: 'MB', value: report.rssMb.max, target: `< ${rss} MB`, met: report.rssMb.max < rss },
    { label: `${count} leases: RSS (max, start-up included)`, unit: 'MB', value: report.rssMb.startMaxMb },
    statements === undefined
      ? { label: `${count} leases: statements`, unit: '/s', value: report.statementsPerSecond }
      : {
          label: `${count} leases: statements`,
          unit: '/s',
          value: report.statementsPerSecond,
          target: `≤ ${statements}`,
          met: report.statementsPerSecond <= statements,
        },
    {
      label: `${count} leases: renewals`,
      unit: '/s',
      value: report.renewalsPerSecond,
      target: `≈ ${count * (1000 / TICK)}`,
      met: report.renewalsPerSecond >= 0.95 * count * (1000 / TICK),
    },
    { label: `${count} leases: renewal latency (the wait for the batch included)`, unit: 'ms', value: report.renewalLatencyMs },
    { label: `${count} leases: all elected after start`, unit: 'ms', value: report.startedMs },
    {
      label: `${count} leases: held at the end of the window`,
      unit: `of ${count}`,
      value: report.leadingAtEnd,
      target: `${count}`,
      met: report.leadingAtEnd === count,
    },
    {
      label: `${count} leases: tenures lost and database errors during the window`,
      unit: '',
      value: report.revoked + report.errors,
      target: '0',
      met: report.revoked + report.errors === 0,
    },
  );
  return measures;
}

/** Measures 10,000 and 1,000 leases held by one process, and an uncontended withLock(). */
export async function manyLeases(context: BenchContext): Promise<ScenarioResult> {
  const program = compileChild(SOURCE);
  const base = {
    url: context.url,
    age: AGE,
    tick: TICK,
    connectionLimit: CONNECTIONS,
    warmupMs: 3 * TICK,
    windowMs: context.quick ? 5 * TICK : 60 * TICK,
    rounds: LOCK_ROUNDS,
  };
  const large = await runChild(context, program, { ...base, mode: 'hold', count: 10_000, prefix: electionName('leases-10k') });
  const small = await runChild(context, program, { ...base, mode: 'hold', count: 1000, prefix: electionName('leases-1k') });
  const locks = await runChild(context, program, { ...base, mode: 'lock', count: 1, prefix: electionName('lock') });
  const lockMs = locks.lockMs?.p50 ?? Number.NaN;
  return {
    name: 'many-leases',
    settings: {
      age: AGE,
      tick: TICK,
      connectionLimit: CONNECTIONS,
      batchWindow: 50,
      maxBatch: 1000,
      warmupMs: base.warmupMs,
      windowMs: base.windowMs,
      lockRounds: LOCK_ROUNDS,
    },
    measures: [
      ...holdMeasures(10_000, large, { cpu: 5, rss: 100, statements: 20 }),
      ...holdMeasures(1000, small, { rss: 75 }),
      { label: 'withLock() uncontended, acquire → release', unit: 'ms', value: locks.lockMs ?? Number.NaN, target: 'p50 < 2 ms', met: lockMs < 2 },
    ],
    notes: [
      `One Leases engine on one mysql2 pool (connectionLimit ${CONNECTIONS}), age ${AGE} ms, tick ${TICK} ms, batchWindow 50 ms, maxBatch 1000; each lease alone in its election; CPU, RSS and statements (the server's Questions counter) over a ${base.windowMs / 1000} s window after all were elected and ${base.warmupMs / 1000} s of warm-up, in a child process running compiled JavaScript.`,
      `withLock(): ${LOCK_ROUNDS} calls one after the other on a lock no one else wants (after 20 to warm up), each a read, a claim and a release: the lone-caller path of the batches.`,
      ...[large, small].flatMap((report) => (report.firstError ? [`first error: ${report.firstError}`] : [])),
    ],
  };
}
