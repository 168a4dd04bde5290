/**
 * The command line's scheduled jobs: `schema` and `init` cover the fires
 * table; `cron` on two nodes runs its command once per slot, with the slot
 * in its environment; `jobs` shows what ran; bad input is one line, exit 2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { runCli, startCli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';

const db = await useDatabase('cli_jobs');

describe('cli: scheduled jobs', () => {
  it('schema prints the DDL of both tables; init creates both', async () => {
    const schema = await runCli(['schema', '--fires-table', 'my_fires']);
    assert.equal(schema.code, 0);
    assert.match(
      schema.stdout,
      /CREATE TABLE IF NOT EXISTS `leader_election`[\s\S]*CREATE TABLE IF NOT EXISTS `my_fires`[\s\S]*PRIMARY KEY \(leader_name, job_name, slot\)/,
    );
    const init = await runCli(['init'], { MYSQL_URL: db.url });
    assert.equal(init.code, 0, init.stderr);
    const [tables] = await db.pool.query("SHOW TABLES LIKE 'leader_election%'");
    assert.equal((tables as unknown[]).length, 2);
  });

  it('cron on two nodes runs the command once per slot, on one of them, with the slot in its environment; jobs shows it', async () => {
    const args = [
      'cron',
      '--name',
      'ticker',
      '--schedule',
      '* * * * * *',
      '--age',
      '2000',
      '--tick',
      '500',
      '--',
      'sh',
      '-c',
      'echo "ran $MYSQL_LEADER_SLOT $MYSQL_LEADER_TERM"',
    ];
    const nodes = [
      startCli([...args.slice(0, 9), '--node', 'one', ...args.slice(9)], { MYSQL_URL: db.url }),
      startCli([...args.slice(0, 9), '--node', 'two', ...args.slice(9)], { MYSQL_URL: db.url }),
    ];
    const runs = (): string[] => nodes.flatMap((node) => node.stdout().match(/^ran \S+/gm) ?? []);
    const end = performance.now() + 15_000;
    while (runs().length < 3 && performance.now() < end) await delay(100);
    for (const node of nodes) node.child.kill('SIGTERM');
    const results = await Promise.all(nodes.map((node) => node.exited));
    assert.deepEqual(
      results.map((result) => result.code),
      [0, 0],
      results.map((result) => result.stderr).join('\n'),
    );
    const slots = runs().map((line) => line.slice('ran '.length));
    assert.ok(slots.length >= 3, `ran ${slots.length} times`);
    assert.equal(new Set(slots).size, slots.length, `each slot once: ${slots.join(' ')}`);
    assert.ok(slots.every((slot) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/.test(slot)));
    const jobs = await runCli(['jobs', '--json'], { MYSQL_URL: db.url });
    assert.equal(jobs.code, 0, jobs.stderr);
    const [job] = JSON.parse(jobs.stdout) as { jobName: string; cron: string; fires: { slot: string; outcome: string }[]; failures: number }[];
    assert.equal(job?.jobName, 'ticker');
    assert.equal(job.failures, 0);
    assert.deepEqual(job.fires.map((fire) => fire.slot).sort(), [...slots].sort());
  });

  it('a bad schedule, time zone or mode is one line naming the flag, exit code 2', async () => {
    for (const [flags, message] of [
      [['--schedule', 'often'], /^mysql-leader: --schedule is not valid .*'often'.*--help/],
      [['--schedule', '* * * * *', '--tz', 'Mars/Olympus'], /^mysql-leader: --tz is not valid .*Mars\/Olympus/],
      [['--schedule', '* * * * *', '--mode', 'twice'], /^mysql-leader: --mode must be 'at-most-once' or 'at-least-once', received 'twice'/],
      [['--schedule', '* * * * *', '--catch-up', 'some'], /^mysql-leader: --catch-up must be 'none', 'latest' or 'all'/],
    ] as const) {
      const result = await runCli(['cron', '--name', 'bad', ...flags, '--', 'true'], { MYSQL_URL: db.url });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
    }
  });
});
