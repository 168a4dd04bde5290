/**
 * One chaos run: a private MariaDB (or, with `--cluster galera`, a private
 * 3-node Galera cluster, participant k on node ((k-1) mod 3) + 1; or, with
 * `--cluster replicated`, a primary with an asynchronous GTID replica behind
 * a name that moves, every participant's proxy forwarding to that name), N
 * participant processes each behind its own fault proxy, seeded faults for
 * the duration (each heal followed by a hand-over probe, chaos/probe.ts),
 * then everything stopped and the log table read (with `--jobs`, the fires
 * table and the fenced job's rows too; with `--keys`, the participants also
 * share keys, chaos/keys.ts). Whatever happens (an
 * error, Ctrl-C), no participant, proxy or server is left behind, and the
 * server's (or the cluster's) folder is removed.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';
import { createMysqlLeaderFiresTable, createMysqlLeaderTable } from '../src/index.js';
import { startGaleraCluster, type GaleraCluster } from '../src/cli/harness/galera-cluster.js';
import { startPrivateMariadb, type PrivateMariadb } from '../src/cli/harness/private-mariadb.js';
import { startReplicatedMariadb, type ReplicatedMariadb } from '../src/cli/harness/replicated-mariadb.js';
import { sharedNow } from '../src/cli/shared-clock.js';
import { PROBE_TABLE_SQL, nodeOfParticipant } from './galera.js';
import { JOB_ROWS_TABLE_SQL } from './jobs.js';
import { ChaosNode } from './node.js';
import { settleTime } from './options.js';
import { HandoverProbe } from './probe.js';
import { FaultProxy } from './proxy.js';
import { Random } from './random.js';
import type { ChaosReport, ClusterMode, FaultKind, FaultRecord, FireRow, JobRow, LogRow, ProbeRecord, RunLog } from './records.js';
import { injectFaults } from './schedule.js';

/** What a run does. Durations in ms. */
export interface ChaosOptions {
  readonly cluster: ClusterMode;
  readonly duration: number;
  readonly participants: number;
  readonly seed: number;
  readonly kinds: readonly FaultKind[];
  readonly age: number;
  readonly tick: number;
  /** Mean time between two fault starts. */
  readonly interval: number;
  /** Most faults in force at once. */
  readonly concurrency: number;
  /** The pause between a participant's write attempts. */
  readonly writeEvery: number;
  /** The jobs workload (chaos/jobs.ts): each participant also schedules its jobs; one server only. */
  readonly jobs: boolean;
  /** The keys workload (chaos/keys.ts): each participant also shares this many keys (0: none); one server only. */
  readonly keys: number;
  /** Ctrl-C: stop at once, clean up, and reject with the signal's reason. */
  readonly signal: AbortSignal;
  /** Progress lines. */
  readonly write: (line: string) => void;
}

const ELECTION = 'chaos';
const LOG_TABLE_SQL = `CREATE TABLE IF NOT EXISTS chaos_log (
  id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  term BIGINT UNSIGNED NOT NULL,
  participant VARCHAR(64) NOT NULL,
  seq BIGINT UNSIGNED NOT NULL,
  live_term BIGINT UNSIGNED NULL
) ENGINE=InnoDB`;
/** Longest wait for the first leader. */
const FIRST_ELECTION_TIMEOUT = 30_000;

