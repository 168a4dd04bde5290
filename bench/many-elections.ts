/**
 * Memory and CPU of one process holding 1,000 elections: 1,000 MysqlLeader
 * instances on ONE pool, each alone in its election (so each leads and
 * renews once a tick: 1,000 UPDATEs per second at `tick` 1000 ms). Runs in a
 * child process of its own (many-elections-process.ts), compiled to plain
 * JavaScript first, so that the figures are those of a deployed process:
 * neither the runner nor the tsx loader (about 35 MB of RSS) counts.
 *
 * The same process then runs the same statements without the library (the
 * child's `driver` mode): that floor is what mysql2, the kernel and the
 * garbage of 1,000 statements a second cost by themselves.
 *
 * `handoverLock` is off: the lock holds one pool connection per election.
 * `age` is 5000 ms, because `tick + margin < age` must hold with `tick` 1000.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import type { ManyElectionsConfig, ManyElectionsReport } from './many-elections-process.js';
import { electionName, type BenchContext, type ScenarioResult } from './scenario.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE = join(ROOT, 'bench', 'many-elections-process.ts');
/** Where the child program and the library are compiled to (git-ignored). */
const OUT = join(ROOT, 'bench', 'out', 'js');
const COUNT = 1000;
const TICK = 1000;
const AGE = 5000;
/** mysql2's default `connectionLimit`. */
const CONNECTIONS = 10;

/** Compiles a child program (`source`, in bench/) and what it imports to plain JavaScript; returns its path. */
export function compileChild(source = SOURCE): string {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const flags = [
    '--outDir',
    OUT,
    '--rootDir',
    ROOT,
    '--module',
    'NodeNext',
    '--moduleResolution',
    'NodeNext',
    '--target',
    'ES2022',
    '--types',
    'node',
    '--skipLibCheck',
    '--noCheck',
  ];
  const result = spawnSync(process.execPath, [tsc, ...flags, source], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`compiling ${source} failed: ${result.error?.message ?? result.stdout + result.stderr}`);
  return join(OUT, 'bench', basename(source).replace(/\.ts$/, '.js'));
}

/** Runs the compiled child in `mode` and returns its report. */
async function runChild(context: BenchContext, program: string, config: ManyElectionsConfig): Promise<ManyElectionsReport> {
  const child = spawn(process.execPath, [program], {
    env: { ...process.env, BENCH_MANY: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const forget = context.onExit(() => child.kill('SIGKILL'));
  try {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const output = await text(child.stdout);
    const code = await exited;
    if (code !== 0) throw new Error(`many-elections child (${config.mode}) exited with ${code}`);
    const report = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as ManyElectionsReport;
    context.log(`  ${config.mode}: ${JSON.stringify(report)}`);
    return report;
  } finally {
    forget();
  }
}

/** Measures 1,000 elections in one process, and the same statements without the library. */
export async function manyElections(context: BenchContext): Promise<ScenarioResult> {
  const program = compileChild();
  const base = {
    url: context.url,
    count: COUNT,
    age: AGE,
    tick: TICK,
    connectionLimit: CONNECTIONS,
    warmupMs: 2 * TICK,
    windowMs: context.quick ? 5 * TICK : 60 * TICK,
  };
  const library = await runChild(context, program, { ...base, mode: 'library', prefix: electionName('many') });
  const driver = await runChild(context, program, { ...base, mode: 'driver', prefix: electionName('many-driver') });
  const renewalTarget = COUNT * (1000 / TICK);
  return {
    name: 'many-elections',
    settings: { count: COUNT, age: AGE, tick: TICK, connectionLimit: CONNECTIONS, handoverLock: false, warmupMs: base.warmupMs, windowMs: base.windowMs },
    measures: [
      { label: `CPU of the process, ${COUNT} elections`, unit: '% of one core', value: library.cpuPercent, target: '< 25 %', met: library.cpuPercent < 25 },
      { label: 'RSS of the process (max over the window)', unit: 'MB', value: library.rssMb.max, target: '< 100 MB', met: library.rssMb.max < 100 },
      { label: 'RSS before the pool and elections existed', unit: 'MB', value: library.baselineRssMb },
      { label: 'JS heap used at the end (garbage included)', unit: 'MB', value: library.heapUsedMb },
      {
        label: 'renewals',
        unit: '/s',
        value: library.renewalsPerSecond,
        target: `≈ ${renewalTarget} (1 per election per tick)`,
        met: library.renewalsPerSecond >= 0.95 * renewalTarget,
      },
      { label: 'renewal latency (pool wait included)', unit: 'ms', value: library.renewalLatencyMs },
      { label: 'event-loop delay p99', unit: 'ms', value: library.eventLoopDelayMs.p99 },
      { label: `all ${COUNT} elected after start`, unit: 'ms', value: library.startedMs },
      { label: 'leading at the end of the window', unit: `of ${COUNT}`, value: library.leadingAtEnd, target: `${COUNT}`, met: library.leadingAtEnd === COUNT },
      {
        label: 'tenures lost and database errors during the window',
        unit: '',
        value: library.revoked + library.errors,
        target: '0',
        met: library.revoked + library.errors === 0,
      },
      { label: 'database errors while starting (timed out in the pool queue)', unit: '', value: library.startErrors },
      { label: 'floor, same UPDATEs with mysql2 alone: CPU', unit: '% of one core', value: driver.cpuPercent },
      { label: 'floor, same UPDATEs with mysql2 alone: RSS max', unit: 'MB', value: driver.rssMb.max },
      { label: 'floor, same UPDATEs with mysql2 alone: renewal latency', unit: 'ms', value: driver.renewalLatencyMs },
    ],
    notes: [
      `${COUNT} MysqlLeader instances on one mysql2 pool (connectionLimit ${CONNECTIONS}), age ${AGE} ms (tick + margin < age must hold), tick ${TICK} ms, handoverLock false; CPU and RSS over a ${base.windowMs / 1000} s window after all were elected and ${base.warmupMs / 1000} s of warm-up, in a child process running compiled JavaScript.`,
      `The floor runs the same renewal UPDATE of ${COUNT} rows, once a tick each, with mysql2 alone in the same kind of process: what the library adds is the difference.`,
      ...(library.firstError ? [`first error: ${library.firstError}`] : []),
    ],
  };
}
