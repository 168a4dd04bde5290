/**
 * `mysql-leader demo`: several participant processes elect a leader on the
 * local database; the demo crashes the leader (SIGKILL), then stops the next
 * one gracefully (SIGTERM), prints who leads as it changes, and ends with a
 * summary it has checked: fail-over and hand-over times, the terms, and that
 * no two processes ever believed they led at the same moment.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { createPool } from 'mysql2/promise';
import { createMysqlLeaderTable } from '../index.js';
import { UsageError, milliseconds, stringFlag, write, type Command } from './command.js';
import { canStartPrivateMariadb, startPrivateMariadb, type PrivateMariadb } from './harness/private-mariadb.js';
import { ParticipantProcess } from './harness/participant-process.js';
import { findViolation, tenuresOf, type Report } from './harness/tenures.js';
import { sharedNow } from './shared-clock.js';
import { redact, reachable } from './url.js';

/** Options of {@link runDemo}. */
interface DemoOptions {
  /** The server; without it, MYSQL_URL, then the local default, then a private MariaDB. */
  readonly url: string | undefined;
  /** How many participant processes campaign. */
  readonly participants: number;
  /** Their lease length, ms. */
  readonly age: number;
  /** Their renewal period, ms. */
  readonly tick: number;
}

/** `mysql-leader demo`. */
export const demoCommand: Command = {
  summary: 'several processes elect a leader; watch a crash and a graceful hand-over',
  usage: `mysql-leader demo [--url URL] [--participants N] [--age MS] [--tick MS]

Starts N participant processes (default 3) in one election on the database at
--url (default: $MYSQL_URL, else mysql://root@127.0.0.1:3306/test; when nothing
answers there and mariadbd is installed, a private throwaway MariaDB). Shows who
leads as it changes, kills the leader with SIGKILL, stops the next one with
SIGTERM, and ends with a checked summary. Creates the table leader_election if
it is missing. Defaults: --age 3000, --tick 1000.

Exit codes: 0 when every check held, 1 otherwise or on error, 2 usage error.`,
  options: { url: { type: 'string' }, participants: { type: 'string' }, age: { type: 'string' }, tick: { type: 'string' } },
  async run({ values }) {
    const participants = Number(values['participants'] ?? 3);
    if (!Number.isInteger(participants) || participants < 2 || participants > 9) {
      throw new UsageError(`--participants must be a whole number from 2 to 9, received "${String(values['participants'])}"`);
    }
    const age = milliseconds(values, 'age', 3000);
    const tick = milliseconds(values, 'tick', 1000);
    if (tick * 2 > age) throw new UsageError(`--tick (${tick}) must be at most half of --age (${age})`);
    return runDemo({ url: stringFlag(values, 'url'), participants, age, tick });
  },
};

/** The server the demo uses when neither `--url` nor MYSQL_URL names one. */
const DEFAULT_URL = 'mysql://root@127.0.0.1:3306/test';

