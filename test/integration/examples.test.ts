/**
 * The examples of the operating guide run as a user runs them, importing
 * 'mysql-leader' (the package's own build, by self-reference): the health
 * endpoint answers, and SIGTERM hands over and exits.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { createMysqlLeaderTable, readElection } from '../../src/index.js';
import { useDatabase } from '../support/database.js';

const root = resolve(import.meta.dirname, '../..');
const db = await useDatabase('examples');
await createMysqlLeaderTable(db.pool);

/** Starts an example; `lines` resolves with the first line of its output matching each pattern, in order. */
function startExample(path: string, env: NodeJS.ProcessEnv = {}) {
  assert.ok(existsSync(join(root, 'dist/index.js')), 'the package is built (npm test builds it first)');
  const child = spawn(process.execPath, ['--import', 'tsx', path], { cwd: root, env: { ...process.env, MYSQL_URL: db.url, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
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
  return { child, line, exited };
}

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
      assert.match(await (leader as Response).text(), /^leading, term \d+/);
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
});
