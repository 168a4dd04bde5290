/**
 * A private MariaDB Galera cluster on loopback (three nodes by default), in a
 * temporary folder: for the tests and the chaos runs that need a
 * multi-primary cluster whose nodes they can crash, restart, freeze, cut off
 * from the others or run on a skewed clock. Needs `mariadbd` with the
 * galera-4 provider and `rsync` (Debian: `mariadb-server`, `galera-4`,
 * `rsync`); a skewed clock also needs libfaketime (Debian: `faketime`).
 *
 * Run as root, the nodes run as the user `mysql` and their folders are its
 * own: rsync's state transfer fails as root.
 *
 * Speed: every node starts from a copy of one template data directory (a
 * bootstrapped one-node cluster with the `test` database, made once per
 * machine), so that a joiner already holds the data and needs only the few
 * writesets since (IST). For such joins the nodes use a state-transfer
 * method of their own (QUICK_SST_SCRIPT below): rsync's would spend about
 * 2.5 s in fixed waits to copy nothing. A node restarted after a crash
 * first recovers its position from its data, then joins the same way; only
 * when that fails is its data wiped and copied again by rsync (SST).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';

/** One node of a {@link GaleraCluster}. */
export interface GaleraNode {
  /** 1 to the cluster's size; the `i` of the cluster's methods. */
  readonly index: number;
  /** Its client port on 127.0.0.1. */
  readonly port: number;
  /** `mysql://root@127.0.0.1:PORT/test` */
  readonly url: string;
  /** Its `mariadbd` process id (changes on `restart()`; 0 before the first start). */
  readonly pid: number;
  /** Its error log, to read when something went wrong. */
  readonly errorLog: string;
  /** Its data directory (owned by the user the node runs as). */
  readonly dataDir: string;
}

/** How a node came back into the cluster. */
export interface Rejoin {
  /**
   * `rejoined`: by itself, still running (it caught up by IST); `restarted`:
   * a new process on its own data, recovered after the crash, caught up by
   * IST; `wiped`: a new process on an emptied data directory, which received
   * a full copy from another node (rsync SST).
   */
  readonly how: 'rejoined' | 'restarted' | 'wiped';
  /** How long it took, from the call until the node was Synced, ms. */
  readonly ms: number;
}

/**
 * A running cluster. Nodes are numbered from 1. A node is a member when it
 * runs and is neither paused nor isolated: the cluster size the methods
 * wait for is the number of members.
 */
