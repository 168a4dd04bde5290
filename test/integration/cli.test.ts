/**
 * The `mysql-leader` command line against a real server, as a user runs it:
 * `run` keeps its command on exactly one node at a time and never lets it
 * outlive the CLI; `status`, `watch` and `release` see and change the lease;
 * bad input gets one line and the documented exit code; no password is
 * ever printed. Timing: age 2000 ms, tick 500 ms.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Leases, createMysqlLeaderTable } from '../../src/index.js';
import { oneLine, runCli, startCli, waitFor, type CliProcess, type CliResult } from '../support/cli.js';
import { adminQuery, useDatabase } from '../support/database.js';
import { alive } from '../support/processes.js';

const AGE = 2000;
const TICK = 500;
const COMMAND = fileURLToPath(new URL('../fixtures/leader-command.sh', import.meta.url));
const db = await useDatabase('cli');
await createMysqlLeaderTable(db.pool);
const ENV = { MYSQL_URL: db.url };
const logs = mkdtempSync(join(tmpdir(), 'mlt-cli-'));
after(() => rmSync(logs, { recursive: true, force: true }));

let elections = 0;
/** A new election and a new log file for its command. */
function election(): { name: string; log: string } {
  elections += 1;
  return { name: `cli-${elections}`, log: join(logs, `election-${elections}.log`) };
}

/** `run` for one node: the fixture command beats `beats` times (0: until stopped), then exits with `code`. */
function startRun(name: string, node: string, log: string, options: { beats?: number; code?: number; age?: number; extra?: string[] } = {}): CliProcess {
  const args = ['run', '--name', name, '--node', node, '--age', String(options.age ?? AGE), '--tick', String(TICK), ...(options.extra ?? [])];
  return startCli([...args, '--', 'sh', COMMAND, log, String(options.beats ?? 0), String(options.code ?? 0)], ENV);
}

/** One run of the fixture command, from its log lines; times in ms on the wall clock shared by the host's processes. */
interface CommandRun {
  readonly node: string;
  readonly pid: number;
  readonly term: number;
  readonly name: string;
  readonly start: number;
  /** Its last line. */
  last: number;
  /** The signal that stopped it, or `undefined`. */
  stoppedBy: string | undefined;
  ended: boolean;
}

const ms = (ns: string | undefined): number => Number(BigInt(ns ?? '0') / 1000n) / 1000;

function runsIn(log: string): CommandRun[] {
  let text: string;
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return [];
  }
  const runs = new Map<number, CommandRun>();
  for (const line of text.split('\n').filter(Boolean)) {
    const [event, node = '', pid = '0', ...rest] = line.split(' ');
    const at = ms(rest.at(-1));
    const run = runs.get(Number(pid));
    if (event === 'start')
      runs.set(Number(pid), { node, pid: Number(pid), term: Number(rest[0]), name: rest[1] ?? '', start: at, last: at, stoppedBy: undefined, ended: false });
    else if (run) {
      run.last = Math.max(run.last, at);
      if (event === 'stop') run.stoppedBy = rest[0];
      if (event === 'end') run.ended = true;
    }
  }
  return [...runs.values()].sort((a, b) => a.start - b.start);
}

/** Throws if two runs of the command overlap in time, or if terms do not grow. */
function assertOneAtATime(runs: readonly CommandRun[]): void {
  for (let i = 1; i < runs.length; i++) {
    const [before, next] = [runs[i - 1] as CommandRun, runs[i] as CommandRun];
    assert.ok(
      next.start > before.last,
      `the command ran twice at once: ${before.node} (pid ${before.pid}) until ${before.last}, ${next.node} (pid ${next.pid}) from ${next.start}`,
    );
    assert.ok(next.term > before.term, `terms do not grow: ${before.term} then ${next.term}`);
  }
}

