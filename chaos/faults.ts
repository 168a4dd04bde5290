/**
 * The fault kinds: how long each lasts, how it is injected, how it heals.
 * Durations scale with the lease (`age`) and the election interval (`tick`),
 * so that each fault does what it is meant to (a pause outlives the lease,
 * latency outlasts a tick).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';
import type { GaleraCluster } from '../src/cli/harness/galera-cluster.js';
import type { PrivateMariadb } from '../src/cli/harness/private-mariadb.js';
import type { ReplicatedMariadb } from '../src/cli/harness/replicated-mariadb.js';
import { sharedNow } from '../src/cli/shared-clock.js';
import { GALERA_NODES, StallProbe, galeraNodeName } from './galera.js';
import type { ChaosNode } from './node.js';
import type { CutMode } from './proxy.js';
import type { Random } from './random.js';
import type { FaultKind, FaultRecord } from './records.js';

/** What faults act on: one server, a Galera cluster, or a primary with a replica behind a name that moves. */
export interface FaultContext {
  readonly server: PrivateMariadb | undefined;
  readonly cluster: GaleraCluster | undefined;
  readonly replicated: ReplicatedMariadb | undefined;
  /** The highest term any participant has been elected under so far. */
  readonly highestTerm: () => number;
  /** Galera: the participants, and the node (1-based) each talks to; a node fault leans towards the leader's node. */
  readonly participants: readonly ChaosNode[];
  readonly nodeOf: (participant: ChaosNode) => number;
  readonly age: number;
  readonly tick: number;
  readonly random: Random;
  /** The run's Ctrl-C: stops the measures still running. */
  readonly signal: AbortSignal;
}

/** A fault in force: what was done, and how to undo it. */
export interface Injection {
  readonly detail: string;
  /** What it hit, when that is not the participant the scheduler chose (a Galera node). */
  readonly target?: string;
  heal(): Promise<void>;
  /** After the heal (at `healedAt`): what else the fault's record holds (a Galera node's reconfiguration). */
  measured?(
    healedAt: number,
  ): Promise<
    Pick<FaultRecord, 'reconfigurationMs' | 'reconfigurationAt' | 'writesBackAt' | 'replicationPausedAt' | 'promotedAt' | 'lostTransactions' | 'graceEndsAt'>
  >;
}

/** One kind of fault. */
export interface FaultType {
  /** `database`: the whole server, or one Galera node it chooses; `node`: one participant (its process, its link or its sessions). */
  readonly target: 'database' | 'node';
  /**
   * Whether it acts on the server, so that it must not run during a crash
   * (nor a crash during it); on Galera, during another node's fault: one
   * node at a time is faulted, and sessions are killed on running nodes.
   */
  readonly onServer: boolean;
  /**
   * Whether it starts a new participant process (`kill`, `skew`). With a
   * replicated primary none runs during a failover: a process started after
   * a failover never talked to the old primary and cannot notice it (the
   * library's stated assumption), so a failover waits for these to heal, and
   * these wait until the failover's new term has been claimed.
   */
  readonly restarts?: boolean;
  /** Whether a participant is worth this fault now (default: any). */
  fits?(node: ChaosNode): boolean;
  /** Shortest and longest time in force, ms (0 for an instant fault). */
  duration(context: FaultContext): { readonly min: number; readonly max: number };
  /** Injects the fault; `node` is undefined for a `database` fault; `id` is the fault's. */
  inject(context: FaultContext, node: ChaosNode | undefined, id: number): Promise<Injection>;
}

/**
 * The statements of a fenced write where `fence-cut` destroys the
 * connection: its INSERT once the server ran it (the open transaction is
 * rolled back), its COMMIT before the server sees it (rolled back too), its
 * COMMIT once the server answered (committed, and the client never hears).
 */
const FENCE_CUTS: readonly { readonly pattern: RegExp; readonly mode: CutMode; readonly where: string }[] = [
  { pattern: /^INSERT INTO chaos_log/, mode: 'replied', where: 'after the INSERT ran, before its reply' },
  { pattern: /^COMMIT$/, mode: 'unsent', where: 'at COMMIT, before it reached the server' },
  { pattern: /^COMMIT$/, mode: 'replied', where: "after COMMIT's reply left the server" },
];

function nodeOf(node: ChaosNode | undefined): ChaosNode {
  if (!node) throw new TypeError('this fault needs a participant');
  return node;
}