export interface GaleraCluster {
  /** The nodes, `nodes[i - 1]` for node `i`. */
  readonly nodes: readonly GaleraNode[];
  /** The folder holding every node's data, configuration and logs; removed by `stop()`. */
  readonly dir: string;
  /** Kills node `i`'s `mariadbd` with SIGKILL (a crash) and waits until it has exited; the others are not waited for. */
  kill(i: number): Promise<void>;
  /**
   * Starts node `i` again (after `kill(i)`; a running node is killed first)
   * and waits until it is Synced in a cluster of every member. It rejoins on
   * its own data, whose position is recovered first (`--wsrep-recover`), by
   * IST; when that fails, its data directory is wiped and it rejoins by a
   * full state transfer (SST). Another member must be running; when no
   * member is in a primary component, the most advanced one is bootstrapped
   * as the new primary component first (`pc.bootstrap=YES`, as after a loss
   * of quorum), so that node `i` has a cluster to join.
   */
  restart(i: number): Promise<Rejoin>;
  /** Freezes node `i` with SIGSTOP. Returns at once: the others evict it after their failure-detection timeouts (`waitSynced()` waits for that). */
  pause(i: number): Promise<void>;
  /**
   * Thaws node `i` with SIGCONT and waits until it and every other member are Synced in a cluster of every member (after
   * a second, in which it learns whether it was evicted); when it cannot rejoin by itself, restarts it as `restart(i)` does.
   */
  resume(i: number): Promise<Rejoin>;
  /**
   * `on`: cuts node `i` off from the others (`gmcast.isolate=1`) and waits
   * until it is out of the primary component and the others are Synced
   * without it; its clients then get errors 1047 or 1180. The others may
   * lose the primary component too: when the cut comes during a view change,
   * they can declare each other inactive and meet again in a non-primary
   * component, which only the return of every member of the last primary
   * component makes primary again (seen about once in 150 cuts on a busy
   * machine). Then no node takes writes until node `i` is let back, and
   * this resolves after 20 s with that logged.
   * Not `on`: lets it reconnect (`gmcast.isolate=0`) and waits until it and
   * every other member are Synced again; when it cannot rejoin by itself,
   * restarts it as `restart(i)` does.
   */
  isolate(i: number, on: boolean): Promise<Rejoin | undefined>;
  /**
   * Sets node `i`'s wall clock `seconds` ahead of the machine's (behind when
   * negative; fractions allowed) without restarting it, and waits until its
   * `UTC_TIMESTAMP(6)` shows the offset. Its monotonic clock is not faked, so
   * its timeouts still work. Needs `clockSkew: true`; a restarted node keeps its offset.
   */
  setClockOffset(i: number, seconds: number): Promise<void>;
  /**
   * Waits until every member is Synced in one primary component (the same
   * view on each) whose size is the number of members; with `i`, node `i`
   * must be one of them.
   */
  waitSynced(i?: number, timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the folder. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startGaleraCluster}. */
export interface GaleraClusterOptions {
  /** Number of nodes (default 3). */
  readonly size?: number;
  /** Starts every node under libfaketime at offset 0, so that `setClockOffset()` works later (default false). */
  readonly clockSkew?: boolean;
  /**
   * Detects a dead node sooner (`evs.suspect_timeout=PT2S` and the keep-alive and inactivity periods
   * that go with it): after a SIGKILL, writes on the others resume after about 2.5–3 s instead of 5–6 (default false).
   */
  readonly fastFailureDetection?: boolean;
  /** Told what the harness does and how long it took (a node started, a rejoin that needed a wipe...). */
  readonly log?: (line: string) => void;
}

/**
 * The state-transfer script of the first join (method `mysql_leader_ist`),
 * for a joiner that starts from a copy of the template every node starts
 * from: then IST suffices (the donor runs it with `--bypass`) and no data is
 * copied. The donor only tells the joiner, through a file next to the
 * script, the position the IST starts from. A full transfer fails (and the
 * harness falls back to rsync).
 */
const QUICK_SST_SCRIPT = `#!/bin/sh
role='' addr='' gtid='' domain=0 bypass=0 parent=''
while [ $# -gt 0 ]; do
  case "$1" in
    --role) role=$2; shift ;;
    --address) addr=$2; shift ;;
    --gtid) gtid=$2; shift ;;
    --gtid-domain-id) domain=$2; shift ;;
    --parent) parent=$2; shift ;;
    --bypass) bypass=1 ;;
    --mysqld-args) break ;;
  esac
  shift
done
signal="$(dirname "$0")/sst-$(printf '%s' "$addr" | tr -c 'A-Za-z0-9' '_')"
if [ "$role" = joiner ]; then
  rm -f "$signal"
  echo "ready $addr"
  while [ ! -s "$signal" ]; do
    kill -0 "$parent" 2>/dev/null || exit 32
    sleep 0.02
  done
  cat "$signal"
  rm -f "$signal"
  exit 0
fi
if [ "$bypass" != 1 ]; then
  echo "wsrep_sst_mysql_leader_ist: only IST is supported, not a full state transfer" >&2
  exit 22
fi
printf '%s %s\\n' "$gtid" "$domain" > "$signal.tmp" && mv "$signal.tmp" "$signal" || exit 1
echo "done $gtid"
`;

const QUICK_SST = 'mysql_leader_ist';
const PROVIDERS = [
  '/usr/lib/galera/libgalera_smm.so',
  '/usr/lib/galera-4/libgalera_smm.so',
  '/usr/lib64/galera-4/libgalera_smm.so',
  '/usr/lib64/galera/libgalera_smm.so',
];
const LIBFAKETIMES = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
  '/usr/lib64/faketime/libfaketime.so.1',
];
const FAST_FAILURE_DETECTION = ['evs.suspect_timeout=PT2S', 'evs.keepalive_period=PT0.5S', 'evs.inactive_check_period=PT0.5S', 'evs.inactive_timeout=PT4S'];
/** A node started from the template joins by IST in about a second; an SST or a busy machine takes longer. */
const JOIN_TIMEOUT = 60_000;
/** How long a node that was cut off or frozen gets to rejoin by itself before it is restarted. */
const REJOIN_TIMEOUT = 30_000;
/** How long the others get to form a primary component without an isolated node (they need 2.5–5 s with fast failure detection). */
const SURVIVORS_TIMEOUT = 20_000;
/**
 * How long a thawed node gets to act on what it missed before its state is
 * trusted: just after SIGCONT it still reports the view it was frozen in
 * (Synced, every member), though the others may have evicted it meanwhile,
 * or be about to (a few evs.inactive_check_period).
 */