/** Runs the tasks at most `limit` at a time (CLI processes start under tsx: spare a loaded machine). */
async function limited<T>(tasks: readonly (() => Promise<T>)[], limit = 3): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await (tasks[index] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

describe('cli: run', () => {
  it('runs the command on exactly one of two nodes at a time, with the leader in its environment, and exits with its exit code', async () => {
    const { name, log } = election();
    const nodes = [startRun(name, 'a', log, { beats: 15, code: 3 }), startRun(name, 'b', log, { beats: 15, code: 3 })];
    const results = await Promise.all(nodes.map((node) => node.exited));
    assert.deepEqual(
      results.map((r) => r.code),
      [3, 3],
      results.map((r) => r.stderr).join('\n'),
    );
    const runs = runsIn(log);
    // (On a starved machine a leader may lose its lease and run the command again later.)
    for (const node of ['a', 'b']) assert.equal(runs.filter((r) => r.node === node).at(-1)?.ended, true, `${node} ran the command to its end`);
    assert.ok(runs.every((r) => r.name === name && r.term >= 1));
    assertOneAtATime(runs);
    assert.match(results[0]?.stderr ?? '', /elected \(term \d+\): starting sh/);
  });

  it('a command killed by a signal gives 128 + its number; a missing command gives 127', async () => {
    const killed = await runCli(['run', '--name', election().name, '--', 'sh', '-c', 'kill -KILL $$'], ENV);
    assert.equal(killed.code, 137, killed.stderr);
    const missing = await runCli(['run', '--name', election().name, '--', '/no/such/command'], ENV);
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /cannot run \/no\/such\/command: .*ENOENT/);
  });

  it('SIGKILL of the leading CLI stops its command at once, and the other node starts its own within age + tick', async (t) => {
    const { name, log } = election();
    const nodes = { a: startRun(name, 'a', log), b: startRun(name, 'b', log) };
    const first = await waitFor(() => runsIn(log)[0], 20_000, 'command start');
    await delay(2 * TICK);
    const leader = nodes[first.node as 'a' | 'b'];
    const other = first.node === 'a' ? 'b' : 'a';
    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    const second = await waitFor(() => runsIn(log).find((r) => r.node === other), AGE + TICK + 5_000, 'start on the other node');
    const failover = second.start - killedAt;
    t.diagnostic(`command started on the other node ${failover.toFixed(0)} ms after the SIGKILL (age ${AGE}, tick ${TICK})`);
    assert.ok(failover <= AGE + TICK, `fail-over took ${failover} ms`);
    // The killed CLI's command got SIGTERM from its watchdog, long before the other node started, and is gone.
    const stopped = runsIn(log).find((r) => r.pid === first.pid);
    assert.equal(stopped?.stoppedBy, 'TERM');
    t.diagnostic(`the orphaned command stopped ${((stopped?.last ?? NaN) - killedAt).toFixed(0)} ms after the kill`);
    await waitFor(() => (alive(first.pid) ? undefined : true), 2_000, 'exit of the orphaned command');
    assertOneAtATime(runsIn(log));

    // SIGTERM to the CLI reaches the command; the CLI releases and exits with the command's code (0 after its trap).
    nodes[other].child.kill('SIGTERM');
    const result = await nodes[other].exited;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(runsIn(log).find((r) => r.node === other)?.stoppedBy, 'TERM');
    const status = JSON.parse((await runCli(['status', name, '--json'], ENV)).stdout) as { state: string };
    assert.equal(status.state, 'expired', 'released on exit');
  });

  it('with --restart, a command that exits by itself is started again while the node leads', async () => {
    const { name, log } = election();
    const node = startRun(name, 'a', log, { beats: 2, code: 1, extra: ['--restart'] });
    await waitFor(() => (runsIn(log).length >= 2 ? true : undefined), 10_000, 'second start');
    node.child.kill('SIGINT');
    const result = await node.exited;
    const runs = runsIn(log);
    assert.ok(
      runs.every((r) => r.node === 'a' && r.term === runs[0]?.term),
      'same tenure',
    );
    assert.ok(result.code === 0 || result.code === 1, `exit code ${result.code}: the command's`);
  });
});