/** Every fault kind. */
export const FAULTS: Record<FaultKind, FaultType> = {
  kill: {
    onServer: false,
    restarts: true,
    target: 'node',
    duration: ({ age }) => ({ min: 0.2 * age, max: 1.5 * age }),
    async inject(_context, target) {
      const node = nodeOf(target);
      await node.kill();
      return { detail: 'SIGKILL, then a new process', heal: async () => node.start() };
    },
  },
  pause: {
    onServer: false,
    target: 'node',
    duration: ({ age }) => ({ min: 1.1 * age, max: 2 * age }),
    async inject(_context, target) {
      const node = nodeOf(target);
      node.pause();
      return { detail: 'SIGSTOP, then SIGCONT', heal: async () => node.resume() };
    },
  },
  partition: {
    onServer: false,
    target: 'node',
    duration: ({ age }) => ({ min: 0.5 * age, max: 2 * age }),
    async inject(_context, target) {
      const { proxy } = nodeOf(target);
      proxy.partition();
      return { detail: 'traffic held both ways', heal: async () => proxy.heal() };
    },
  },
  latency: {
    onServer: false,
    target: 'node',
    duration: ({ age }) => ({ min: age, max: 2.5 * age }),
    async inject({ random, tick }, target) {
      const { proxy } = nodeOf(target);
      const latency = Math.round(random.between(1.1, 2.5) * tick);
      proxy.latency = latency;
      return {
        detail: `+${latency} ms each way`,
        // Bytes sent just before the heal are still delayed: it is over when they arrive.
        heal: async () => {
          proxy.latency = 0;
          await delay(latency);
        },
      };
    },
  },
  'db-crash': {
    onServer: true,
    target: 'database',
    duration: ({ age }) => ({ min: 0.1 * age, max: age }),
    async inject({ server }) {
      if (!server) throw new TypeError('db-crash needs the single server');
      await server.crash();
      // The heal ends when the server answers again, crash recovery included.
      return { detail: 'SIGKILL mariadbd, restart on the same data', heal: () => server.restart() };
    },
  },
  'db-kill-conn': {
    onServer: true,
    target: 'node',
    fits: (node) => node.proxy.upstreamPorts().length > 0,
    duration: () => ({ min: 0, max: 0 }),
    async inject({ replicated }, target) {
      const { proxy } = nodeOf(target);
      // The server (or Galera node) behind the participant's proxy; with a
      // replicated primary, the current primary behind the name that moves,
      // which sees the name's own connections for the proxy's.
      const killed = replicated
        ? await killSessions(replicated.primary.port, replicated.serverPortsOf(proxy.upstreamPorts()))
        : await killSessions(proxy.target.port, proxy.upstreamPorts());
      return { detail: `KILL of ${killed} session${killed === 1 ? '' : 's'}`, heal: async () => {} };
    },
  },
  'fence-cut': {
    onServer: false,
    target: 'node',
    fits: (node) => node.leading, // only a leader's fenced writes get past the share lock.
    duration: () => ({ min: 0, max: 0 }),
    async inject({ random, age }, target) {
      const { proxy } = nodeOf(target);
      const { pattern, mode, where } = random.pick(FENCE_CUTS);
      // It leads and writes every few ms: the statement comes soon, unless it stops leading first.
      const cut = await proxy.cutAt(pattern, mode, age);
      return { detail: cut ? `connection cut ${where}` : `no fenced write within ${age} ms to cut ${where}`, heal: async () => {} };
    },
  },
  skew: {
    onServer: false,
    restarts: true,
    target: 'node',
    duration: ({ age }) => ({ min: 1.5 * age, max: 3 * age }),
    async inject({ random }, target) {
      const node = nodeOf(target);
      const minutes = Math.round(random.between(60, 180)) * (random.chance(0.5) ? 1 : -1);
      const skew = `${minutes > 0 ? '+' : ''}${minutes}m`;
      await node.stop();
      node.start(skew);
      return {
        detail: `wall clock ${skew} (${(minutes / 60).toFixed(1)} h), restarted`,
        heal: async () => {
          await node.stop();
          node.start();
        },
      };
    },
  },
  failover: {
    onServer: true,
    target: 'database',
    duration: () => ({ min: 0, max: 0 }),
    async inject(context) {
      const { replicated, random, age, tick } = context;
      if (!replicated) throw new TypeError('failover needs --cluster replicated');
      // From here on, what the old primary commits may never reach the replica.
      const replicationPausedAt = sharedNow();
      await replicated.pauseReplication();
      const writing = Math.round(random.between(100, 1000));
      await delay(writing, undefined, { signal: context.signal });
      const termBefore = context.highestTerm();
      const promotion = await replicated.promote({ lostWrites: true });
      const promotedAt = sharedNow();
      return {
        detail: `replication paused, ${writing} ms of writes, promoted without them (${promotion.lostTransactions} transaction${promotion.lostTransactions === 1 ? '' : 's'} lost, ${Math.round(promotion.ms)} ms), then a fresh replica`,
        target: 'database',
        heal: () => replicated.rebuildReplica(),
        // Held (no process restarts) until a term above every earlier one is claimed on the new primary, or 2 × age + tick more.
        measured: async () => {
          const giveUpAt = sharedNow() + 2 * age + tick;
          while (context.highestTerm() <= termBefore && sharedNow() < giveUpAt && !context.signal.aborted) await delay(20);
          return { replicationPausedAt, promotedAt, lostTransactions: promotion.lostTransactions, graceEndsAt: promotedAt + age };
        },
      };
    },
  },
  'node-kill': nodeFault({ min: 0.25, max: 1 }, async (cluster, i) => {
    await cluster.kill(i);
    return {
      detail: 'kill -9 of mariadbd, restart on its data',
      heal: async () => void (await cluster.restart(i)),
    };
  }),
  'node-isolate': nodeFault({ min: 1, max: 2 }, async (cluster, i) => {
    await cluster.isolate(i, true);
    return { detail: 'cut off from the others (gmcast.isolate=1), then let back', heal: async () => void (await cluster.isolate(i, false)) };
  }),
  'node-pause': nodeFault({ min: 0.5, max: 2 }, async (cluster, i) => {
    await cluster.pause(i);
    return { detail: 'SIGSTOP of mariadbd, then SIGCONT', heal: async () => void (await cluster.resume(i)) };
  }),
  'node-skew': nodeFault({ min: 1.5, max: 3 }, async (cluster, i, random) => {
    const seconds = random.chance(0.5) ? 3600 : -3600;
    await cluster.setClockOffset(i, seconds);
    return { detail: `wall clock ${seconds > 0 ? '+' : '-'}1 h (libfaketime), then back`, heal: () => cluster.setClockOffset(i, 0) };
  }),
};

