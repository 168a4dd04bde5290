/**
 * `npm run chaos -- [options]` (see options.ts for the flags): runs the
 * harness, checks what it recorded, prints the summary and writes the
 * picture. Exit codes: 0 no violation, 1 a violation (or a requested fault
 * kind never injected, or an error), 2 a usage error, 130 interrupted.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { check } from './checker.js';
import { runChaos } from './harness.js';
import { USAGE, UsageError, parseChaosArgs, type ChaosArgs } from './options.js';
import type { RunLog } from './records.js';
import { formatSummary, summarize } from './summary.js';
import { timeline } from './timeline.js';

const write = (line: string): void => void process.stdout.write(`${line}\n`);

/** The command line, or the exit after printing the usage. */
function parseOrExit(): ChaosArgs {
  try {
    const parsed = parseChaosArgs(process.argv.slice(2));
    if (parsed !== 'help') return parsed;
    write(USAGE);
    process.exit(0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
}
const args = parseOrExit();

/** Checks a run, prints its summary, writes its files into `out`; resolves to the exit code. */
function report(log: RunLog, out: string | undefined): number {
  const verdict = check(log);
  const summary = summarize(log, verdict);
  write('');
  for (const line of formatSummary(summary)) write(line);
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'timeline.svg'), timeline(log, verdict));
    writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    writeFileSync(join(out, 'run-log.json'), JSON.stringify(log));
    write(`  written:     ${join(out, 'timeline.svg')}, summary.json, run-log.json`);
  }
  return summary.violations > 0 || summary.faults.missingKinds.length > 0 ? 1 : 0;
}

if (args.replay) process.exit(report(JSON.parse(readFileSync(join(args.replay, 'run-log.json'), 'utf8')) as RunLog, args.out));

const controller = new AbortController();
const interrupt = (): void => {
  write('interrupted: stopping the participants, the proxies and the server…');
  controller.abort(new Error('interrupted'));
  // A second Ctrl-C ends at once; the exit handlers still kill what is running.
  process.once('SIGINT', () => process.exit(130));
};
process.once('SIGINT', interrupt);
process.once('SIGTERM', interrupt);

write(
  `chaos: ${{ single: 'one server', galera: 'a 3-node Galera cluster', replicated: 'a primary that fails over' }[args.cluster]}, seed ${args.seed}, ${args.participants} participants, ${args.duration / 1000} s, faults ${args.kinds.join(',')}${args.keys > 0 ? `, ${args.keys} keys shared` : ''}`,
);
try {
  const log = await runChaos({ ...args, signal: controller.signal, write });
  process.exit(report(log, args.out));
} catch (error) {
  if (controller.signal.aborted) {
    write('interrupted: everything stopped and removed.');
    process.exit(130);
  }
  process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