const THAW_SETTLE = 1_000;
/** Kills the servers of a folder and removes it once the process that started them is gone, even by SIGKILL. */
const REAPER = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
for f in "$2"/mariadbd.pid "$2"/n*/mariadbd.pid; do [ -f "$f" ] && p=$(cat "$f") && kill -9 "$p" 2>/dev/null && rm -f "/dev/shm/faketime_shm_$p" "/dev/shm/sem.faketime_sem_$p"; done
rm -rf "$2"`;

/** Why this machine cannot start a cluster (with these options), or undefined when it can. */
export function whyGaleraClusterCannotStart(options: Pick<GaleraClusterOptions, 'clockSkew'> = {}): string | undefined {
  const missing = ['mariadbd', 'mariadb-install-db', 'rsync'].filter((command) => spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0);
  if (missing.length > 0) return `not found: ${missing.join(', ')}`;
  if (!provider()) return `no Galera provider (libgalera_smm.so) in ${PROVIDERS.join(', ')}`;
  if (process.getuid?.() === 0 && !mysqlUser()) return 'running as root, and there is no user mysql for the nodes to run as';
  if (options.clockSkew && !libfaketime()) return `no libfaketime in ${LIBFAKETIMES.join(', ')} (Debian: apt-get install faketime)`;
  return undefined;
}

/** Whether this machine can start a cluster (with these options: `clockSkew` needs libfaketime too). */
export function canStartGaleraCluster(options: Pick<GaleraClusterOptions, 'clockSkew'> = {}): boolean {
  return whyGaleraClusterCannotStart(options) === undefined;
}

/**
 * Starts a cluster and waits until every node is Synced: node 1 bootstraps
 * it, the others join one after the other. About 2–3 s once the template
 * exists (made on first use, about 4 s more).
 */
export async function startGaleraCluster(options: GaleraClusterOptions = {}): Promise<GaleraCluster> {
  const reason = whyGaleraClusterCannotStart(options);
  if (reason) throw new Error(`cannot start a Galera cluster: ${reason}`);
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, not ${size}`);
  const template = await ensureTemplate();
  const dir = mkdtempSync(join(tmpdir(), 'mysql-leader-galera-'));
  const cluster = new Cluster(dir, await freePorts(4 * size), options);
  try {
    await cluster.bootstrap(template);
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** A node's files and ports. */
interface NodeLayout {
  readonly index: number;
  readonly port: number;
  readonly gmcastPort: number;
  readonly istPort: number;
  readonly sstPort: number;
  readonly dir: string;
  readonly data: string;
  readonly config: string;
  readonly errorLog: string;
  readonly clockFile: string;
}

/** A node as the cluster tracks it. */
interface NodeState extends NodeLayout {
  readonly process: ServerProcess;
  paused: boolean;
  isolated: boolean;
}

class Cluster implements GaleraCluster {
  readonly nodes: readonly GaleraNode[];
  readonly #states: readonly NodeState[];
  readonly #options: GaleraClusterOptions;
  readonly #bin: string;
  readonly #reaper: ChildProcess;
  #stopped: Promise<void> | undefined;
  // If this process exits first (an uncaught error, process.exit()), the nodes and the folder go too.
  readonly #killOnExit = (): void => {
    for (const state of this.#states) state.process.killNow();
    this.#reaper.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  };

  constructor(
    readonly dir: string,
    ports: readonly number[],
    options: GaleraClusterOptions,
  ) {
    this.#options = options;
    chmodSync(dir, 0o755); // mkdtemp's 0700 would keep the user mysql out.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, `wsrep_sst_${QUICK_SST}`), QUICK_SST_SCRIPT, { mode: 0o755 });
    this.#bin = bin;
    const size = ports.length / 4;
    const layouts = Array.from({ length: size }, (_, k): NodeLayout => {
      const nodeDir = join(dir, `n${k + 1}`);
      const [port, gmcastPort, istPort, sstPort] = ports.slice(4 * k, 4 * k + 4) as [number, number, number, number];
      return {
        index: k + 1,
        port,
        gmcastPort,
        istPort,
        sstPort,
        dir: nodeDir,
        data: join(nodeDir, 'data'),
        config: join(nodeDir, 'my.cnf'),
        errorLog: join(nodeDir, 'err.log'),
        clockFile: join(nodeDir, 'faketime'),
      };
    });
    const peers = layouts.map((layout) => `127.0.0.1:${layout.gmcastPort}`).join(',');
    const name = `mysql-leader-${ports[1]}`; // unique among the clusters running here, as the port is.
    this.#states = layouts.map((layout) => {
      mkdirSync(layout.dir);
      writeFileSync(layout.config, nodeConfig(layout, `node${layout.index}`, `gcomm://${peers}`, name, options.fastFailureDetection ?? false));
      writeFileSync(layout.clockFile, '+0\n', { mode: 0o644 });
      return { ...layout, process: new ServerProcess(layout), paused: false, isolated: false };
    });
    this.nodes = this.#states.map((state) => ({
      index: state.index,
      port: state.port,
      url: `mysql://root@127.0.0.1:${state.port}/test`,
      errorLog: state.errorLog,
      dataDir: state.data,
      get pid() {
        return state.process.pid;
      },
    }));
    this.#reaper = startReaper(dir);
    process.once('exit', this.#killOnExit);
  }

  /** Copies the template for every node, bootstraps node 1, then lets the others join one after the other. */
  async bootstrap(template: string): Promise<void> {
    const began = performance.now();
    const [first, ...others] = this.#states as [NodeState, ...NodeState[]];
    await copyKeepingOwners(template, first.data);
    chownToMysql(this.dir); // what the harness wrote; cp -a kept the data's owner, the template's.
    // The other copies are made while node 1 starts.
    await Promise.all([this.#launch(first, ['--wsrep-new-cluster']), ...others.map((state) => copyKeepingOwners(template, state.data))]);
    for (const state of others) {
      try {
        await this.#launch(state, [`--wsrep-sst-method=${QUICK_SST}`]);
      } catch (error) {
        this.#log(`node ${state.index}: the quick join failed (${firstLine(error)}); joining by rsync`);
        await state.process.kill();
        await this.#launch(state, []);
      }
    }
    this.#log(`cluster of ${this.#states.length} Synced in ${ms(began)} ms`);
  }

  async kill(i: number): Promise<void> {
    const state = this.#state(i);
    await state.process.kill();
    state.paused = false;
    state.isolated = false;
  }

  async restart(i: number): Promise<Rejoin> {
    const began = performance.now();
    const state = this.#state(i);
    if (state.process.running) await this.kill(i);
    if (this.#members().length === 0) throw new Error(`restart(${i}): no other node is running, so there is no cluster to rejoin`);
    await this.#bootstrapWithoutPrimary();
    try {
      // After a crash grastate.dat holds no position: without one the node would need a full state transfer.
      const position = await recoverPosition(state);
      if (position === undefined) throw new Error(`no position recovered; see ${join(state.dir, 'recover.log')}`);
      await this.#launch(state, [`--wsrep-start-position=${position}`, `--wsrep-sst-method=${QUICK_SST}`]); // fails fast when IST cannot do.
      return { how: 'restarted', ms: ms(began) };
    } catch (error) {
      this.#log(`node ${i}: could not rejoin on its own data (${firstLine(error)}); wiping it for a full state transfer`);
      await state.process.kill();
      rmSync(state.data, { recursive: true, force: true });
      mkdirSync(state.data);
      chownToMysql(state.data);
      await this.#launch(state, []);
      return { how: 'wiped', ms: ms(began) };
    }
  }

  async pause(i: number): Promise<void> {
    const state = this.#running(i, 'pause');
    state.process.signal('SIGSTOP');
    state.paused = true;
  }

  async resume(i: number): Promise<Rejoin> {
    const began = performance.now();
    const state = this.#running(i, 'resume');
    state.process.signal('SIGCONT');
    state.paused = false;
    await delay(THAW_SETTLE);
    return this.#rejoin(state, began, true);
  }

  async isolate(i: number, on: boolean): Promise<Rejoin | undefined> {
    const began = performance.now();
    if (!on) {
      const state = this.#state(i);
      state.isolated = false;
      if (state.process.running) {
        await runOn(state.port, "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'").catch((error: unknown) => this.#log(`node ${i}: ${String(error)}`));
      }
      return this.#rejoin(state, began);
    }
    const state = this.#running(i, 'isolate');
    await runOn(state.port, "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'");
    state.isolated = true;
    await waitFor(`node ${i} out of the primary component`, [state], async () => (await wsrepStatus(state.port))?.['wsrep_cluster_status'] === 'non-Primary');
    try {
      await this.waitSynced(undefined, SURVIVORS_TIMEOUT);
      this.#log(`node ${i} isolated in ${ms(began)} ms`);
    } catch (error) {
      if (this.#members().some((member) => member.process.exitCause !== undefined)) throw error;
      this.#log(`node ${i} isolated, and the others lost the primary component with it: ${firstLine(error)}`);
    }
    return undefined;
  }

  async setClockOffset(i: number, seconds: number): Promise<void> {
    if (!this.#options.clockSkew) throw new Error('setClockOffset() needs a cluster started with clockSkew: true');
    if (!Number.isFinite(seconds)) throw new RangeError(`not a clock offset: ${seconds}`);
    const state = this.#state(i);
    const spec = `${seconds < 0 ? '-' : '+'}${Number(Math.abs(seconds).toFixed(6))}\n`;
    writeFileSync(`${state.clockFile}.tmp`, spec, { mode: 0o644 });
    renameSync(`${state.clockFile}.tmp`, state.clockFile); // whole: libfaketime reads the file at every clock call (FAKETIME_NO_CACHE).
    if (!state.process.running || state.paused) return; // it applies once the node runs again.
    await waitFor(`node ${i}'s UTC_TIMESTAMP(6) ${spec.trim()} s from the machine's clock`, [state], async () => {
      const skew = await clockSkewOf(state.port);
      return skew !== undefined && Math.abs(skew - seconds) < 0.2;
    });
  }

  async waitSynced(i?: number, timeoutMs = JOIN_TIMEOUT): Promise<void> {
    const members = this.#members();
    if (i !== undefined && !members.includes(this.#state(i))) throw new Error(`node ${i} is not a member (killed, paused or isolated): it cannot be Synced`);
    // Every member, in the same view: a node thawed after an eviction still reports the view it was frozen in for a while.
    const what = `${i === undefined ? 'every member' : `node ${i}`} Synced in one primary component of ${members.length}`;
    let seen: readonly (Record<string, string> | undefined)[] = [];
    const synced = async (): Promise<boolean> => inOneView((seen = await Promise.all(members.map((state) => wsrepStatus(state.port)))));
    await waitFor(what, members, synced, timeoutMs, () => members.map((state, k) => `node ${state.index}: ${describeStatus(seen[k])}`).join('; '));
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await Promise.all(this.#states.map((state) => state.process.kill()));
      this.#reaper.kill('SIGKILL');
      process.removeListener('exit', this.#killOnExit);
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.#stopped;
  }

  /** Starts a node's server and waits until it is Synced in a cluster of every member. */
  async #launch(state: NodeState, args: readonly string[]): Promise<void> {
    const began = performance.now();
    state.paused = false;
    state.isolated = false;
    state.process.start(args, nodeEnvironment(this.#bin, this.#options.clockSkew ? state.clockFile : undefined));
    await this.waitSynced(state.index);
    this.#log(`node ${state.index} Synced ${ms(began)} ms after its start${args.length > 0 ? ` (${args.join(' ')})` : ''}`);
  }

  /** Waits until a node that was cut off or frozen is Synced again (`everyMember`: and every other member with it), or restarts it. */
  async #rejoin(state: NodeState, began: number, everyMember = false): Promise<Rejoin> {
    try {
      // everyMember: the others too, so that a view they left without the node is not taken for one with it.
      await this.waitSynced(everyMember ? undefined : state.index, REJOIN_TIMEOUT);
      this.#log(`node ${state.index} rejoined by itself in ${ms(began)} ms`);
      return { how: 'rejoined', ms: ms(began) };
    } catch (error) {
      this.#log(`node ${state.index} did not rejoin by itself (${firstLine(error)}); restarting it`);
      const rejoin = await this.restart(state.index);
      return { ...rejoin, ms: ms(began) };
    }
  }

  /**
   * When no member is in a primary component (each waits for members of the
   * last one that will not come back by themselves), bootstraps the member
   * that committed the most as a new one: the others rejoin it by IST.
   */
  async #bootstrapWithoutPrimary(): Promise<void> {
    const members = this.#members();
    const statuses = await Promise.all(members.map((state) => wsrepStatus(state.port)));
    if (statuses.some((status) => status === undefined || status['wsrep_cluster_status'] === 'Primary')) return;
    const committed = (k: number): number => Number(statuses[k]?.['wsrep_last_committed'] ?? -1);
    const most = members.reduce((best, _, k) => (committed(k) > committed(best) ? k : best), 0);
    const chosen = members[most] as NodeState;
    this.#log(
      `no member in a primary component (${members.map((state, k) => `node ${state.index}: ${describeStatus(statuses[k])}`).join('; ')}); bootstrapping node ${chosen.index}`,
    );
    await runOn(chosen.port, "SET GLOBAL wsrep_provider_options = 'pc.bootstrap=YES'");
    await waitFor(
      `node ${chosen.index} primary after its bootstrap`,
      [chosen],
      async () => (await wsrepStatus(chosen.port))?.['wsrep_cluster_status'] === 'Primary',
    );
  }

  #members(): NodeState[] {
    return this.#states.filter((state) => state.process.running && !state.paused && !state.isolated);
  }

  #state(i: number): NodeState {
    const state = this.#states[i - 1];
    if (!Number.isInteger(i) || !state) throw new RangeError(`no node ${i}: the nodes are 1 to ${this.#states.length}`);
    return state;
  }

  #running(i: number, what: string): NodeState {
    const state = this.#state(i);
    if (!state.process.running) throw new Error(`${what}(${i}): node ${i} is not running`);
    return state;
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }
}

/** A node's `mariadbd`: started (again), signalled, killed. */
class ServerProcess {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #exitCause: string | undefined;

  constructor(readonly layout: Pick<NodeLayout, 'index' | 'dir' | 'config' | 'errorLog'>) {}

  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#exitCause === undefined;
  }

  /** Resolves once the process has exited (at once when it does not run). */
  get exited(): Promise<void> {
    return this.#exited;
  }

  /** Why it exited (while it was meant to run), with the end of its error log; undefined while it runs. */
  get exitCause(): string | undefined {
    return this.#exitCause;
  }

  start(args: readonly string[], env: NodeJS.ProcessEnv): void {
    if (this.running) throw new Error(`node ${this.layout.index} is already running`);
    const child = spawn('mariadbd', [`--defaults-file=${this.layout.config}`, ...args], { stdio: 'ignore', env, ...mysqlUser() });
    this.#child = child;
    this.#exitCause = undefined;
    const pidFile = join(this.layout.dir, 'mariadbd.pid'); // for the reaper
    if (child.pid) writeFileSync(pidFile, `${child.pid}\n`);
    this.#exited = new Promise((resolve) => {
      const done = (cause: string): void => {
        this.#exitCause = `mariadbd of node ${this.layout.index} ${cause}; the end of ${this.layout.errorLog}:\n${logTail(this.layout.errorLog)}`;
        rmSync(pidFile, { force: true });
        removeFaketimeFiles(child.pid);
        resolve();
      };
      child.once('exit', (code, signal) => done(`exited (${signal ?? code})`));
      child.once('error', (error) => done(`did not start (${error.message})`));
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.#child?.kill(signal);
  }

  async kill(): Promise<void> {
    if (this.running) this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  /** For the 'exit' handler, which cannot wait. */
  killNow(): void {
    if (!this.running) return;
    this.#child?.kill('SIGKILL');
    removeFaketimeFiles(this.#child?.pid);
  }
}

/** Polls `condition` until it holds; fails when the server of one of `states` exits, or after `timeoutMs`. */
async function waitFor(
  what: string,
  states: readonly Pick<NodeState, 'process'>[],
  condition: () => Promise<boolean>,
  timeoutMs = JOIN_TIMEOUT,
  lastSeen?: () => string,
): Promise<void> {
  const giveUpAt = performance.now() + timeoutMs;
  for (;;) {
    const cause = states.map((state) => state.process.exitCause).find((exit) => exit !== undefined);
    if (cause !== undefined) throw new Error(`waiting for ${what}: ${cause}`);
    if (await condition()) return;
    if (performance.now() > giveUpAt) throw new Error(`not within ${timeoutMs} ms: ${what}${lastSeen ? ` (last seen: ${lastSeen()})` : ''}`);
    await delay(50);
  }
}

/** Whether every node is Synced in the same primary component, whose size is the number of nodes. */
function inOneView(statuses: readonly (Record<string, string> | undefined)[]): boolean {
  const synced = (status: Record<string, string> | undefined): boolean =>
    status?.['wsrep_local_state_comment'] === 'Synced' &&
    status['wsrep_cluster_status'] === 'Primary' &&
    status['wsrep_ready'] === 'ON' &&
    Number(status['wsrep_cluster_size']) === statuses.length;
  const views = new Set(statuses.map((status) => `${status?.['wsrep_cluster_state_uuid']}/${status?.['wsrep_cluster_conf_id']}`));
  return statuses.every(synced) && views.size === 1;
}

/** A node's wsrep status, in a line: its state, component, size and view, or that it did not answer. */
function describeStatus(status: Record<string, string> | undefined): string {
  if (!status) return 'no answer';
  const {
    wsrep_local_state_comment: state,
    wsrep_cluster_status: component,
    wsrep_cluster_size: size,
    wsrep_ready: ready,
    wsrep_cluster_conf_id: view,
  } = status;
  return `${state}, ${component} of ${size}, ready ${ready}, view ${view}`;
}

/** A node's wsrep status variables; undefined when it does not answer within a second. */
async function wsrepStatus(port: number): Promise<Record<string, string> | undefined> {
  return withConnection(port, async (connection) => {
    const [rows] = await connection.query<RowDataPacket[]>({
      sql: `SHOW GLOBAL STATUS WHERE Variable_name IN
        ('wsrep_local_state_comment', 'wsrep_cluster_size', 'wsrep_cluster_status', 'wsrep_ready', 'wsrep_cluster_state_uuid', 'wsrep_cluster_conf_id', 'wsrep_last_committed')`,
      timeout: 1000,
    });
    return Object.fromEntries(rows.map((row) => [String(row['Variable_name']), String(row['Value'])]));
  }).catch(() => undefined);
}

/** How far a node's `UTC_TIMESTAMP(6)` is ahead of this machine's clock, seconds; undefined when it does not answer. */
async function clockSkewOf(port: number): Promise<number | undefined> {
  return withConnection(port, async (connection) => {
    const before = Date.now();
    const [rows] = await connection.query<RowDataPacket[]>({ sql: 'SELECT UTC_TIMESTAMP(6) AS now', timeout: 1000 });
    const after = Date.now();
    const now = Date.parse(`${String(rows[0]?.['now']).replace(' ', 'T')}Z`);
    return (now - (before + after) / 2) / 1000;
  }).catch(() => undefined);
}

/** Runs a statement on a server, by its TCP port or its socket. */
async function runOn(server: number | string, sql: string): Promise<void> {
  await withConnection(server, async (connection) => {
    await connection.query({ sql, timeout: 5000 });
  });
}

async function withConnection<T>(server: number | string, use: (connection: Connection) => Promise<T>): Promise<T> {
  const where = typeof server === 'number' ? { host: '127.0.0.1', port: server } : { socketPath: server };
  const connection = await createConnection({ ...where, user: 'root', connectTimeout: 1000, dateStrings: true });
  try {
    return await use(connection);
  } finally {
    // A polite quit (a frozen node gets a second): a dropped connection is a warning in the node's log.
    await Promise.race([connection.end().catch(() => {}), delay(1000)]);
    connection.destroy();
  }
}

/** The `my.cnf` of a node. */
function nodeConfig(layout: NodeLayout, nodeName: string, clusterAddress: string, clusterName: string, fastFailureDetection: boolean): string {
  const providerOptions = [
    `gmcast.listen_addr=tcp://127.0.0.1:${layout.gmcastPort}`,
    `ist.recv_addr=127.0.0.1:${layout.istPort}`,
    'gcache.size=32M',
    // Joins (and the membership changes after a failure) settle in a fraction of a second instead of several.
    'evs.join_retrans_period=PT0.1S',
    ...(fastFailureDetection ? FAST_FAILURE_DETECTION : []),
  ];
  return `[mysqld]
datadir=${layout.data}
socket=${join(layout.dir, 'sock')}
pid-file=${join(layout.dir, 'pid')}
log-error=${layout.errorLog}
port=${layout.port}
bind-address=127.0.0.1
skip-name-resolve
skip-log-bin
max-connections=2000
# Clients that drop their connections (the tests', when a node is cut off) are not logged as aborted connections.
log-warnings=1
innodb_buffer_pool_size=32M
innodb_log_file_size=8M
binlog_format=ROW
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=${provider()}
wsrep_cluster_name=${clusterName}
wsrep_cluster_address=${clusterAddress}
wsrep_node_name=${nodeName}
wsrep_node_address=127.0.0.1:${layout.gmcastPort}
wsrep_sst_receive_address=127.0.0.1:${layout.sstPort}
wsrep_sst_method=rsync
wsrep_provider_options="${providerOptions.join(';')}"
`;
}

/**
 * A node's environment: the quick state-transfer script on the PATH and,
 * with a clock file, libfaketime reading the offset from that file at every
 * clock call (so that it can change while the node runs), the monotonic
 * clock left alone.
 */
function nodeEnvironment(bin: string, clockFile: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}` };
  for (const name of Object.keys(env)) if (name.startsWith('FAKETIME')) delete env[name]; // FAKETIME would win over the file.
  if (clockFile === undefined) return env;
  return { ...env, LD_PRELOAD: libfaketime(), FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

/**
 * The template every node starts from: the data directory of a one-node
 * cluster with the `test` database, shut down cleanly (so that it records
 * its position, and each copy can bootstrap or join by IST). Made once per
 * machine, MariaDB version and layout.
 */
async function ensureTemplate(): Promise<string> {
  const version = spawnSync('mariadbd', ['--version'], { encoding: 'utf8' }).stdout;
  const tag = createHash('sha256').update(`2 ${version} ${provider()}`).digest('hex').slice(0, 10);
  const template = join(tmpdir(), `mysql-leader-galera-template-${tag}-${process.getuid?.() ?? 0}`);
  if (existsSync(template)) return template;
  const building = mkdtempSync(`${template}-building-`);
  chmodSync(building, 0o755);
  const [port, gmcastPort, istPort, sstPort] = (await freePorts(4)) as [number, number, number, number];
  const layout = {
    index: 1,
    port,
    gmcastPort,
    istPort,
    sstPort,
    dir: building,
    data: join(building, 'data'),
    config: join(building, 'my.cnf'),
    errorLog: join(building, 'err.log'),
    clockFile: join(building, 'faketime'),
  };
  writeFileSync(layout.config, nodeConfig(layout, 'template', 'gcomm://', 'mysql-leader-template', false));
  chownToMysql(building);
  const server = new ServerProcess(layout);
  const reaper = startReaper(building);
  const removeOnExit = (): void => {
    server.killNow();
    reaper.kill('SIGKILL');
    rmSync(building, { recursive: true, force: true });
  };
  process.once('exit', removeOnExit);
  try {
    const install = (): { status: number | null; signal: string | null; output: string } => {
      rmSync(layout.data, { recursive: true, force: true });
      const result = spawnSync('mariadb-install-db', [`--defaults-file=${layout.config}`, '--auth-root-authentication-method=normal', '--skip-test-db'], {
        encoding: 'utf8',
        ...mysqlUser(),
      });
      return { status: result.status, signal: result.signal, output: `${result.error?.message ?? ''}${result.stderr}${result.stdout}`.slice(-2000) };
    };
    let installed = install();
    if (installed.status !== 0) installed = install(); // it once failed here for no reason it gave, and worked again.
    if (installed.status !== 0) throw new Error(`mariadb-install-db failed (${installed.status ?? installed.signal}): ${installed.output}`);
    server.start(['--wsrep-new-cluster'], nodeEnvironment(join(building, 'bin'), undefined));
    // Through the socket, as root@localhost, whatever users mariadb-install-db made: the clients' root connects over TCP.
    const socket = join(building, 'sock');
    await waitFor('the template server', [{ process: server }], async () =>
      runOn(socket, 'SELECT 1').then(
        () => true,
        () => false,
      ),
    );
    for (const sql of [
      "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'",
      "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
      'CREATE DATABASE IF NOT EXISTS test',
    ]) {
      await runOn(socket, sql);
    }
    await waitFor('the template server Synced', [{ process: server }], async () => inOneView([await wsrepStatus(port)]));
    server.signal('SIGTERM'); // a clean shutdown records the position in grastate.dat.
    await server.exited;
    const grastate = readFileSync(join(layout.data, 'grastate.dat'), 'utf8');
    if (!/safe_to_bootstrap: 1/.test(grastate) || /seqno:\s+-1/.test(grastate)) throw new Error(`the template did not shut down cleanly:\n${grastate}`);
    rmSync(join(layout.data, 'galera.cache'), { force: true }); // each node makes its own.
    try {
      renameSync(layout.data, template); // atomic: a concurrent builder may win, which is fine.
    } catch (error) {
      if (!existsSync(template)) throw error;
    }
    return template;
  } finally {
    await server.kill();
    reaper.kill('SIGKILL');
    process.removeListener('exit', removeOnExit);
    rmSync(building, { recursive: true, force: true });
  }
}

/** Starts the REAPER of a folder (killed once the folder is cleaned up). */
function startReaper(dir: string): ChildProcess {
  const reaper = spawn('sh', ['-c', REAPER, 'galera-reaper', String(process.pid), dir], { detached: true, stdio: 'ignore' });
  reaper.unref();
  return reaper;
}

function provider(): string | undefined {
  return PROVIDERS.find((path) => existsSync(path));
}

function libfaketime(): string | undefined {
  return LIBFAKETIMES.find((path) => existsSync(path));
}

let mysqlIds: { readonly uid: number; readonly gid: number } | null | undefined;

/** Run as root, the user the nodes run as (`spawn` options); otherwise nothing: they run as this process's user. */
function mysqlUser(): { readonly uid: number; readonly gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (mysqlIds === undefined) {
    const uid = spawnSync('id', ['-u', 'mysql'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'mysql'], { encoding: 'utf8' });
    mysqlIds = uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout), gid: Number(gid.stdout) } : null;
  }
  return mysqlIds ?? undefined;
}

function chownToMysql(path: string): void {
  const user = mysqlUser();
  if (!user) return;
  const result = spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, path], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`chown -R ${path} failed: ${result.stderr}`);
}

/** `cp -a`: keeps the owner (mysql) of the template's files. */
async function copyKeepingOwners(from: string, to: string): Promise<void> {
  const copy = spawn('cp', ['-a', from, to], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  copy.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => {
    copy.once('close', resolve);
    copy.once('error', () => resolve(null));
  });
  if (code !== 0) throw new Error(`cp -a ${from} ${to} failed: ${stderr}`);
}

/** libfaketime's shared memory of a process, which it removes only when the process exits normally. */
function removeFaketimeFiles(pid: number | undefined): void {
  if (!pid) return;
  rmSync(`/dev/shm/faketime_shm_${pid}`, { force: true });
  rmSync(`/dev/shm/sem.faketime_sem_${pid}`, { force: true });
}

/**
 * The position (`uuid:seqno`) of a node's data after a crash, as InnoDB
 * recorded it; undefined when there is none.
 */
async function recoverPosition(layout: Pick<NodeLayout, 'dir' | 'config'>): Promise<string | undefined> {
  const log = join(layout.dir, 'recover.log');
  rmSync(log, { force: true });
  const recovery = spawn('mariadbd', [`--defaults-file=${layout.config}`, '--wsrep-recover', `--log-error=${log}`], { stdio: 'ignore', ...mysqlUser() });
  await new Promise((resolve) => {
    recovery.once('exit', resolve);
    recovery.once('error', resolve);
  });
  const match = /WSREP: Recovered position: ([0-9a-f-]{36}:\d+)\s*$/m.exec(existsSync(log) ? readFileSync(log, 'utf8') : '');
  return match?.[1];
}

function firstLine(error: unknown): string {
  return String(error).split('\n')[0] ?? '';
}

function logTail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function ms(since: number): number {
  return Math.round(performance.now() - since);
}

/** Distinct free loopback ports (all held open until each is chosen, so none repeats). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
