/**
 * `mysql-leader run --slots N` against a real server, as a user runs it:
 * of three replicas, two run the command at once and the third waits; when
 * one is killed with SIGKILL (its watchdog stops its command), the third
 * takes its permit; bad --slots values get one line and exit 2.
 * Timing: age 2000 ms, tick 500 ms.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { createMysqlLeaderTable } from '../../src/index.js';
import { events, oneLine, runCli, startCli, waitFor } from '../support/cli.js';
import { useDatabase } from '../support/database.js';

const AGE = 2000;
const TICK = 500;
const COMMAND = fileURLToPath(new URL('../fixtures/leader-command.sh', import.meta.url));
const db = await useDatabase('cli_slots');
await createMysqlLeaderTable(db.pool);
const ENV = { MYSQL_URL: db.url };
const logs = mkdtempSync(join(tmpdir(), 'mlt-cli-slots-'));
after(() => rmSync(logs, { recursive: true, force: true }));

/** `run --name NAME --slots SLOTS --node NODE --age AGE --tick TICK -- sh leader-command.sh LOG 0` (the command beats until stopped). */
function runArgs(name: string, slots: string, node: string, log: string): string[] {
  return ['run', '--name', name, '--slots', slots, '--node', node, '--age', String(AGE), '--tick', String(TICK), '--', 'sh', COMMAND, log, '0'];
}

/** The commands running now, by the log: started, not stopped or ended (by pid). */
function running(log: string): Set<string> {
  const live = new Set<string>();
  for (const [event, , pid] of events(log)) {
    if (event === 'start') live.add(pid as string);
    else if (event === 'stop' || event === 'end') live.delete(pid as string);
  }
  return live;
}

/** The most commands running at once in the log (each beat is proof its command ran then). */
function mostAtOnce(log: string): number {
  let most = 0;
  const live = new Set<string>();
  for (const [event, , pid] of events(log)) {
    if (event === 'start') live.add(pid as string);
    else if (event === 'stop' || event === 'end') live.delete(pid as string);
    most = Math.max(most, live.size);
  }
  return most;
}

describe('cli: run --slots', () => {
  it('two of three replicas run the command at once; a SIGKILLed one is replaced by the third; SIGTERM stops a replica and frees its permit', async (t) => {
    const name = 'cli-slots-1';
    const log = join(logs, 'slots-1.log');
    const replicas = ['a', 'b', 'c'].map((node) => startCli(runArgs(name, '2', node, log), ENV));
    await waitFor(() => (running(log).size === 2 ? true : undefined), 20_000, 'two commands running');
    await delay(AGE + TICK); // past a lease: still two, the third waits
    assert.equal(running(log).size, 2, replicas.map((r) => r.stderr()).join('\n'));
    const starts = events(log).filter(([event]) => event === 'start');
    assert.equal(starts.length, 2, 'nobody restarted, the third did not start');
    const runningNodes = new Set(starts.map(([, node]) => node));
    const waiting = replicas[['a', 'b', 'c'].findIndex((node) => !runningNodes.has(node))];
    assert.ok(waiting);
    assert.match(replicas.find((r) => r !== waiting)?.stderr() ?? '', /elected \(term \d+\): starting sh/);
    // SIGKILL one running replica: its watchdog stops its command, and the waiting one takes the permit after about age.
    const [victimNode, victimPid] = [starts[0]?.[1], starts[0]?.[2]];
    const victim = replicas[['a', 'b', 'c'].indexOf(victimNode as string)];
    const killedAt = Date.now();
    victim?.child.kill('SIGKILL');
    await waitFor(() => (running(log).has(victimPid as string) ? undefined : true), 10_000, "the killed replica's command stopped");
    const waitingNode = ['a', 'b', 'c'].find((node) => !runningNodes.has(node));
    await waitFor(() => events(log).find(([event, node]) => event === 'start' && node === waitingNode), AGE + TICK + 5_000, 'the third replica started');
    t.diagnostic(`the waiting replica started ${Date.now() - killedAt} ms after the SIGKILL of a running one (age ${AGE}, tick ${TICK})`);
    assert.ok(mostAtOnce(log) <= 2, `never more than 2 commands at once:\n${readFileSync(log, 'utf8')}`);
    // SIGTERM to the others: their commands stop, the CLIs exit with their exit code (0: stopped by the signal).
    const others = replicas.filter((r) => r !== victim);
    for (const replica of others) replica.child.kill('SIGTERM');
    const results = await Promise.all(others.map((replica) => replica.exited));
    assert.deepEqual(
      results.map((r) => r.code),
      [0, 0],
      results.map((r) => r.stderr).join('\n'),
    );
    assert.equal(running(log).size, 0);
    const [rows] = await db.pool.query<RowDataPacket[]>(
      'SELECT leader_name FROM leader_election WHERE leader_name LIKE ? AND expires_at > renewed_at AND node_name <> ?',
      [`${name}\u0000%`, victimNode],
    );
    assert.equal(rows.length, 0, 'the permits of the replicas that stopped are released');
  });

  it('bad --slots: one line, no stack trace, exit 2', async () => {
    for (const [slots, message] of [
      ['0', /--slots must be between 1 and 1000, received 0/],
      ['1001', /--slots must be between 1 and 1000, received 1001/],
      ['two', /--slots must be a whole number from 1 to 1000, received "two"/],
      ['-1', /--slots must be a whole number from 1 to 1000, received "-1"/],
      ['1.5', /--slots must be a whole number from 1 to 1000, received "1\.5"/],
    ] as const) {
      const result = await runCli(['run', '--name', 'x', `--slots=${slots}`, '--', 'true'], ENV);
      assert.equal(result.code, 2, result.stderr);
      assert.match(oneLine(result), message);
    }
  });
});