/** Runs the harness; resolves to everything the run recorded. */
export async function runChaos(options: ChaosOptions): Promise<RunLog> {
  const { age, tick, signal, write } = options;
  const started = sharedNow();
  const at = (): string => `${((sharedNow() - started) / 1000).toFixed(1).padStart(6)}s`;
  const reports: ChaosReport[] = [];
  const faults: FaultRecord[] = [];
  const probes: ProbeRecord[] = [];
  const nodes: ChaosNode[] = [];
  const proxies: FaultProxy[] = [];
  let server: PrivateMariadb | undefined;
  let cluster: GaleraCluster | undefined;
  let replicated: ReplicatedMariadb | undefined;
  const galera = options.cluster === 'galera';
  let highestTerm = 0;
  // Should this process end abruptly (a second Ctrl-C), its children go with it.
  // 'exit' cannot wait: the signals are sent, and the promises of the exits are let go.
  const killChildren = (): void => {
    for (const node of nodes) void node.retire();
  };
  process.once('exit', killChildren);
  try {
    // The server each participant's proxy forwards to: the one server, or participant k's Galera node.
    let portOf: (k: number) => number;
    let url: string;
    if (galera) {
      // What the cluster does to rejoin a node (a restart, a wipe) is part of the story of a run.
      cluster = await startGaleraCluster({ clockSkew: true, fastFailureDetection: true, log: (line) => write(`${at()}  galera: ${line}`) });
      const galeraNodes = cluster.nodes;
      write(`${at()}  private Galera cluster of ${galeraNodes.length} on ports ${galeraNodes.map((n) => n.port).join(', ')} (${cluster.dir})`);
      portOf = (k) => galeraNodes[nodeOfParticipant(k) - 1]?.port ?? 0;
      url = galeraNodes[0]?.url ?? '';
    } else if (options.cluster === 'replicated') {
      const pair = await startReplicatedMariadb();
      replicated = pair;
      write(
        `${at()}  private primary on port ${pair.primary.port}, replica on port ${pair.replica?.port ?? '?'}, behind the name (proxy) on port ${pair.port}`,
      );
      // Every participant's fault proxy forwards to the name, which forwards to the current primary.
      portOf = () => pair.port;
      url = pair.url;
    } else {
      const single = await startPrivateMariadb();
      server = single;
      write(`${at()}  private MariaDB on port ${single.port} (${single.dir})`);
      portOf = () => single.port;
      url = single.url;
    }
    const adminPort = portOf(1);
    await prepareTables(adminPort, galera, options.jobs);
    const dbOffset = options.jobs ? (await databaseClockOffset(adminPort)) + started : 0;

    const settings = { url, election: ELECTION, age, tick, writeEvery: options.writeEvery, jobs: options.jobs, keys: options.keys };
    // Stopped at the end of the run (or by Ctrl-C), whatever it is waiting for.
    const stopProbing = new AbortController();
    const probe = new HandoverProbe(nodes, tick, age + tick + 1_000, AbortSignal.any([signal, stopProbing.signal]), (record) => {
      probes.push(record);
      write(`${at()}  probe ${record.id}: ${record.node} told to resign (after fault${record.after.length === 1 ? '' : 's'} ${record.after.join(', ')})`);
    });
    const onReport = (report: ChaosReport): void => {
      reports.push(report);
      probe.observe(report);
      if (report.event === 'elected' && report.term !== undefined) highestTerm = Math.max(highestTerm, report.term);
      if (report.event === 'elected') write(`${at()}  ${report.node} elected, term ${report.term}`);
    };
    for (let i = 1; i <= options.participants; i++) {
      const proxy = new FaultProxy({ host: '127.0.0.1', port: portOf(i) });
      proxies.push(proxy);
      await proxy.listen();
      const node = new ChaosNode(`node-${i}`, proxy, settings, onReport);
      nodes.push(node);
      node.start();
    }
    await firstElection(nodes, signal);

    const until = started + options.duration - settleTime(age, tick, options.keys > 0);
    const context = {
      server,
      cluster,
      replicated,
      highestTerm: () => highestTerm,
      participants: nodes,
      nodeOf: (participant: ChaosNode) => nodeOfParticipant(nodes.indexOf(participant) + 1),
      age,
      tick,
      random: new Random(options.seed),
      signal,
    };
    await injectFaults(context, nodes, { ...options, until, gate: probe }, (fault) => {
      faults.push(fault);
      write(
        `${at()}  fault ${fault.id} healed: ${fault.kind} on ${fault.target}, ${(fault.heal - fault.start).toFixed(0)} ms (${fault.detail})${fault.reconfigurationMs === undefined ? '' : `; writes through another node waited up to ${fault.reconfigurationMs} ms`}${fault.kind === 'failover' ? `; highest term now ${highestTerm}` : ''}`,
      );
    });
    await delay(Math.max(0, started + options.duration - sharedNow()), undefined, { signal });
    // A probe still waiting for its hand-over gets as long as it would have had; then it stops.
    await Promise.race([probe.settled(), delay(age + tick + 1_000, undefined, { signal })]);
    stopProbing.abort();
    await probe.settled();

    write(`${at()}  stopping the participants`);
    const stoppedAt = sharedNow();
    await Promise.all(nodes.map((node) => node.stop()));
    // Every node has every write once it is Synced; the read waits for the latest commit anyway.
    // With a replicated primary the read goes through the name, to the final primary: what the
    // old primaries lost is not there, and the checker exempts exactly those writes.
    await cluster?.waitSynced();
    const rows = await readRows(adminPort, galera);
    const jobs = options.jobs ? { dbOffset, stoppedAt: stoppedAt - started, ...(await readJobTables(adminPort)) } : undefined;
    const since = (t: number): number => t - started;
    return {
      ...(galera && { cluster: 'galera' as const, placement: Object.fromEntries(nodes.map((n, k) => [n.name, nodeOfParticipant(k + 1)])) }),
      ...(replicated && { cluster: 'replicated' as const }),
      seed: options.seed,
      age,
      tick,
      nodes: nodes.map((n) => n.name),
      kinds: options.kinds,
      ended: since(sharedNow()),
      reports: reports.map((r) => ({
        ...r,
        mono: since(r.mono),
        ...(r.until !== undefined && { until: since(r.until) }),
        // A keys run's renewals: [key, term, until] each, and 'expired' after those found passed.
        ...(r.event === 'key-renewed' && {
          renewed: (r['renewed'] as [string, number, number, ...unknown[]][]).map(([key, term, until, ...flag]) => [key, term, since(until), ...flag]),
        }),
      })),
      faults: faults.map((f) => ({
        ...f,
        start: since(f.start),
        heal: since(f.heal),
        ...(f.writesBackAt !== undefined && { writesBackAt: since(f.writesBackAt) }),
        ...(f.reconfigurationAt !== undefined && { reconfigurationAt: since(f.reconfigurationAt) }),
        ...(f.replicationPausedAt !== undefined && { replicationPausedAt: since(f.replicationPausedAt) }),
        ...(f.promotedAt !== undefined && { promotedAt: since(f.promotedAt) }),
        ...(f.graceEndsAt !== undefined && { graceEndsAt: since(f.graceEndsAt) }),
      })),
      probes: probes.map((p) => ({ ...p, sent: since(p.sent) })),
      rows,
      ...(jobs && { jobs }),
      ...(options.keys > 0 && { keys: { count: options.keys, stoppedAt: stoppedAt - started } }),
    };
  } finally {
    await Promise.all(nodes.map((node) => node.retire()));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await server?.stop();
    await cluster?.stop();
    await replicated?.stop();
    process.removeListener('exit', killChildren);
  }
}

