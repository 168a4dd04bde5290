/**
 * A private primary with a replica that fails over, behind a name that moves:
 * two throwaway MariaDB servers (see private-mariadb.ts) in asynchronous GTID
 * replication, and a TCP proxy (moving-proxy.ts) that always points at the
 * current primary. `promote()` is a failover as an orchestrator does it, with
 * or without the last writes; `rebuildReplica()` gives the new primary a
 * fresh replica, so that a test can fail over again and again.
 *
 * How it stays simple: every server starts from the same template data, and
 * every server writes a binary log with `log_slave_updates`, so the current
 * primary's binary log always holds the whole history since the template. A
 * fresh replica therefore needs no copy: it replicates from the first event.
 * A fenced primary is killed, never reused (it may hold writes the new primary
 * never got: errant transactions).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { MovingProxy } from './moving-proxy.js';
import { startPrivateMariadb, type PrivateMariadb } from './private-mariadb.js';

/** One server of a {@link ReplicatedMariadb}, reached directly (not through the proxy). */
export interface ReplicationMember {
  /** `mysql://root@127.0.0.1:PORT/test` */
  readonly url: string;
  readonly port: number;
  /** `@@server_id`, distinct for every server the harness ever started. */
  readonly serverId: number;
  /** The server's process id. */
  readonly pid: number;
}

/** Options of {@link ReplicatedMariadb.promote}. */
export interface PromoteOptions {
  /**
   * Whether the old primary's last writes may be lost. `false` (the default):
   * new client writes are cut off first and the replica catches up before the
   * old primary is fenced, so nothing committed is lost. `true`: the replica
   * stops receiving at once (if {@link ReplicatedMariadb.pauseReplication}
   * did not stop it already), applies what it has, and whatever the old
   * primary committed after that never reaches the new primary.
   */
  readonly lostWrites?: boolean;
}

/** What {@link ReplicatedMariadb.promote} did. */
export interface Promotion {
  /** Transactions the old primary committed that the new one never got, counted from their GTIDs. */
  readonly lostTransactions: number;
  /** `@@gtid_binlog_pos` of the old primary once its clients were cut off, just before it was killed. */
  readonly oldPrimaryGtid: string;
  /** `@@gtid_binlog_pos` of the new primary when it became writable. */
  readonly newPrimaryGtid: string;
  /** Client connections the proxy reset. */
  readonly resetConnections: number;
  /** How long the promotion took, in ms. */
  readonly ms: number;
}

/** A running primary and replica behind a proxy. */
export interface ReplicatedMariadb {
  /** `mysql://root@127.0.0.1:PROXYPORT/test`: through the proxy, which always points at the current primary. */
  readonly url: string;
  /** The proxy's port. */
  readonly port: number;
  /** The current primary. */
  readonly primary: ReplicationMember;
  /** The current replica; `undefined` from `promote()` until `rebuildReplica()`. */
  readonly replica: ReplicationMember | undefined;
  /**
   * Promotes the replica: the proxy resets every connection and holds new
   * ones; the old primary's client sessions are killed; with `lostWrites:
   * false` the replica catches up; the old primary is killed (SIGKILL); the
   * replica applies what it received, leaves replication (`STOP SLAVE; RESET
   * SLAVE ALL`) and becomes writable; the proxy sends new connections to it.
   * The old primary is not started again (see {@link rebuildReplica}).
   * Rejects when there is no replica.
   */
  promote(options?: PromoteOptions): Promise<Promotion>;
  /**
   * Gives the current primary a fresh replica, caught up when this resolves,
   * so that `promote()` can run again; the old primary (or an existing
   * replica) is discarded with its folder. About 0.5 s, plus about 0.1 ms per
   * transaction ever written: the fresh replica replays the whole history
   * from the primary's binary log.
   */
  rebuildReplica(): Promise<void>;
  /**
   * Pauses replication (`STOP SLAVE IO_THREAD`) once the replica has applied
   * everything the primary had committed when called: what is committed on
   * the primary afterwards does not reach the replica until
   * {@link resumeReplication}, and is lost by `promote({ lostWrites: true })`.
   */
  pauseReplication(): Promise<void>;
  /** Resumes replication after {@link pauseReplication}; resolves once the replica is connected again. */
  resumeReplication(): Promise<void>;
  /**
   * The client ports the current primary sees for the proxy's connections
   * that carry the clients on `clientPorts` (their ports as the proxy sees
   * them), to find their sessions in its process list.
   */
  serverPortsOf(clientPorts: readonly number[]): number[];
  /** Stops both servers and the proxy, and removes their folders. Idempotent. */
  stop(): Promise<void>;
}

