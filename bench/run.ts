/**
 * `npm run bench`: the benchmark suite of mysql-leader. Starts a private
 * MariaDB, runs each scenario against it, prints a table of results and
 * writes them as JSON.
 *
 *   npm run bench                        every scenario, full rounds → bench/results.json
 *   npm run bench -- --quick             fewer rounds (a smoke run) → bench/out/results.json
 *   npm run bench -- --only handover     one scenario (repeat --only for more) → bench/out/results.json
 *   npm run bench -- --help              this text and the scenarios
 *
 * Timing scenarios use `age` 2000 ms and `tick` 500 ms on loopback. Whatever
 * happens (an error, Ctrl-C), child processes are killed and the server stopped.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createPool } from 'mysql2/promise';
import { startPrivateMariadb, type PrivateMariadb } from '../src/cli/harness/private-mariadb.js';
import { createMysqlLeaderTable } from '../src/index.js';
import { check } from './check.js';
import { failover } from './failover.js';
import { handover } from './handover.js';
import { jobLateness } from './job-lateness.js';
import { locks } from './locks.js';
import { manyElections } from './many-elections.js';
import { manyLeases } from './many-leases.js';
import { rebalance } from './rebalance.js';
import { formatTable } from './report.js';
import type { BenchContext, Scenario, ScenarioResult } from './scenario.js';
import { steadyState } from './steady-state.js';

/** Every scenario, by the name `--only` takes, in the order they run. */
const SCENARIOS: Readonly<Record<string, Scenario>> = {
  check,
  'steady-state': steadyState,
  handover,
  failover,
  'many-elections': manyElections,
  'many-leases': manyLeases,
  locks,
  'job-lateness': jobLateness,
  rebalance,
};

const AGE = 2000;
const TICK = 500;
const HERE = dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm run bench -- [--quick] [--only SCENARIO]...

Runs the benchmark scenarios against a private MariaDB on loopback (age ${AGE} ms,
tick ${TICK} ms) and prints their figures against their targets.

  --quick          fewer rounds, shorter windows (a smoke run)
  --only NAME      this scenario only (repeat for more): ${Object.keys(SCENARIOS).join(', ')}
  --help

All scenarios, full rounds: bench/results.json. --quick or --only: bench/out/results.json.
Exit code 1 when a target is missed.`);
  process.exit(0);
}
const only = values.only ?? Object.keys(SCENARIOS);
const unknown = only.filter((name) => !(name in SCENARIOS));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
const partial = values.quick || values.only !== undefined;
const output = partial ? join(HERE, 'out', 'results.json') : join(HERE, 'results.json');

const cleanups = new Set<() => void>();
const cleanUp = (): void => {
  for (const cleanup of cleanups) cleanup();
  cleanups.clear();
};
let server: PrivateMariadb | undefined;
// Kills what is still running when this process ends, however it ends.
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the children and the private server…`);
    cleanUp();
    void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

const started = new Date();
const results: ScenarioResult[] = [];
try {
  console.log('Starting a private MariaDB…');
  server = await startPrivateMariadb();
  const admin = createPool({ uri: server.url, connectionLimit: 1 });
  const [[versionRow]] = (await admin.query('SELECT VERSION() AS version')) as unknown as [[{ version: string }]];
  await createMysqlLeaderTable(admin);
  await admin.end();
  console.log(`MariaDB ${versionRow.version} at ${server.url}; age ${AGE} ms, tick ${TICK} ms${values.quick ? '; quick run' : ''}\n`);

  const context: BenchContext = {
    url: server.url,
    quick: values.quick,
    age: AGE,
    tick: TICK,
    pauseDatabase: async (ms) => {
      const pid = server?.pid ?? 0;
      // Interrupted meanwhile: the server must not stay frozen (its stop would wait forever).
      const forget = context.onExit(() => void process.kill(pid, 'SIGCONT'));
      process.kill(pid, 'SIGSTOP');
      try {
        await delay(ms);
      } finally {
        process.kill(pid, 'SIGCONT');
        forget();
      }
    },
    log: (line) => console.log(line),
    onExit: (cleanup) => {
      cleanups.add(cleanup);
      return () => cleanups.delete(cleanup);
    },
  };
  for (const name of only) {
    console.log(`── ${name}`);
    const startedAt = performance.now();
    const result = await SCENARIOS[name]!(context);
    console.log(`   done in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
    results.push(result);
  }

  console.log(`\n${formatTable(results)}\n`);
  for (const result of results) for (const note of result.notes) console.log(`${result.name}: ${note}`);
  const cpu = cpus();
  const report = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cpu: cpu[0]?.model,
      cores: cpu.length,
      memoryMb: Math.round(totalmem() / 2 ** 20),
      os: `${process.platform} ${release()}`,
      node: process.version,
    },
    server: `MariaDB ${versionRow.version}, private, loopback`,
    settings: { age: AGE, tick: TICK, quick: values.quick, scenarios: only },
    results,
  };
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nWrote ${relative(process.cwd(), output)}`);
  const missed = results.flatMap((result) => result.measures.filter((measure) => measure.met === false).map((measure) => `${result.name}: ${measure.label}`));
  if (missed.length > 0) console.log(`Targets missed: ${missed.length}\n  ${missed.join('\n  ')}`);
  process.exitCode = missed.length > 0 ? 1 : 0;
} finally {
  cleanUp();
  await server?.stop();
}
