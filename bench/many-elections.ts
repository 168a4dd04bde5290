/**
 * Memory and CPU of one process holding 1,000 elections: 1,000 MysqlLeader
 * instances on ONE pool, each alone in its election (so each leads and
 * renews once a tick: 1,000 UPDATEs per second at `tick` 1000 ms). Runs in a
 * child process of its own (many-elections-process.ts), so that the figures
 * are that process's alone.
 *
 * `handoverLock` is off: the lock holds one pool connection per election.
 * `age` is 5000 ms, because `tick + margin < age` must hold with `tick` 1000.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { text } from 'node:stream/consumers';
import type { ManyElectionsConfig, ManyElectionsReport } from './many-elections-process.js';
import { electionName, type BenchContext, type ScenarioResult } from './scenario.js';

const PROGRAM = fileURLToPath(new URL('./many-elections-process.ts', import.meta.url));
const COUNT = 1000;
const TICK = 1000;
const AGE = 5000;
/** mysql2's default `connectionLimit`. */
const CONNECTIONS = 10;

/** Runs the child and turns its report into measures. */
export async function manyElections(context: BenchContext): Promise<ScenarioResult> {
  const config: ManyElectionsConfig = {
    url: context.url,
    prefix: electionName('many'),
    count: COUNT,
    age: AGE,
    tick: TICK,
    connectionLimit: CONNECTIONS,
    warmupMs: 2 * TICK,
    windowMs: context.quick ? 5 * TICK : 20 * TICK,
  };
  const child = spawn(process.execPath, [...process.execArgv, PROGRAM], {
    env: { ...process.env, BENCH_MANY: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const forget = context.onExit(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const output = await text(child.stdout);
  const code = await exited;
  forget();
  if (code !== 0) throw new Error(`many-elections child exited with ${code}`);
  const report = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as ManyElectionsReport;
  context.log(`  ${JSON.stringify(report)}`);
  const renewalTarget = COUNT * (1000 / TICK);
  return {
    name: 'many-elections',
    settings: { count: COUNT, age: AGE, tick: TICK, connectionLimit: CONNECTIONS, handoverLock: false, warmupMs: config.warmupMs, windowMs: config.windowMs },
    measures: [
      { label: `CPU of the process, ${COUNT} elections`, unit: '% of one core', value: report.cpuPercent, target: '< 25 %', met: report.cpuPercent < 25 },
      { label: 'RSS of the process (max over the window)', unit: 'MB', value: report.rssMb.max, target: '< 100 MB', met: report.rssMb.max < 100 },
      { label: 'RSS before the pool and leaders existed (node + tsx)', unit: 'MB', value: report.baselineRssMb },
      { label: 'JS heap used', unit: 'MB', value: report.heapUsedMb },
      { label: 'renewals', unit: '/s', value: report.renewalsPerSecond, target: `≈ ${renewalTarget} (1 per election per tick)`, met: report.renewalsPerSecond >= 0.95 * renewalTarget },
      { label: 'renewal latency (pool wait included)', unit: 'ms', value: report.renewalLatencyMs },
      { label: 'event-loop delay p99', unit: 'ms', value: report.eventLoopDelayMs.p99 },
      { label: `all ${COUNT} elected after start`, unit: 'ms', value: report.allElectedMs },
      { label: 'leading at the end of the window', unit: `of ${COUNT}`, value: report.leadingAtEnd, target: `${COUNT}`, met: report.leadingAtEnd === COUNT },
      { label: 'tenures lost and database errors', unit: '', value: report.revoked + report.errors, target: '0', met: report.revoked + report.errors === 0 },
    ],
    notes: [
      `${COUNT} MysqlLeader instances on one mysql2 pool (connectionLimit ${CONNECTIONS}), age ${AGE} ms (tick + margin < age must hold), tick ${TICK} ms, handoverLock false; CPU and RSS over a ${config.windowMs / 1000} s window after all were elected and ${config.warmupMs / 1000} s of warm-up.`,
      ...(report.firstError ? [`first error: ${report.firstError}`] : []),
    ],
  };
}