/** A server the harness started: the process, and its replication identity. */
interface Member {
  readonly server: PrivateMariadb;
  readonly serverId: number;
}

/** One row of `SHOW SLAVE STATUS`, the columns read here. */
interface SlaveStatus {
  readonly Slave_IO_Running: string;
  readonly Slave_SQL_Running: string;
  readonly Gtid_IO_Pos: string;
  readonly Last_IO_Error: string;
  readonly Last_SQL_Error: string;
}

/** How long a replica may take to connect, catch up or apply what it received before the harness gives up. */
const REPLICATION_DEADLINE_MS = 30_000;

/**
 * Starts a primary and a replica from the template data, replicating, and the
 * proxy pointing at the primary (about 0.8 s once the template exists).
 */
export async function startReplicatedMariadb(): Promise<ReplicatedMariadb> {
  const started = await Promise.allSettled([startMember(1), startMember(2)]);
  const members = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const [primary, replica] = members;
  const proxy = new MovingProxy(primary?.server.port);
  try {
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    if (!primary || !replica) throw new Error('unreachable: both servers started');
    await replicate(replica, primary);
    await proxy.listen();
    return new Replication(proxy, primary, replica);
  } catch (error) {
    await Promise.all([proxy.close(), ...members.map((member) => member.server.stop())]);
    throw error;
  }
}

/** The harness's state: which server is primary, which is replica, which was fenced. */
class Replication implements ReplicatedMariadb {
  readonly url: string;
  readonly #proxy: MovingProxy;
  #primary: Member;
  #replica: Member | undefined;
  /** Fenced primaries and discarded replicas whose folders are still to be removed. */
  readonly #retired: Member[] = [];
  #lastServerId: number;
  #paused = false;
  #stopped: Promise<void> | undefined;

  constructor(proxy: MovingProxy, primary: Member, replica: Member) {
    this.#proxy = proxy;
    this.url = `mysql://root@127.0.0.1:${proxy.port}/test`;
    this.#primary = primary;
    this.#replica = replica;
    this.#lastServerId = replica.serverId;
  }

  get port(): number {
    return this.#proxy.port;
  }

