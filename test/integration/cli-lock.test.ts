/**
 * `mysql-leader lock` against a real server, as a user runs it: commands
 * under one lock never overlap, a bounded wait gives up with its own exit
 * code, the command's exit code passes through, a lost lock (or a CLI that
 * dies or freezes) stops the command, bad input gets one line and exit 2.
 * Timing: age 2000 ms, tick 500 ms.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Leases, createMysqlLeaderTable, forceRelease, readElection } from '../../src/index.js';
import { events, oneLine, runCli, startCli, waitFor } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { alive } from '../support/processes.js';

const AGE = 2000;
const TICK = 500;
/** The exit code of a lock not obtained within --wait. */
const LOCK_TIMEOUT = 75;
const COMMAND = fileURLToPath(new URL('../fixtures/leader-command.sh', import.meta.url));
const db = await useDatabase('cli_lock');
await createMysqlLeaderTable(db.pool);
const ENV = { MYSQL_URL: db.url };
const logs = mkdtempSync(join(tmpdir(), 'mlt-cli-lock-'));
after(() => rmSync(logs, { recursive: true, force: true }));

let locks = 0;
/** A new lock and a new log file for its commands. */
function lock(): { name: string; log: string } {
  locks += 1;
  return { name: `cli-lock-${locks}`, log: join(logs, `lock-${locks}.log`) };
}

/** `lock NAME --age AGE --tick TICK [extra] -- sh leader-command.sh LOG BEATS CODE` (the fixture beats every 50 ms, then exits with CODE). */
function lockArgs(name: string, node: string, log: string, options: { beats?: number; code?: number; extra?: string[] } = {}): string[] {
  const flags = ['lock', name, '--node', node, '--age', String(AGE), '--tick', String(TICK), ...(options.extra ?? [])];
  return [...flags, '--', 'sh', COMMAND, log, String(options.beats ?? 0), String(options.code ?? 0)];
}

/** Holds the lock `name` in this process (as another host would) until the returned function is called. */
async function holdLock(t: { after: (fn: () => Promise<void>) => void }, name: string): Promise<() => Promise<void>> {
  const leases = new Leases(db.newPool({ connectionLimit: 2 }), { age: AGE, tick: TICK, nodeName: 'holder' });
  t.after(() => leases.close());
  let release: () => void = () => {};
  const held = leases.withLock(name, () => new Promise<void>((resolve) => (release = resolve)));
  while ((await readElection(db.pool, name))?.nodeName !== 'holder') await delay(10);
  return async () => {
    release();
    await held;
  };
}