describe('cli: status, watch, release', () => {
  it("status names the lease engine's own rows for what they are: a semaphore's permit, a share's member and key", async () => {
    const tableName = 'engine_rows';
    await createMysqlLeaderTable(db.pool, { tableName });
    const leases = new Leases(db.pool, { nodeName: 'eng', tableName, age: AGE, tick: TICK });
    try {
      const permit = await leases.semaphore('exports', 2).acquire();
      const share = leases.share('orders', ['eu'], async ({ signal }) => {
        while (!signal.aborted) await delay(50);
      });
      await waitFor(() => (share.owned.length === 1 ? true : undefined), 20_000, 'the share owns its key');
      const { stdout } = await runCli(['status', '--table', tableName], ENV);
      for (const label of ['exports [permit 0]', 'orders [member eng]', 'orders [key eu]'])
        assert.match(stdout, new RegExp(`^${label.replace(/[[\]]/g, '\\$&')} +held +eng `, 'm'), stdout);
      assert.ok(!stdout.includes('\u0000'), 'no raw U+0000 in the table');
      const json = JSON.parse((await runCli(['status', '--table', tableName, '--json'], ENV)).stdout) as { name: string }[];
      assert.ok(
        json.some((row) => row.name === 'exports\u00000'),
        '--json keeps the row names as they are',
      );
      await permit.release();
    } finally {
      await leases.close();
    }
  });

  it("status --json reports the leader and term; release --force frees a stuck leader's lease for the other node; watch prints each change", async (t) => {
    // A longer lease here: the release must come (a CLI process starting) while the stuck leader's lease lives.
    const age = 6000;
    const { name, log } = election();
    const watch = startCli(['watch', name, '--interval', '200'], ENV);
    const nodes = { a: startRun(name, 'a', log, { age }), b: startRun(name, 'b', log, { age }) };
    const first = await waitFor(() => runsIn(log)[0], 20_000, 'command start');
    const stuck = nodes[first.node as 'a' | 'b'];
    const other = first.node === 'a' ? 'b' : 'a';

    const status = JSON.parse((await runCli(['status', name, '--json'], ENV)).stdout) as { state: string; leader: string; term: number; expiresInMs: number };
    assert.equal(status.state, 'held');
    assert.equal(status.leader, first.node);
    assert.equal(status.term, first.term);
    assert.ok(status.expiresInMs > 0 && status.expiresInMs <= age);
    const list = await runCli(['status'], ENV);
    assert.match(list.stdout, new RegExp(`^${name}\\s+held\\s+${first.node}\\s+${first.term}\\s+in `, 'm'));

    // The leading CLI gets stuck (its watchdog, in a session of its own, does not).
    stuck.child.kill('SIGSTOP');
    const stuckAt = Date.now();
    const release = await runCli(['release', name, '--force'], ENV);
    const releasedAt = Date.now();
    assert.equal(release.code, 0, release.stderr);
    assert.match(release.stdout, new RegExp(`released the lease of ${first.node} \\(term ${first.term}\\)`));
    assert.match(release.stdout, /keeps acting as the leader until its own deadline/);
    const second = await waitFor(() => runsIn(log).find((r) => r.node === other), age + 5_000, 'take-over after release').catch((error: unknown) => {
      throw new Error(`${String(error)}; ${other}'s stderr: ${nodes[other].stderr()}`);
    });
    t.diagnostic(`take-over ${(second.start - releasedAt).toFixed(0)} ms after the forced release (tick ${TICK})`);
    assert.ok(second.term > first.term);
    assert.ok(second.start - releasedAt <= TICK + 1_000, `take-over ${second.start - releasedAt} ms after the release`);
    // The stuck CLI's watchdog stops its command by the deadline of its last renewal.
    const stopped = await waitFor(() => runsIn(log).find((r) => r.pid === first.pid && r.stoppedBy), age + 2_000, "stop of the stuck leader's command");
    assert.equal(stopped.stoppedBy, 'TERM');
    assert.ok(stopped.last - stuckAt <= age + 1_000, `stopped ${stopped.last - stuckAt} ms after the CLI got stuck`);
    stuck.child.kill('SIGCONT');

    await waitFor(() => (watch.stdout().includes(`${other} leads (term ${second.term}`) ? true : undefined), 5_000, 'watch line of the new leader');
    assert.match(watch.stdout(), new RegExp(`${name}: ${first.node} leads \\(term ${first.term}`));
    watch.child.kill('SIGINT');
    assert.equal((await watch.exited).code, 0);
    await delay(TICK);
    nodes.a.child.kill('SIGTERM');
    nodes.b.child.kill('SIGTERM');
    const results = await Promise.all([nodes.a.exited, nodes.b.exited]);
    assert.deepEqual(
      results.map((r) => r.code),
      [0, 0],
      results.map((r) => r.stderr).join('\n'),
    );
  });

  it('release without --force changes nothing; release of a vacant election says so', async () => {
    const { name } = election();
    const refused = await runCli(['release', name], ENV);
    assert.equal(refused.code, 2);
    assert.match(oneLine(refused), /--force/);
    const vacant = await runCli(['release', name, '--force'], ENV);
    assert.equal(vacant.code, 0);
    assert.match(vacant.stdout, /no live lease/);
  });
});

