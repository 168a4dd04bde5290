/**
 * The package as users get it: `npm pack`, installed into an empty folder,
 * imported from JavaScript and type-checked from TypeScript, electing a
 * leader, from an ES module project and from a CommonJS one (`require()` of
 * an ES module, Node.js 20.19+); and a process that used it exits by itself
 * after close().
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { createMysqlLeaderTable } from '../../src/index.js';
import { useDatabase } from '../support/database.js';

const root = resolve(import.meta.dirname, '../..');
const db = await useDatabase('package');
await createMysqlLeaderTable(db.pool);
const folder = mkdtempSync(join(tmpdir(), 'mysql-leader-consumer-'));
after(() => rmSync(folder, { recursive: true, force: true }));

/** Packs the package once (into the temporary folder); the tarball's path and the files it holds. */
let packed: { path: string; files: { path: string }[] } | undefined;
function pack(): { path: string; files: { path: string }[] } {
  if (packed) return packed;
  if (!existsSync(join(root, 'dist/index.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  const [result] = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', folder], { cwd: root, encoding: 'utf8' })) as [
    { filename: string; files: { path: string }[] },
  ];
  packed = { path: join(folder, result.filename), files: result.files };
  return packed;
}

/** A project in a folder of its own with `packageJson`, and the packed package installed in it. */
function consumerProject(name: string, packageJson: object): string {
  const project = join(folder, name);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify(packageJson));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', pack().path], { cwd: project, stdio: 'ignore' });
  return project;
}

/** Type-checks `file` in `project` as a user's strict NodeNext project would. */
function typecheck(project: string, file: string): void {
  execFileSync(
    join(root, 'node_modules/.bin/tsc'),
    [
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--typeRoots',
      join(root, 'node_modules/@types'),
      '--types',
      'node',
      file,
    ],
    { cwd: project, encoding: 'utf8' },
  );
}

const CONSUMER = `
import { createPool } from 'mysql2/promise';
import { MysqlLeader, AlwaysLeader, CREATE_MYSQL_LEADER_SQL, continueOnError } from 'mysql-leader';

const pool = createPool({ uri: process.env.TEST_DB_URL, connectionLimit: 3 });
const leader = new MysqlLeader(pool, 'from-the-tarball', { age: 2000, tick: 500, onError: continueOnError });
const elected = new Promise((resolve) => leader.once('elected', resolve));
const campaign = leader.acquire();
const { term } = await elected;
const result = { term, leading: await leader.isLeader(), always: await new AlwaysLeader().isLeader(), ddl: CREATE_MYSQL_LEADER_SQL.startsWith('CREATE TABLE') };
await leader.close();
await campaign;
await pool.end();
console.log(JSON.stringify(result));
`;

const CJS_CONSUMER = `
'use strict';
const { createPool } = require('mysql2/promise');
const { MysqlLeader, NotLeaderError, createMysqlLeaderSql } = require('mysql-leader');
const { version } = require('mysql-leader/package.json');

async function main() {
  const pool = createPool({ uri: process.env.TEST_DB_URL, connectionLimit: 3 });
  const leader = new MysqlLeader(pool, 'from-commonjs', { age: 2000, tick: 500 });
  const elected = new Promise((resolve) => leader.once('elected', resolve));
  const campaign = leader.acquire();
  const { term } = await elected;
  const result = { version, isClass: typeof MysqlLeader === 'function' && createMysqlLeaderSql().includes('leader_election'), term, leading: leader.leading, errorCode: new NotLeaderError('not leading').code };
  await leader.close();
  await campaign;
  await pool.end();
  console.log(JSON.stringify(result));
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

describe('package', () => {
  it('installs from npm pack into an empty folder, imports, type-checks and elects a leader', () => {
    assert.ok(
      pack().files.every((file) => /^(dist\/|package\.json$|README\.md$|LICENSE$)/.test(file.path)),
      'only dist, package.json, README and LICENSE are shipped',
    );
    const project = consumerProject('esm', { name: 'consumer', private: true, type: 'module' });
    writeFileSync(join(project, 'consumer.mjs'), CONSUMER);
    const output = execFileSync(process.execPath, ['consumer.mjs'], {
      cwd: project,
      encoding: 'utf8',
      env: { ...process.env, TEST_DB_URL: db.url },
      timeout: 20_000,
    });
    assert.deepEqual(JSON.parse(output), { term: 1, leading: true, always: true, ddl: true });

    writeFileSync(
      join(project, 'consumer.ts'),
      "import { MysqlLeader, type LeaderEvents, type Queryable } from 'mysql-leader';\n" +
        "declare const db: Queryable;\nconst leader = new MysqlLeader(db, 'typed', { age: 10_000 });\n" +
        "leader.on('revoked', (event: LeaderEvents['revoked'][0]) => event.reason satisfies string);\n" +
        'export const term: number | undefined = leader.term;\n',
    );
    typecheck(project, 'consumer.ts');
  });

  it('a CommonJS project can require() it from the tarball, elect a leader and type-check', () => {
    const project = consumerProject('cjs', { name: 'cjs-consumer', private: true, type: 'commonjs' });
    writeFileSync(join(project, 'consumer.js'), CJS_CONSUMER);
    const output = execFileSync(process.execPath, ['consumer.js'], {
      cwd: project,
      encoding: 'utf8',
      env: { ...process.env, TEST_DB_URL: db.url },
      timeout: 20_000,
    });
    assert.deepEqual(JSON.parse(output), { version: '0.1.0', isClass: true, term: 1, leading: true, errorCode: 'ERR_MYSQL_LEADER_NOT_LEADER' });

    // TypeScript (5.8+, `module: nodenext`) types a require() of an ES module too.
    writeFileSync(
      join(project, 'consumer.cts'),
      "import { MysqlLeader, NotLeaderError, type Queryable } from 'mysql-leader';\n" +
        "declare const db: Queryable;\nconst leader = new MysqlLeader(db, 'typed', { age: 10_000 });\n" +
        'export const term: number | undefined = leader.term;\nexport const error: Error = new NotLeaderError("not leading");\n',
    );
    typecheck(project, 'consumer.cts');
  });

  it('a process exits by itself once its leaders are closed and its pool ended', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/exits.ts'], {
      cwd: root,
      env: { ...process.env, TEST_DB_URL: db.url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let closedAt = 0;
    const code = await new Promise<number | null>((resolveExit) => {
      const watchdog = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.stdout.on('data', () => (closedAt ||= performance.now()));
      child.once('exit', (exitCode) => {
        clearTimeout(watchdog);
        resolveExit(exitCode);
      });
    });
    assert.equal(output.trim(), 'closed');
    assert.equal(code, 0, 'exited by itself, not killed by the watchdog');
    assert.ok(performance.now() - closedAt < 2_000, 'promptly after closing');
  });
});