describe('cli: lock', () => {
  it('runs the commands of lock lines on the same NAME one at a time, each under a term of its own, and exits with its exit code', async () => {
    const { name, log } = lock();
    const nodes = ['a', 'b', 'c'].map((node) => startCli(lockArgs(name, node, log, { beats: 6, code: 4 }), ENV));
    const results = await Promise.all(nodes.map((node) => node.exited));
    assert.deepEqual(
      results.map((r) => r.code),
      [4, 4, 4],
      results.map((r) => r.stderr).join('\n'),
    );
    // Each run is start, its beats, end, with no line of another run in between.
    const lines = events(log);
    let inside: string | undefined;
    const terms: number[] = [];
    for (const [event, node, pid, term] of lines) {
      if (event === 'start') {
        assert.equal(inside, undefined, `${node} started while ${inside} ran:\n${lines.map((l) => l.join(' ')).join('\n')}`);
        inside = pid;
        terms.push(Number(term));
      } else {
        assert.equal(pid, inside, `a line of ${node} (pid ${pid}) while pid ${inside} ran`);
        if (event === 'end') inside = undefined;
      }
    }
    assert.equal(inside, undefined);
    assert.equal(terms.length, 3, 'each command ran once');
    assert.deepEqual(
      terms,
      [...terms].sort((x, y) => x - y),
      'terms grow',
    );
    assert.equal(new Set(terms).size, 3);
    assert.equal((await readElection(db.pool, name))?.released, true, 'released after the last');
    assert.match(results[0]?.stderr ?? '', /locked "cli-lock-\d+" \(term \d+\): starting sh/);
  });

  it('--wait 0 against a held lock tries once: exit code 75 and one line, at once, the command not run; --wait MS waits that long', async (t) => {
    const { name, log } = lock();
    const release = await holdLock(t, name);
    const started = Date.now();
    const once = await runCli(lockArgs(name, 'a', log, { beats: 1, extra: ['--wait', '0'] }), ENV);
    const onceMs = Date.now() - started;
    assert.equal(once.code, LOCK_TIMEOUT, once.stderr);
    assert.match(oneLine(once), new RegExp(`the lock "${name}" was not obtained within 0 ms: another holder has it`));
    t.diagnostic(`--wait 0: exited ${onceMs} ms after the start of the CLI process`);
    const waited = Date.now();
    const bounded = await runCli(lockArgs(name, 'a', log, { beats: 1, extra: ['--wait', '1500'] }), ENV);
    assert.equal(bounded.code, LOCK_TIMEOUT, bounded.stderr);
    const [asked, ...rest] = bounded.stderr.trimEnd().split('\n');
    assert.match(asked ?? '', /^mysql-leader: asking for the lock "cli-lock-\d+" \(waiting at most 1500 ms\)$/);
    assert.match(oneLine({ ...bounded, stderr: rest.join('\n') }), /within 1500 ms/);
    const boundedMs = Date.now() - waited;
    assert.ok(boundedMs - onceMs >= 1000, `--wait 1500 gave up ${boundedMs} ms after its start, --wait 0 after ${onceMs} ms`);
    assert.equal(events(log).length, 0, 'the command never ran');
    await release();
    // Free again: --wait 0 takes it.
    const free = await runCli(lockArgs(name, 'a', log, { beats: 1, code: 0, extra: ['--wait', '0'] }), ENV);
    assert.equal(free.code, 0, free.stderr);
  });

  it("passes the command's exit code on: 128 + N after signal N, 127 when not found", async () => {
    const killed = await runCli(['lock', lock().name, '--', 'sh', '-c', 'kill -KILL $$'], ENV);
    assert.equal(killed.code, 137, killed.stderr);
    const missing = await runCli(['lock', lock().name, '--', '/no/such/command'], ENV);
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /cannot run \/no\/such\/command: .*ENOENT/);
    const env = await runCli(['lock', lock().name, '--node', 'n1', '--', 'sh', '-c', 'echo "$MYSQL_LEADER_NAME $MYSQL_LEADER_NODE $MYSQL_LEADER_TERM"'], ENV);
    assert.match(env.stdout, /^cli-lock-\d+ n1 1\n$/);
  });

  it('renews the lock while the command runs longer than the lease; a lost lock stops the command (SIGTERM) and exits 1', async () => {
    const { name, log } = lock();
    // 3 s of beats, more than the lease's 2 s: neither the lease nor the watchdog's deadline may run out.
    const long = await runCli(lockArgs(name, 'a', log, { beats: 60, code: 5 }), ENV);
    assert.equal(long.code, 5, long.stderr);
    assert.equal(events(log).at(-1)?.[0], 'end', 'ran to its end');

    const cli = startCli(lockArgs(name, 'b', log), ENV);
    await waitFor(() => (events(log).some(([event, node]) => event === 'start' && node === 'b') ? true : undefined), 10_000, 'start of b');
    assert.ok(await forceRelease(db.pool, name));
    const result = await cli.exited;
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /the lease of the lock "cli-lock-\d+" \(term \d+\) ended \(lost\): stopping the command/);
    assert.ok(events(log).some(([event, node, , signal]) => event === 'stop' && node === 'b' && signal === 'TERM'));
  });

  it('SIGTERM to the CLI reaches the command, then the lock is released; while waiting, the CLI stops and exits 128 + N', async () => {
    const { name, log } = lock();
    const holder = startCli(lockArgs(name, 'a', log), ENV);
    await waitFor(() => (events(log).length > 0 ? true : undefined), 10_000, 'start of a');
    const waiter = startCli(lockArgs(name, 'b', log), ENV);
    await waitFor(() => (/asking for the lock/.test(waiter.stderr()) ? true : undefined), 10_000, 'b waiting'); // its signal handlers are in place
    waiter.child.kill('SIGINT');
    const waited = await waiter.exited;
    assert.equal(waited.code, 130, waited.stderr);
    assert.match(waited.stderr, /SIGINT: stopped waiting for the lock/);
    holder.child.kill('SIGTERM');
    const held = await holder.exited;
    assert.equal(held.code, 0, `the command's code after its trap: ${held.stderr}`);
    assert.ok(events(log).some(([event, node, , signal]) => event === 'stop' && node === 'a' && signal === 'TERM'));
    assert.ok(!events(log).some(([, node]) => node === 'b'), 'b never ran');
    assert.equal((await readElection(db.pool, name))?.released, true);
  });

  it("the watchdog stops the command when the CLI is SIGKILLed, and by the lease's deadline when it is frozen", async (t) => {
    const { name, log } = lock();
    const killed = startCli(lockArgs(name, 'a', log), ENV);
    const pid = await waitFor(() => events(log)[0]?.[2], 10_000, 'start');
    killed.child.kill('SIGKILL');
    await waitFor(() => (events(log).some(([event, , p]) => event === 'stop' && p === pid) ? true : undefined), 2_000, 'stop of the orphaned command');
    await waitFor(() => (alive(Number(pid)) ? undefined : true), 2_000, 'exit of the orphaned command');

    const other = lock();
    const frozen = startCli(lockArgs(other.name, 'b', other.log), ENV);
    await waitFor(() => (events(other.log).length > 0 ? true : undefined), 10_000, 'start');
    await delay(2 * TICK);
    frozen.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    const stop = await waitFor(() => events(other.log).find(([event]) => event === 'stop'), AGE + 2_000, 'stop of the frozen CLI');
    const after = Number(BigInt(stop.at(-1) ?? '0') / 1_000_000n) - frozenAt;
    t.diagnostic(`the frozen CLI's command got SIGTERM ${after} ms after the freeze (age ${AGE})`);
    assert.ok(after <= AGE, `stopped ${after} ms after the freeze`);
    frozen.child.kill('SIGCONT');
    frozen.child.kill('SIGTERM');
    await frozen.exited;
  });

  it('bad input: one line, no stack trace, exit 2 for a usage error, 1 for an operational one', async () => {
    const unreachable = 'mysql://root@127.0.0.1:1/test';
    const cases: { args: string[]; code: number; message: RegExp }[] = [
      { args: ['lock', '--', 'true'], code: 2, message: /missing the election NAME/ },
      { args: ['lock', 'x'], code: 2, message: /missing the command/ },
      { args: ['lock', 'x', 'y', '--', 'true'], code: 2, message: /unexpected argument "y"/ },
      { args: ['lock', 'x', '--wait', 'soon', '--', 'true'], code: 2, message: /--wait must be a whole number of milliseconds from 0/ },
      { args: ['lock', 'x', '--wait=-1', '--', 'true'], code: 2, message: /--wait must be a whole number/ },
      { args: ['lock', 'x', '--wait', '99999999999', '--', 'true'], code: 2, message: /--wait must be .* to 2147483647/ },
      { args: ['lock', 'x', '--wait', '--', 'true'], code: 2, message: /--wait/ },
      { args: ['lock', 'x', '--bogus', '--', 'true'], code: 2, message: /Unknown option '--bogus'/ },
      { args: ['lock', 'x', '--age', '1000', '--tick', '1000', '--', 'true'], code: 2, message: /--tick \(1000 ms\).*--age/ },
      { args: ['lock', 'x', '--tick', '40', '--', 'true'], code: 2, message: /the batch window \(50 ms\) must be less than --tick \(40 ms\)/ },
      { args: ['lock', 'x', '--grace', '0', '--', 'true'], code: 2, message: /--grace must be a positive whole number/ },
      { args: ['lock', 'x', '--url', unreachable, '--', 'true'], code: 1, message: /cannot connect to .*ECONNREFUSED/ },
      { args: ['lock', 'x', '--table', 'no_such_table', '--', 'true'], code: 1, message: /`no_such_table` does not exist/ },
    ];
    for (const c of cases) {
      const result = await runCli(c.args, ENV);
      assert.equal(result.code, c.code, `${c.args.join(' ')}: ${result.stderr}`);
      assert.match(oneLine(result), c.message, c.args.join(' '));
      assert.equal(result.stdout, '', `${c.args.join(' ')} prints nothing on stdout`);
    }
  });
});
