/**
 * A private, throwaway MariaDB server on a free loopback port, in a
 * temporary folder: for the demo, the tests, the benchmarks and the chaos
 * harness, which must be able to crash, pause or restart their database.
 * Needs `mariadb-install-db` and `mariadbd` (Debian: `mariadb-server`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';

/** A running private server. */
export interface PrivateMariadb {
  /** `mysql://root@127.0.0.1:PORT/test` */
  readonly url: string;
  readonly port: number;
  /** The folder holding the data directory and the logs; removed by `stop()`. */
  readonly dir: string;
  /** The server's process id (changes on `restart()`). */
  readonly pid: number;
  /** Kills the server with SIGKILL (a crash: no shutdown, committed rows stay). */
  crash(): Promise<void>;
  /** Starts the server again on the same data and port, after `crash()`. */
  restart(): Promise<void>;
  /** Stops the server and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startPrivateMariadb}. */
export interface PrivateMariadbOptions {
  /**
   * More `mariadbd` arguments, after the harness's own; a later one wins, so
   * `--log-bin=binlog` turns the binary log on despite the default
   * `--skip-log-bin`. For replication: `--server-id=2`, `--binlog-format=ROW`…
   */
  readonly serverArgs?: readonly string[];
}

const TEMPLATE = join(tmpdir(), `mysql-leader-mariadb-template-${process.getuid?.() ?? 0}`);

/** Whether this machine can start a private server. */
export function canStartPrivateMariadb(): boolean {
  return ['mariadbd', 'mariadb-install-db'].every((command) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0);
}

/** Starts a private server and waits until it answers (about 0.5 s once the template exists, 2 s before). */
export async function startPrivateMariadb(options: PrivateMariadbOptions = {}): Promise<PrivateMariadb> {
  ensureTemplate();
  const dir = mkdtempSync(join(tmpdir(), 'mysql-leader-db-'));
  cpSync(TEMPLATE, join(dir, 'data'), { recursive: true });
  const port = await freePort();
  let child: ChildProcess | undefined;
  let stopped: Promise<void> | undefined;
  // If this process dies first (an uncaught error, process.exit()), the server and its folder go too.
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);

  const launch = async (): Promise<void> => {
    child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${join(dir, 'data')}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'sock')}`,
        `--pid-file=${join(dir, 'pid')}`,
        '--user=root',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=32M',
        '--max-connections=2000',
        `--log-error=${join(dir, 'err.log')}`,
        ...(options.serverArgs ?? []),
      ],
      { stdio: 'ignore' },
    );
    const started = child;
    const exited = new Promise<never>((_resolve, reject) =>
      started.once('exit', (code, signal) => reject(new Error(`mariadbd exited (${signal ?? code}) while starting; see ${join(dir, 'err.log')}`))),
    );
    exited.catch(() => {}); // only raced below.
    await Promise.race([waitForConnection(port), exited]);
  };

  const kill = async (): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };

  await launch();
  return {
    url: `mysql://root@127.0.0.1:${port}/test`,
    port,
    dir,
    get pid() {
      return child?.pid ?? 0;
    },
    crash: kill,
    restart: launch,
    stop() {
      stopped ??= (async () => {
        await kill();
        process.removeListener('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** Installs a data directory once per machine; each server starts from a copy of it. */
function ensureTemplate(): void {
  if (existsSync(TEMPLATE)) return;
  const building = mkdtempSync(`${TEMPLATE}-building-`);
  const result = spawnSync(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${join(building, 'data')}`,
      '--user=root',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--innodb-log-file-size=8M',
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed: ${result.error?.message ?? result.stderr}`);
  }
  try {
    renameSync(join(building, 'data'), TEMPLATE); // atomic: a concurrent builder may win, which is fine.
  } catch (error) {
    if (!existsSync(TEMPLATE)) throw error;
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForConnection(port: number): Promise<void> {
  const giveUpAt = Date.now() + 60_000;
  for (;;) {
    if (Date.now() > giveUpAt) throw new Error(`mariadbd did not answer on port ${port} within 60 s`);
    try {
      const connection = await createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
      // The database the url names; kept out of any binary log, so that a replica, which makes its own, never receives it.
      await connection.query('SET SESSION sql_log_bin = 0');
      await connection.query('CREATE DATABASE IF NOT EXISTS test');
      await connection.end();
      return;
    } catch {
      await delay(50);
    }
  }
}
