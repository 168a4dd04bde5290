/**
 * The examples of the operating guide and the framework recipes (Express,
 * Fastify, NestJS) run as a user runs them, importing 'mysql-leader' (the
 * package's own build, by self-reference): the health endpoints answer, and
 * SIGTERM hands over and exits.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { RowDataPacket } from 'mysql2/promise';
import { createMysqlLeaderTable, readElection } from '../../src/index.js';
import { useDatabase } from '../support/database.js';

const root = resolve(import.meta.dirname, '../..');
const db = await useDatabase('examples');
await createMysqlLeaderTable(db.pool);

/** Starts an example; `lines` resolves with the first line of its output matching each pattern, in order. */
function startExample(path: string, env: NodeJS.ProcessEnv = {}) {
  assert.ok(existsSync(join(root, 'dist/index.js')), 'the package is built (npm test builds it first)');
  const child = spawn(process.execPath, ['--import', 'tsx', path], {
    cwd: root,
    env: { ...process.env, MYSQL_URL: db.url, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const output: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    output.push(line);
    for (const waiter of waiters.filter((w) => w.pattern.test(line))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const line = (pattern: RegExp, timeoutMs = 20_000): Promise<string> =>
    new Promise((resolveLine, reject) => {
      const found = output.find((l) => pattern.test(l));
      if (found) return resolveLine(found);
      const timer = setTimeout(() => reject(new Error(`${path}: no line matching ${pattern} within ${timeoutMs} ms; saw ${output.join(' | ')}`)), timeoutMs);
      waiters.push({
        pattern,
        resolve: (l) => {
          clearTimeout(timer);
          resolveLine(l);
        },
      });
    });
  return { child, line, exited, output };
}

/** Fetches `url` until `accept` holds for the response and its JSON (or text) body, for up to 10 s; returns them. */
async function poll(url: string, accept: (status: number, body: unknown) => boolean): Promise<{ status: number; body: unknown }> {
  let last: { status: number; body: unknown } | undefined;
  for (let i = 0; i < 100; i++) {
    const response = await fetch(url);
    const text = await response.text();
    let body: unknown = text;
    if (response.headers.get('content-type')?.includes('json')) body = JSON.parse(text);
    last = { status: response.status, body };
    if (accept(last.status, last.body)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${url}: never as expected; last ${JSON.stringify(last)}`);
}

/** Sends SIGTERM to a recipe that leads `election`: it says `closed`, exits 0, and the lease is released. */
async function stopsAndReleases(example: ReturnType<typeof startExample>, election: string): Promise<void> {
  example.child.kill('SIGTERM');
  await example.line(/^closed$/);
  assert.equal(await example.exited, 0);
  assert.ok(((await readElection(db.pool, election))?.expiresInMs ?? 1) <= 0, 'released');
}

const leading = (status: number, body: unknown): boolean => status === 200 && (body as { leading?: boolean }).leading === true;

describe('examples', () => {
  it('health-http.ts serves /healthz, /leader and /metrics, and stops on SIGTERM', async () => {
    const example = startExample('examples/health-http.ts', { PORT: '0' });
    try {
      const base = (await example.line(/^listening on /)).replace('listening on ', '');
      let leader: Response | undefined;
      for (let i = 0; i < 100 && leader?.status !== 200; i++) {
        leader = await fetch(`${base}/leader`);
        if (leader.status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(leader?.status, 200);
      assert.match(await leader.text(), /^leading, term \d+/);
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { healthy: boolean }).healthy, true);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^mysql_leader_is_leader\{election="reports",node="[^"]+"\} 1$/m);
      example.child.kill('SIGTERM');
      assert.equal(await example.exited, 0);
      assert.ok(((await readElection(db.pool, 'reports'))?.expiresInMs ?? 1) <= 0, 'released');
    } finally {
      example.child.kill('SIGKILL');
    }
  });

  it('graceful-shutdown.ts hands over and exits 0 on SIGTERM', async () => {
    const example = startExample('examples/graceful-shutdown.ts');
    try {
      await example.line(/^leading, term \d+$/);
      const stoppedAt = Date.now();
      example.child.kill('SIGTERM');
      await example.line(/^released; exiting$/);
      assert.equal(await example.exited, 0);
      assert.ok(Date.now() - stoppedAt < 5_000, 'well before a container runtime would kill it');
      assert.ok(((await readElection(db.pool, 'queue-sweeper'))?.expiresInMs ?? 1) <= 0, 'released');
    } finally {
      example.child.kill('SIGKILL');
    }
  });

  it('express.ts: /healthz is live, /readyz names the leader, and SIGTERM hands over', async () => {
    const example = startExample('examples/express.ts', { PORT: '0' });
    try {
      const base = (await example.line(/^listening on /)).replace('listening on ', '');
      const health = (await poll(`${base}/healthz`, leading)).body as { healthy: boolean; term: number };
      assert.equal(health.healthy, true);
      const ready = await poll(`${base}/readyz`, (status) => status === 200);
      assert.deepEqual(ready.body, { ready: true, leading: true, leader: (await readElection(db.pool, 'express-jobs'))?.nodeName, term: health.term });
      await stopsAndReleases(example, 'express-jobs');
    } finally {
      example.child.kill('SIGKILL');
    }
  });

  it('fastify.ts: the plugin decorates the instance with the leader and closes it on onClose', async () => {
    const example = startExample('examples/fastify.ts', { PORT: '0' });
    try {
      const base = (await example.line(/^listening on /)).replace('listening on ', '');
      assert.equal(((await poll(`${base}/healthz`, leading)).body as { healthy: boolean }).healthy, true);
      const leader = await poll(`${base}/leader`, (status) => status === 200);
      assert.match(String(leader.body), /^leading, term \d+/);
      await stopsAndReleases(example, 'fastify-jobs');
    } finally {
      example.child.kill('SIGKILL');
    }
  });

  it('nestjs.ts: the Terminus indicator reports the leader up, and shutdown hands over', async () => {
    const example = startExample('examples/nestjs.ts', { PORT: '0' });
    try {
      const base = (await example.line(/^listening on /)).replace('listening on ', '');
      const { body } = await poll(
        `${base}/health`,
        (status, result) => status === 200 && (result as { info?: { leader?: { leading?: boolean } } }).info?.leader?.leading === true,
      );
      assert.deepEqual((body as { info: unknown }).info, { leader: { status: 'up', leading: true, term: (await readElection(db.pool, 'nest-jobs'))?.term } });
      await stopsAndReleases(example, 'nest-jobs');
    } finally {
      example.child.kill('SIGKILL');
    }
  });

  it('nestjs-schedule.ts: two replicas run the @nestjs/schedule job once per slot, on the leader, across a hand-over on SIGTERM', async () => {
    const replicas = [startExample('examples/nestjs-schedule.ts'), startExample('examples/nestjs-schedule.ts')];
    const reports = (): string[] => replicas.flatMap((replica) => replica.output.filter((line) => line.startsWith('report for ')));
    const slotOf = (line: string): string => line.split(' ')[2] as string;
    try {
      await Promise.all(replicas.map((replica) => replica.line(/^started$/)));
      const first = await Promise.race(replicas.map((replica) => replica.line(/^report for /).then(() => replica)));
      const other = replicas.find((replica) => replica !== first) as (typeof replicas)[0];
      const seenBefore = other.output.filter((line) => line.startsWith('report for ')).length;
      first.child.kill('SIGTERM');
      await first.line(/^closed$/);
      assert.equal(await first.exited, 0);
      for (let i = 0; i < 200 && other.output.filter((line) => line.startsWith('report for ')).length < seenBefore + 2; i++) await delay(100);
      other.child.kill('SIGTERM');
      await other.line(/^closed$/);
      assert.equal(await other.exited, 0);
      const slots = reports().map(slotOf);
      assert.equal(new Set(slots).size, slots.length, `no slot ran twice: ${reports().join(' | ')}`);
      assert.ok(other.output.filter((line) => line.startsWith('report for ')).length >= seenBefore + 2, 'the other replica took over');
      const [rows] = await db.pool.query<RowDataPacket[]>(
        "SELECT DATE_FORMAT(slot, '%Y-%m-%dT%H:%i:%s.000Z') AS slot FROM leader_election_fires WHERE leader_name = 'nest-schedule' AND job_name = 'report' AND outcome = 'done' ORDER BY slot",
      );
      assert.deepEqual(
        rows.map((row) => String(row['slot'])),
        [...slots].sort(),
        'a done fire recorded for each report',
      );
    } finally {
      for (const replica of replicas) replica.child.kill('SIGKILL');
    }
  });
});