async function prepareTables(port: number, galera: boolean, jobs: boolean): Promise<void> {
  const admin = await createConnection({ host: '127.0.0.1', port, user: 'root', database: 'test' });
  try {
    await createMysqlLeaderTable(admin);
    await admin.query(LOG_TABLE_SQL);
    if (galera) await admin.query(PROBE_TABLE_SQL);
    if (jobs) {
      await createMysqlLeaderFiresTable(admin);
      await admin.query(JOB_ROWS_TABLE_SQL);
    }
  } finally {
    await admin.end();
  }
}

async function readRows(port: number, galera: boolean): Promise<LogRow[]> {
  const admin = await createConnection({ host: '127.0.0.1', port, user: 'root', database: 'test', supportBigNumbers: true });
  try {
    if (galera) await admin.query('SET SESSION wsrep_sync_wait = 1');
    const [rows] = await admin.query('SELECT term, participant, seq, live_term FROM chaos_log ORDER BY id');
    return (rows as { term: number; participant: string; seq: number; live_term: number | null }[]).map((row) => ({
      term: Number(row.term),
      participant: row.participant,
      seq: Number(row.seq),
      liveTerm: row.live_term === null ? null : Number(row.live_term),
    }));
  } finally {
    await admin.end();
  }
}

/**
 * The database clock on the shared monotonic clock: `UTC_TIMESTAMP(6)` minus
 * the midpoint of the round trip that read it (ms), so that a slot's due
 * time by the database clock can be placed among the reports.
 */
async function databaseClockOffset(port: number): Promise<number> {
  const admin = await createConnection({ host: '127.0.0.1', port, user: 'root', database: 'test' });
  try {
    let best: { rtt: number; offset: number } | undefined;
    // The fastest of a few reads: the least room for error.
    for (let i = 0; i < 5; i++) {
      const sent = sharedNow();
      const [rows] = await admin.query("SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ') AS now");
      const back = sharedNow();
      const now = Date.parse(String((rows as { now: string }[])[0]?.now));
      if (!best || back - sent < best.rtt) best = { rtt: back - sent, offset: now - (sent + back) / 2 };
    }
    return best?.offset ?? 0;
  } finally {
    await admin.end();
  }
}

/** The fires table and the fenced job's rows, at the end of a jobs run. */
async function readJobTables(port: number): Promise<{ fires: FireRow[]; rows: JobRow[] }> {
  const admin = await createConnection({ host: '127.0.0.1', port, user: 'root', database: 'test', supportBigNumbers: true });
  try {
    const [fires] = await admin.query(
      "SELECT job_name, DATE_FORMAT(slot, '%Y-%m-%dT%H:%i:%s.%fZ') AS slot, node_name, term, attempt, outcome FROM leader_election_fires WHERE leader_name = ? ORDER BY slot",
      [ELECTION],
    );
    const [rows] = await admin.query('SELECT job, slot, term, node FROM chaos_job_rows ORDER BY id');
    return {
      fires: (fires as { job_name: string; slot: string; node_name: string; term: number; attempt: number; outcome: string }[]).map((f) => ({
        job: f.job_name,
        slot: new Date(f.slot).toISOString(),
        node: f.node_name,
        term: Number(f.term),
        attempt: Number(f.attempt),
        outcome: f.outcome,
      })),
      rows: (rows as { job: string; slot: string; term: number; node: string }[]).map((r) => ({
        job: r.job,
        slot: r.slot,
        term: Number(r.term),
        node: r.node,
      })),
    };
  } finally {
    await admin.end();
  }
}

/** Waits until a participant is elected: faults start from a running election. */
async function firstElection(nodes: readonly ChaosNode[], signal: AbortSignal): Promise<void> {
  const giveUpAt = sharedNow() + FIRST_ELECTION_TIMEOUT;
  while (!nodes.some((node) => node.leading)) {
    if (sharedNow() > giveUpAt) throw new Error(`no participant was elected within ${FIRST_ELECTION_TIMEOUT} ms`);
    await delay(50, undefined, { signal });
  }
}
