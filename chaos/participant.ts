/**
 * A chaos participant: one MysqlLeader, on the package's public API only,
 * that reports its tenures and, every few milliseconds, tries a fenced
 * write to the log table `chaos_log` (term, participant, seq). A follower
 * tries too: the library must refuse it. Each row also records, as
 * `live_term`, the term the election row holds when the row is inserted, in
 * the same transaction: the database's own witness of the live term.
 *
 * Reports are JSON lines on stdout (see `ChaosReport` in records.ts), with
 * `mono` on the machine's shared monotonic clock. A pipe write is synchronous
 * on Linux, so a line is in the pipe before the next statement is sent, and a
 * SIGKILL loses nothing that happened.
 *
 * With `jobs`, it also schedules the jobs of chaos/jobs.ts and reports their fires.
 * With `keys` (a count), it also runs a `Leases` engine sharing that many keys
 * (chaos/keys.ts) and reports each key's tenures and tasks.
 *
 * Config: the CHAOS_PARTICIPANT environment variable (JSON, see {@link Config}).
 * Commands: a line `resign` on standard input calls `leader.resign()` (the
 * harness measures the hand-over that follows). SIGTERM, or the end of
 * standard input (the harness is gone), closes it.
 */
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { createPool } from 'mysql2/promise';
import { CommitUnknownError, MysqlLeader } from '../src/index.js';
import { sharedNow as mono } from '../src/cli/shared-clock.js';
import { scheduleJobs } from './jobs.js';
import { shareKeys } from './keys.js';
import type { ResignPhase, WritePhase } from './records.js';

/** What the harness passes in CHAOS_PARTICIPANT. */
export interface Config {
  /** The database, through this participant's fault proxy. */
  readonly url: string;
  readonly election: string;
  readonly name: string;
  /** Which process of this name this is: 1, then one more per restart. */
  readonly run: number;
  readonly age: number;
  readonly tick: number;
  /** The pause between two write attempts, ms. */
  readonly writeEvery: number;
  /** The sequence number of the first write (one past the previous process's last). */
  readonly firstSeq: number;
  /** Whether it also schedules the jobs of the jobs workload (chaos/jobs.ts). */
  readonly jobs: boolean;
  /** The keys workload (chaos/keys.ts): how many keys it shares; 0 for none. */
  readonly keys: number;
}

const config = JSON.parse(process.env['CHAOS_PARTICIPANT'] ?? '{}') as Config;
const report = (fields: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ node: config.name, run: config.run, mono: mono(), wall: Date.now(), ...fields })}\n`);
};
// Whoever reads the reports is gone: stop (the lease runs out by itself).
process.stdout.on('error', () => process.exit(1));

// The election gets a small pool of its own, so that renewals never queue behind the writes.
const electionPool = createPool({ uri: config.url, connectionLimit: 3 });
const writePool = createPool({ uri: config.url, connectionLimit: 2 });
// The jobs' fenced transactions get theirs too (their autocommit statements use the election's, as the library does).
const jobPool = config.jobs ? createPool({ uri: config.url, connectionLimit: 3 }) : undefined;
// The keys' engine too: its batches never queue behind the election's or the writes'.
const keyPool = config.keys > 0 ? createPool({ uri: config.url, connectionLimit: 3 }) : undefined;
const leader = new MysqlLeader(electionPool, config.election, {
  nodeName: config.name,
  age: config.age,
  tick: config.tick,
  // The default, abortOnError: any error the library does not count as transient ends the campaign, which the checker reports (`crash`).
});

// The last instant this node would have said it leads, on the shared clock.
// remainingMs read first: a pause between the two reads can only make the deadline reported later, never earlier than the real one.
const until = (): number => leader.remainingMs + mono();
leader.on('elected', ({ term }) => report({ event: 'elected', term, until: until() }));
leader.on('renewed', ({ term }) => report({ event: 'renewed', term, until: until() }));
leader.on('revoked', ({ term, reason }) => report({ event: 'revoked', term, reason }));
leader.on('error', (error) => report({ event: 'error', message: error.message }));

// Each change of the hand-over lock's state (given back to a starved pool, taken back), looked at every 50 ms.
let lockActive: boolean | undefined;
let lockTimer: NodeJS.Timeout | undefined;
const watchLock = (): void => {
  if (leader.handoverLockActive !== lockActive) {
    lockActive = leader.handoverLockActive;
    report({ event: 'lock', active: lockActive });
  }
  lockTimer = setTimeout(watchLock, 50);
};

const INSERT = 'INSERT INTO chaos_log (term, participant, seq, live_term) SELECT ?, ?, ?, term FROM leader_election WHERE leader_name = ?';
const writeReport = (seq: number, phase: WritePhase, fields: Record<string, unknown> = {}): void => report({ event: 'write', seq, phase, ...fields });

/**
 * One fenced write. Its outcome, as the library reports it: `acked`
 * (committed), `unknown` (a `CommitUnknownError`: it may or may not be
 * there) or `rejected` (any other error: the library says nothing was
 * committed, and the checker holds it to that).
 */
async function write(seq: number): Promise<void> {
  writeReport(seq, 'begin');
  try {
    await leader.withLeadership(
      async (conn, { term }) => {
        await conn.query(INSERT, [term, config.name, seq, config.election]);
        writeReport(seq, 'inserted', { term }); // the commit is sent after this instant.
      },
      { db: writePool },
    );
    writeReport(seq, 'acked');
  } catch (error) {
    writeReport(seq, error instanceof CommitUnknownError ? 'unknown' : 'rejected', { message: String(error) });
  }
}

/**
 * A `resign()` the harness asked for: `begin` (whether it led then, its
 * term, whether its hand-over lock was active), then `done` or `failed`.
 */
async function resign(): Promise<void> {
  const resignReport = (phase: ResignPhase, fields: Record<string, unknown> = {}): void => report({ event: 'resign', phase, ...fields });
  resignReport('begin', { leading: leader.leading, term: leader.term, handoverLock: leader.handoverLockActive });
  try {
    await leader.resign();
    resignReport('done');
  } catch (error) {
    resignReport('failed', { message: String(error) });
  }
}

let closing = false;
async function writeLoop(): Promise<void> {
  for (let seq = config.firstSeq; !closing; seq++) {
    await write(seq);
    await delay(config.writeEvery);
  }
}

report({ event: 'ready' });
watchLock();
const jobs = jobPool ? scheduleJobs(leader, jobPool, config.name, report) : [];
const keys = keyPool ? shareKeys(keyPool, { nodeName: config.name, age: config.age, tick: config.tick, count: config.keys }, report) : undefined;
leader.acquire().catch((error: unknown) => report({ event: 'failed', message: String(error) }));
const writing = writeLoop();

let closed: Promise<void> | undefined;
const close = (): Promise<void> =>
  (closed ??= (async () => {
    closing = true;
    clearTimeout(lockTimer);
    await writing;
    await Promise.all(jobs.map((job) => job.stop()));
    await Promise.all([leader.close(), keys?.close()]);
    await Promise.all([electionPool.end(), writePool.end(), jobPool?.end(), keyPool?.end()]);
    report({ event: 'closed' });
    process.exit(0);
  })());
process.once('SIGTERM', () => void close());
const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  if (line.trim() === 'resign' && !closing) void resign();
});
commands.on('close', () => void close());
