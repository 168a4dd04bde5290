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
import { promisify } from 'node:util';
import { useDatabase } from '../support/database.js';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const db = await useDatabase('recipes');

const expected: Record<string, RegExp> = {
  'examples/recipes/fenced-write.ts': /^marked 3 invoices as sent under term 1$/m,
  'examples/recipes/fencing-token.ts': /^leader: 200 stored\nstale leader: 409 stale fencing token 0, already saw 1$/m,
  'examples/recipes/cron-on-leader.ts': /^cleaning up as the leader \(term 1\)$/m,
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
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path], { cwd: root, env: { ...process.env, MYSQL_URL: db.url }, timeout: 30_000 });
      assert.match(stdout, expected[path] as RegExp);
    });
  }
});