  get primary(): ReplicationMember {
    return describeMember(this.#primary);
  }

  get replica(): ReplicationMember | undefined {
    return this.#replica && describeMember(this.#replica);
  }

  async promote(options: PromoteOptions = {}): Promise<Promotion> {
    const began = performance.now();
    const old = this.#primary;
    const next = this.#replica;
    if (!next) throw new Error('no replica to promote: call rebuildReplica() after a promote()');
    if (options.lostWrites) await stopReceiving(next);
    const resetConnections = this.#proxy.detach();
    try {
      await killClientSessions(old);
      if (!options.lostWrites) {
        if (this.#paused) await startReceiving(next);
        await catchUp(next, old);
      }
    } catch (error) {
      this.#proxy.pointAt(old.server.port); // not fenced yet: the name stays where it was.
      throw error;
    }
    const oldPrimaryGtid = await gtidBinlogPos(old);
    await old.server.crash();
    this.#retired.push(old); // still the primary for stop() until the replica has taken over.
    await applyReceived(next);
    await leaveReplication(next);
    const newPrimaryGtid = await gtidBinlogPos(next);
    this.#primary = next;
    this.#replica = undefined;
    this.#paused = false;
    this.#proxy.pointAt(next.server.port);
    return {
      lostTransactions: transactionsMissing(oldPrimaryGtid, newPrimaryGtid),
      oldPrimaryGtid,
      newPrimaryGtid,
      resetConnections,
      ms: performance.now() - began,
    };
  }

  async rebuildReplica(): Promise<void> {
    if (this.#replica) this.#retired.push(this.#replica);
    this.#replica = undefined;
    this.#paused = false;
    const [replica] = await Promise.all([startMember(++this.#lastServerId), ...this.#retired.splice(0).map((member) => member.server.stop())]);
    try {
      await replicate(replica, this.#primary);
    } catch (error) {
      await replica.server.stop();
      throw error;
    }
    this.#replica = replica;
  }

  async pauseReplication(): Promise<void> {
    const replica = this.#requireReplica();
    await catchUp(replica, this.#primary);
    await stopReceiving(replica);
    this.#paused = true;
  }

  async resumeReplication(): Promise<void> {
    await startReceiving(this.#requireReplica());
    this.#paused = false;
  }

  serverPortsOf(clientPorts: readonly number[]): number[] {
    return this.#proxy.upstreamPortsOf(clientPorts);
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      const members = new Set([this.#primary, ...(this.#replica ? [this.#replica] : []), ...this.#retired.splice(0)]);
      await Promise.all([this.#proxy.close(), ...[...members].map((member) => member.server.stop())]);
    })();
    return this.#stopped;
  }

  #requireReplica(): Member {
    if (!this.#replica) throw new Error('no replica since promote(): call rebuildReplica()');
    return this.#replica;
  }
}

/** Starts a server with a binary log that a replica can follow, and that keeps what it replicates itself. */
async function startMember(serverId: number): Promise<Member> {
  const server = await startPrivateMariadb({
    serverArgs: [
      `--server-id=${serverId}`,
      '--log-bin=binlog',
      '--relay-log=relay-bin',
      '--binlog-format=ROW',
      '--log-slave-updates',
      '--skip-slave-start',
      '--innodb-flush-log-at-trx-commit=2',
    ],
  });
  return { server, serverId };
}

function describeMember({ server, serverId }: Member): ReplicationMember {
  return { url: server.url, port: server.port, serverId, pid: server.pid };
}

/** Makes `replica` a read-only replica of `primary` by GTID, from its first event; resolves once it has caught up. */
async function replicate(replica: Member, primary: Member): Promise<void> {
  await withConnection(replica, async (connection) => {
    await connection.query('SET GLOBAL read_only = ON'); // for users without READ ONLY ADMIN: root (ALL PRIVILEGES) still writes.
    await connection.query(
      `CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ?, MASTER_USER = 'root', MASTER_PASSWORD = '', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1`,
      [primary.server.port],
    );
    await connection.query('START SLAVE');
  });
  await startReceiving(replica);
  await catchUp(replica, primary);
}

/** Starts the replica's IO thread (if stopped) and waits until it is connected to the primary. */
async function startReceiving(replica: Member): Promise<void> {
  await withConnection(replica, async (connection) => {
    await connection.query('START SLAVE IO_THREAD');
    const giveUpAt = performance.now() + REPLICATION_DEADLINE_MS;
    for (let status = await slaveStatus(connection); status.Slave_IO_Running !== 'Yes'; status = await slaveStatus(connection)) {
      if (performance.now() > giveUpAt) throw replicationError(replica, 'did not connect to its primary', status);
      await delay(20);
    }
  });
}

/** Stops the replica's IO thread: it receives nothing more, and its SQL thread goes on applying what it has. */
async function stopReceiving(replica: Member): Promise<void> {
  await withConnection(replica, (connection) => connection.query('STOP SLAVE IO_THREAD'));
}

/** Waits until the replica has applied everything the primary had committed when called. */
async function catchUp(replica: Member, primary: Member): Promise<void> {
  await waitForGtid(replica, await gtidBinlogPos(primary), 'did not catch up with its primary');
}

/** Stops the replica's IO thread, then waits until its SQL thread has applied every transaction it received. */
async function applyReceived(replica: Member): Promise<void> {
  await stopReceiving(replica);
  const received = await withConnection(replica, async (connection) => (await slaveStatus(connection)).Gtid_IO_Pos);
  await waitForGtid(replica, received, 'did not apply what it had received');
}

/** Waits (`MASTER_GTID_WAIT`) until the replica's `gtid_slave_pos` reaches `gtid`; an error says why not. */
async function waitForGtid(replica: Member, gtid: string, failure: string): Promise<void> {
  await withConnection(replica, async (connection) => {
    const [rows] = await connection.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, ?) AS waited', [gtid, REPLICATION_DEADLINE_MS / 1000]);
    if (Number(rows[0]?.['waited']) !== 0)
      throw replicationError(replica, `${failure} (${gtid}) within ${REPLICATION_DEADLINE_MS} ms`, await slaveStatus(connection));
  });
}

/** Ends replication on the new primary and makes it writable. */
async function leaveReplication(member: Member): Promise<void> {
  await withConnection(member, async (connection) => {
    await connection.query('STOP SLAVE');
    await connection.query('RESET SLAVE ALL');
    await connection.query('SET GLOBAL read_only = OFF');
  });
}

/**
 * Kills every client session of the server but this one (not its replicas'
 * binlog dump threads, which still have to send what is committed) and waits
 * until they are gone, so that nothing more commits there.
 */
async function killClientSessions(member: Member): Promise<void> {
  await withConnection(member, async (connection) => {
    const giveUpAt = performance.now() + 5000;
    for (;;) {
      const [rows] = await connection.query<RowDataPacket[]>(
        "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND USER NOT IN ('system user', 'event_scheduler') AND COMMAND NOT IN ('Daemon', 'Binlog Dump')",
      );
      if (rows.length === 0 || performance.now() > giveUpAt) return;
      for (const { id } of rows) await connection.query(`KILL CONNECTION ${Number(id)}`).catch(() => {}); // 1094: it ended meanwhile.
      await delay(10);
    }
  });
}

async function gtidBinlogPos(member: Member): Promise<string> {
  return withConnection(member, async (connection) => {
    const [rows] = await connection.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS gtid');
    return String(rows[0]?.['gtid'] ?? '');
  });
}

/**
 * How many transactions of GTID position `had` are missing from `got`: per
 * replication domain, the difference of the sequence numbers (contiguous,
 * since one primary at a time writes each domain).
 */
export function transactionsMissing(had: string, got: string): number {
  const sequences = (position: string): Map<string, number> =>
    new Map(
      position
        .split(',')
        .filter((gtid) => gtid.trim() !== '')
        .map((gtid) => {
          const [domain = '', , sequence = '0'] = gtid.trim().split('-');
          return [domain, Number(sequence)];
        }),
    );
  const reached = sequences(got);
  let missing = 0;
  for (const [domain, sequence] of sequences(had)) missing += Math.max(0, sequence - (reached.get(domain) ?? 0));
  return missing;
}

async function slaveStatus(connection: Connection): Promise<SlaveStatus> {
  const [rows] = await connection.query<RowDataPacket[]>('SHOW SLAVE STATUS');
  const row = rows[0];
  if (!row) throw new Error('SHOW SLAVE STATUS is empty: the server is not a replica');
  return row as unknown as SlaveStatus;
}

function replicationError(replica: Member, what: string, status: SlaveStatus): Error {
  const errors = [status.Last_IO_Error, status.Last_SQL_Error].filter((error) => error !== '').join('; ');
  return new Error(
    `replica ${replica.serverId} (port ${replica.server.port}) ${what}: IO ${status.Slave_IO_Running}, SQL ${status.Slave_SQL_Running}` +
      `${errors ? `, ${errors}` : ''}; see ${replica.server.dir}/err.log`,
  );
}

/** Runs `use` on a fresh connection to the server, closed afterwards. */
async function withConnection<T>(member: Member, use: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await createConnection({ host: '127.0.0.1', port: member.server.port, user: 'root', connectTimeout: 5000 });
  try {
    return await use(connection);
  } finally {
    connection.destroy();
  }
}
