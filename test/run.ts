/**
 * `npm test`: runs every test file with node's test runner. Without
 * MYSQL_URL it first starts a private MariaDB (and stops it afterwards);
 * with MYSQL_URL it uses that server, each test file in its own database.
 *
 *   npm test                      all tests
 *   npm test -- test/unit/x.ts    some files
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startPrivateMariadb, type PrivateMariadb } from '../src/cli/harness/private-mariadb.js';

const given = process.argv.slice(2);
const files =
  given.length > 0
    ? given
    : ['test/unit', 'test/integration'].flatMap((dir) =>
        readdirSync(dir)
          .filter((name) => name.endsWith('.test.ts'))
          .sort()
          .map((name) => join(dir, name)),
      );

let server: PrivateMariadb | undefined;
if (!process.env['MYSQL_URL']) {
  server = await startPrivateMariadb();
  console.log(`# private MariaDB at ${server.url} (set MYSQL_URL to use another server)`);
}
const env = { ...process.env, MYSQL_URL: process.env['MYSQL_URL'] || server?.url }; // an empty MYSQL_URL counts as unset, as above
// Two cores: two test files at a time keeps the timing assertions honest; no test may hang the run.
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', ...files], { stdio: 'inherit', env });
// Ctrl-C or a stop (even twice): end the tests, then the server below.
const stop = (): void => void child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const code = await new Promise<number>((resolve) => child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0))));
await server?.stop();
process.exit(code);
