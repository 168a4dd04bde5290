/**
 * The README's recipes run as written: each code block marked
 * `<!-- recipe: PATH -->` is the file at PATH, word for word, and the file
 * runs to completion against a real server, importing 'mysql-leader' as a
 * user's code would (the package's own build, by self-reference).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { useDatabase } from '../support/database.js';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const db = await useDatabase('recipes');

/** The quick start runs until SIGTERM: it is stopped once it has led and worked. */
const RUNS_UNTIL_SIGTERM = 'examples/recipes/quick-start.ts';

const expected: Record<string, RegExp> = {
  [RUNS_UNTIL_SIGTERM]: /^leading \(term 1\)\nsending the report\n[\s\S]*stepped down: closed\n$/,
  'examples/recipes/fenced-write.ts': /^marked 3 invoices as sent under term 1$/m,
  'examples/recipes/fencing-token.ts': /^leader: 200 stored\nstale leader: 409 stale fencing token 0, already saw 1$/m,
  'examples/recipes/scheduled-job.ts': /^report for \S+ written under term 1$/m,
  'examples/recipes/many-leases.ts': /^leading ingest-eu, ingest-us, ingest-ap\ninvoice run: 3 invoices under term 1$/m,
  'examples/recipes/shared-keys.ts':
    /^replica-a owns 8 partitions\nreplica-a owns (\d,){3}\d; replica-b owns (\d,){3}\d\nmembers: replica-a, replica-b\nreplica-b left: replica-a owns 8 partitions$/m,
  'examples/recipes/semaphore.ts': /^(exporting (eu|us|ap) on permit [01]\n){3}both permits held \(terms \d+, \d+\): ERR_MYSQL_LEADER_PERMIT_TIMEOUT$/m,
};

describe('README recipes', () => {
  const marked = [...readme.matchAll(/<!-- recipe: (\S+) -->\n```ts\n([\s\S]*?)```/g)];
  it('the README shows every recipe', () => {
    assert.deepEqual(marked.map(([, path]) => path).sort(), Object.keys(expected).sort());
  });

  for (const [, path, block] of marked) {
    if (!path) continue;
    it(`${path} is in the README word for word and runs as written`, async () => {
      assert.equal(block, readFileSync(join(root, path), 'utf8'));
      assert.ok(existsSync(join(root, 'dist/index.js')), 'the package is built (npm test builds it first)');
      const child = execFile(process.execPath, ['--import', 'tsx', path], { cwd: root, env: { ...process.env, MYSQL_URL: db.url }, timeout: 30_000 });
      let stdout = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (path === RUNS_UNTIL_SIGTERM && stdout.includes('sending the report') && !child.killed) child.kill('SIGTERM');
      });
      const code = await new Promise((resolveExit) => child.once('exit', resolveExit));
      assert.equal(code, 0, stdout);
      assert.match(stdout, expected[path] as RegExp);
    });
  }
});