/** Chance that a node fault picks the leader's node. */
const LEADER_NODE_BIAS = 0.6;

/**
 * A fault of one Galera node, lasting `min`–`max` × `age`: it picks the
 * node (the leader's more often than not), runs `act` on it, and measures
 * the cluster's reconfiguration by writes through another node from the
 * start of the fault until the first commit after its heal.
 */
function nodeFault(
  length: { readonly min: number; readonly max: number },
  act: (cluster: GaleraCluster, i: number, random: Random) => Promise<Omit<Injection, 'target' | 'measured'>>,
): FaultType {
  return {
    onServer: true,
    target: 'database',
    duration: ({ age }) => ({ min: length.min * age, max: length.max * age }),
    async inject(context, _target, id) {
      const { cluster, random } = context;
      if (!cluster) throw new TypeError('node faults need --cluster galera');
      const leader = context.participants.find((p) => p.leading);
      const i = leader && random.chance(LEADER_NODE_BIAS) ? context.nodeOf(leader) : random.pick(Array.from({ length: GALERA_NODES }, (_, k) => k + 1));
      const survivor = (i % GALERA_NODES) + 1;
      const probe = new StallProbe(cluster.nodes[survivor - 1]?.port ?? 0, id, sharedNow(), context.signal);
      let injection;
      try {
        injection = await act(cluster, i, random);
      } catch (error) {
        probe.abandon();
        throw error;
      }
      return {
        ...injection,
        target: galeraNodeName(i),
        measured: async (healedAt) => probe.finish(healedAt),
      };
    },
  };
}

/** Kills, from the server's side, the sessions whose client ports are `ports`; returns how many. */
async function killSessions(serverPort: number, ports: readonly number[]): Promise<number> {
  if (ports.length === 0) return 0;
  const admin = await createConnection({ host: '127.0.0.1', port: serverPort, user: 'root', connectTimeout: 2_000 });
  try {
    const [rows] = await admin.query('SELECT ID AS id, HOST AS host FROM information_schema.PROCESSLIST');
    const wanted = new Set(ports.map(String));
    const ids = (rows as { id: number; host: string }[]).filter((row) => wanted.has(row.host.split(':').at(-1) ?? '')).map((row) => row.id);
    for (const id of ids) await admin.query(`KILL CONNECTION ${Number(id)}`).catch(() => {}); // already gone: fine.
    return ids.length;
  } finally {
    await admin.end();
  }
}