describe('cli: bad input', () => {
  it('prints one line on stderr, no stack trace, and exits 2 for a usage error or 1 for an operational one', async () => {
    const unreachable = 'mysql://root@127.0.0.1:1/test';
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; code: number; message: RegExp }[] = [
      { args: ['frobnicate'], code: 2, message: /unknown command "frobnicate"/ },
      { args: ['run', '--name', 'x', '--bogus', '--', 'true'], code: 2, message: /Unknown option '--bogus'/ },
      { args: ['run', '--', 'true'], code: 2, message: /missing --name/ },
      { args: ['run', '--name', 'x'], code: 2, message: /missing the command/ },
      { args: ['run', '--name', 'x', '--age', '1000', '--tick', '1000', '--', 'true'], code: 2, message: /--tick \(1000 ms\).*--age/ },
      { args: ['run', '--name', 'x', '--grace', 'soon', '--', 'true'], code: 2, message: /--grace must be a positive whole number/ },
      { args: ['watch'], code: 2, message: /missing the election NAME/ },
      { args: ['status', '--url', 'mysql://root@127.0.0.1:notaport/test'], code: 2, message: /--url is not a valid URL/ },
      { args: ['status'], env: { MYSQL_URL: 'not a url' }, code: 2, message: /MYSQL_URL is not a valid URL/ },
      { args: ['status'], env: { MYSQL_URL: '' }, code: 2, message: /no database: pass --url/ },
      { args: ['status', '--table', 'a-b'], code: 2, message: /--table must be an identifier/ },
      { args: ['status', '--url', unreachable], code: 1, message: /cannot connect to mysql:\/\/root@127\.0\.0\.1:1\/test: connect ECONNREFUSED/ },
      { args: ['run', '--name', 'x', '--url', unreachable, '--', 'true'], code: 1, message: /cannot connect to .*ECONNREFUSED/ },
      { args: ['status', '--table', 'no_such_table'], code: 1, message: /`no_such_table` does not exist/ },
      { args: ['run', '--name', 'x', '--table', 'no_such_table', '--', 'true'], code: 1, message: /`no_such_table` does not exist/ },
    ];
    const results = await limited(cases.map((c) => () => runCli(c.args, { ...ENV, ...c.env })));
    cases.forEach((c, i) => {
      const result = results[i] as CliResult;
      assert.equal(result.code, c.code, `${c.args.join(' ')}: ${result.stderr}`);
      assert.match(oneLine(result), c.message, c.args.join(' '));
      assert.equal(result.stdout, '', `${c.args.join(' ')} prints nothing on stdout`);
    });
  });

  it('every command has --help, which exits 0', async () => {
    const commands = ['run', 'lock', 'cron', 'jobs', 'status', 'watch', 'release', 'schema', 'init', 'demo'];
    const results = await limited(commands.map((command) => () => runCli([command, '--help'])));
    results.forEach((result, i) => {
      assert.equal(result.code, 0, commands[i]);
      assert.match(result.stdout, new RegExp(`^mysql-leader ${commands[i]}`));
    });
  });
});

describe('cli: passwords', () => {
  it('no command prints the password of the URL, on success or failure', async () => {
    const user = `mlt_cli_${process.pid}`;
    const password = `Pw-${Math.random().toString(36).slice(2)}-secret`;
    await adminQuery(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    after(() => adminQuery(`DROP USER IF EXISTS '${user}'@'%'`));
    await adminQuery(`GRANT ALL ON \`${db.name}\`.* TO '${user}'@'%'`);
    const url = new URL(db.url);
    url.username = user;
    url.password = password;
    const withPassword = url.toString();
    const wrongDatabase = new URL(withPassword);
    wrongDatabase.pathname = '/mlt_no_such_database';
    const unreachable = new URL(withPassword);
    unreachable.port = '1';
    const wrongPassword = new URL(db.url);
    wrongPassword.username = user;
    wrongPassword.password = `${password}x`;
    const { name, log } = election();
    const runs: CliResult[] = await limited([
      () => runCli(['init', '--table', 'pw_table'], { MYSQL_URL: withPassword }),
      () => runCli(['run', '--name', name, '--', 'sh', COMMAND, log, '2', '0'], { MYSQL_URL: withPassword }),
      () => runCli(['run', '--name', `${name}-x`, '--url', withPassword, '--', 'sh', COMMAND, log, '2', '0'], { MYSQL_URL: '' }),
      () => runCli(['status'], { MYSQL_URL: withPassword }),
      () => runCli(['status', name, '--json', '--url', withPassword]),
      () => runCli(['release', name, '--force'], { MYSQL_URL: withPassword }),
      () => runCli(['status'], { MYSQL_URL: wrongDatabase.toString() }),
      () => runCli(['status', '--url', unreachable.toString()]),
      () => runCli(['status', '--url', wrongPassword.toString()]),
      () => runCli(['status', '--url', `mysql://${user}:${password}@127.0.0.1:bad/x`]),
      () => runCli(['status', '--table', 'missing'], { MYSQL_URL: withPassword }),
    ]);
    const watch = startCli(['watch', name], { MYSQL_URL: withPassword });
    await waitFor(() => (watch.stdout().includes(name) ? true : undefined), 10_000, 'watch output');
    watch.child.kill('SIGINT');
    runs.push(await watch.exited);
    assert.deepEqual(
      runs.map((r) => r.code),
      [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 1, 0],
    );
    for (const result of runs) {
      assert.ok(!`${result.stdout}${result.stderr}`.includes(password), `password printed: ${result.stdout}${result.stderr}`);
    }
    assert.match(runs[7]?.stderr ?? '', new RegExp(`cannot connect to mysql://${user}:\\*\\*\\*@127\\.0\\.0\\.1:1/`));
    assert.match(runs[9]?.stderr ?? '', /:\*\*\*@/);
  });
});