/** Runs the demo; resolves to the exit code (0 when every check held). */
async function runDemo(options: DemoOptions): Promise<number> {
  const { age, tick } = options;
  const started = sharedNow();
  const at = (): string => `${((sharedNow() - started) / 1000).toFixed(2).padStart(6)}s`;
  let server: PrivateMariadb | undefined;
  let url = options.url ?? process.env['MYSQL_URL'] ?? DEFAULT_URL;
  if (!(await reachable(url))) {
    if (!canStartPrivateMariadb()) throw new Error(`nothing answers at ${redact(url)}, and mariadbd is not installed to start a private server`);
    write(`Nothing answers at ${redact(url)}: starting a private MariaDB in a temporary folder…`);
    server = await startPrivateMariadb();
    url = server.url;
  }
  const pool = createPool({ uri: url, connectionLimit: 1 });
  const nodes: ParticipantProcess[] = [];
  const stopOnSignal = (): void => {
    void Promise.all(nodes.map((node) => node.kill('SIGKILL'))).finally(() => void server?.stop().finally(() => process.exit(130)));
  };
  process.once('SIGINT', stopOnSignal);
  try {
    await createMysqlLeaderTable(pool);
    const election = `demo-${randomBytes(2).toString('hex')}`;
    write(`mysql-leader demo: ${options.participants} processes campaign in election "${election}" on ${redact(url)}`);
    write(`(age ${age} ms: a crashed leader's lease runs out after this; tick ${tick} ms: how often the leader renews)\n`);

    const show = (node: ParticipantProcess, report: Report): void => {
      if (report.event === 'elected') write(`${at()}  ${node.name} is elected, term ${report.term}`);
      else if (report.event === 'revoked') write(`${at()}  ${node.name} steps down, term ${report.term} (${report.reason})`);
      else if (report.event === 'error') write(`${at()}  ${node.name}: ${String(report['message'])}`);
      if (report.event === 'elected' || report.event === 'revoked') {
        const board = nodes.map((n) => (!n.running ? `(${n.name} down)` : n.leading ? `[${n.name} LEADS]` : n.name)).join('  ');
        write(`${' '.repeat(9)}${board}`);
      }
    };
    for (let i = 1; i <= options.participants; i++) {
      const node: ParticipantProcess = new ParticipantProcess({ url, leaderName: election, nodeName: `node-${i}`, age, tick }, {}, (report) =>
        show(node, report),
      );
      nodes.push(node);
      node.start();
    }

    const nextLeader = async (since: number, exclude?: ParticipantProcess): Promise<{ node: ParticipantProcess; report: Report }> =>
      Promise.any(
        nodes
          .filter((node) => node !== exclude)
          .map(async (node) => ({ node, report: await node.waitFor((r) => r.event === 'elected' && r.mono > since, age + tick + 10_000, 'election') })),
      );

    const first = await nextLeader(started);
    await delay(2 * tick);

    write(`\n${at()}  ── crash: SIGKILL ${first.node.name}, the leader. It releases nothing; the others take over when its lease ends.`);
    const killedAt = sharedNow();
    await first.node.kill('SIGKILL');
    const failover = await nextLeader(killedAt, first.node);
    const failoverMs = failover.report.mono - killedAt;
    write(`${at()}  ${failover.node.name} took over ${failoverMs.toFixed(0)} ms after the crash (the lease had up to ${age} ms left).`);
    first.node.start();
    write(`${at()}  ${first.node.name} restarts and follows.`);
    await delay(2 * tick);

    write(`\n${at()}  ── graceful stop: SIGTERM ${failover.node.name}, the leader. It steps down, releases, and a waiting follower is woken.`);
    const stoppedAt = sharedNow();
    void failover.node.kill('SIGTERM');
    const handover = await nextLeader(stoppedAt, failover.node);
    const handoverMs = handover.report.mono - stoppedAt;
    write(`${at()}  ${handover.node.name} took over ${handoverMs.toFixed(1)} ms after the stop.`);
    await delay(tick);

    write(`\n${at()}  ── shutting down.`);
    await Promise.all(nodes.map((node) => node.kill('SIGTERM')));

    const tenures = nodes.flatMap((node) => tenuresOf(node.reports));
    const violation = findViolation(tenures);
    const terms = tenures.map((tenure) => tenure.term).sort((a, b) => a - b);
    write('\nSummary');
    write(`  fail-over after a crash:     ${failoverMs.toFixed(0)} ms   (bounded by age ${age} ms + a round trip)`);
    write(`  hand-over after a stop:      ${handoverMs.toFixed(1)} ms   (a follower waiting on the hand-over lock is woken)`);
    write(`  tenures:                     ${tenures.length}, terms ${terms.join(', ')}`);
    write(`  one leader at a time:        ${violation ? `NO: ${violation}` : 'yes, checked on the shared monotonic clock of this machine'}`);
    return violation ? 1 : 0;
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    await Promise.all(nodes.map((node) => node.kill('SIGKILL')));
    await pool.end();
    await server?.stop();
  }
}
