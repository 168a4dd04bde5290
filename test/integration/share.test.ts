/**
 * `Leases.share()` and `Leases.listCandidates()` against a real server: M
 * keys spread over the live members of a group to ±1, each key's task on
 * one member at a time under growing terms; a member that leaves, joins,
 * is killed with SIGKILL or stopped with SIGSTOP, or whose wall clock is an
 * hour off; the candidate registry; bad input. Timing: age 2000 ms, tick
 * 500 ms, on loopback.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { ClosedError, Leases, MysqlLeaderError, OptionRangeError, OptionTypeError, createMysqlLeaderTable, type Share } from '../../src/index.js';
import { ParticipantProcess } from '../../src/cli/harness/participant-process.js';
import type { Report } from '../../src/cli/harness/tenures.js';
import { useDatabase } from '../support/database.js';
import { sharedNow } from '../support/processes.js';

const AGE = 2000;
const TICK = 500;
/** The bound of the issue, after a join or a leave. */
const BOUND = AGE + 2 * TICK;
/** Slack for a busy machine (two test files at once on two cores). */
const SLACK = 3000;
const db = await useDatabase('share');
await createMysqlLeaderTable(db.pool);

let groups = 0;
const groupName = (): string => `group-${++groups}`;

/** An engine (as one process) on a pool of its own, closed after the test. */
function engine(t: { after: (fn: () => Promise<void>) => void }, nodeName: string): Leases {
  const leases = new Leases(db.newPool({ connectionLimit: 4 }), { age: AGE, tick: TICK, nodeName });
  t.after(() => leases.close());
  return leases;
}

/** One run of a key's task, on the local monotonic clock of this process. */
interface Run {
  readonly key: string;
  readonly node: string;
  readonly term: number;
  readonly start: number;
  end: number;
}

/** A member of `group` with a task that records its runs in `runs` and works `drainMs` after its signal aborts. */
function member(
  t: { after: (fn: () => Promise<void>) => void },
  nodeName: string,
  group: string,
  keys: readonly string[] | number,
  runs: Run[],
  drainMs = 100,
): Share {
  return engine(t, nodeName).share(group, keys, async ({ key, term, signal }) => {
    const run: Run = { key, node: nodeName, term, start: performance.now(), end: Infinity };
    runs.push(run);
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    await delay(drainMs); // the key must not move before this is over
    run.end = performance.now();
  });
}

/** Whether every member owns ⌊M/N⌋ or ⌈M/N⌉ keys and every key is owned. */
function isBalanced(counts: readonly number[], keys: number): boolean {
  const low = Math.floor(keys / counts.length);
  const high = Math.ceil(keys / counts.length);
  return counts.every((n) => n >= low && n <= high) && counts.reduce((a, b) => a + b, 0) === keys;
}

/** Resolves with the ms it took until `counts()` is balanced; rejects after `ms`. */
async function balancedWithin(counts: () => number[], keys: number, ms: number, what: string): Promise<number> {
  const started = performance.now();
  while (!isBalanced(counts(), keys)) {
    if (performance.now() - started > ms) throw new Error(`${what}: not balanced within ${ms} ms: ${counts().join(', ')} of ${keys}`);
    await delay(20);
  }
  return performance.now() - started;
}

/** The keys' rows of `group` that hold a live lease: key → holder and term. */
async function liveKeys(group: string): Promise<Map<string, { node: string; term: number }>> {
  const [rows] = await db.pool.query<RowDataPacket[]>(
    'SELECT leader_name, node_name, term FROM leader_election WHERE leader_name LIKE ? AND expires_at > renewed_at AND expires_at > UTC_TIMESTAMP(6)',
    [`${group}\u0000k:%`],
  );
  return new Map(rows.map((row) => [String(row['leader_name']).slice(group.length + 3), { node: String(row['node_name']), term: Number(row['term']) }]));
}

/** Throws unless each key's runs never overlapped and its terms grew from run to run. */
function assertExclusive(runs: readonly { key: string; node: string; term: number; start: number; end: number }[]): number {
  const byKey = new Map<string, (typeof runs)[number][]>();
  for (const run of runs) byKey.set(run.key, [...(byKey.get(run.key) ?? []), run]);
  let moves = 0;
  for (const [key, list] of byKey) {
    const sorted = [...list].sort((x, y) => x.start - y.start);
    for (let i = 1; i < sorted.length; i++) {
      const [before, current] = [sorted[i - 1]!, sorted[i]!];
      assert.ok(
        current.start >= before.end,
        `key ${key}: ${before.node} (term ${before.term}) ran until ${before.end.toFixed(1)}, ${current.node} (term ${current.term}) from ${current.start.toFixed(1)}`,
      );
      assert.ok(current.term > before.term, `key ${key}: term ${current.term} after ${before.term}`);
      if (current.node !== before.node) moves++;
    }
  }
  return moves;
}

describe('share', () => {
  it('spreads M keys over 1, 2 and 3 members to ±1, each key held in the database by the member that runs its task', async (t) => {
    const group = groupName();
    const runs: Run[] = [];
    const keys = 10;
    const shares = [member(t, 'a', group, keys, runs)];
    const counts = (): number[] => shares.map((share) => share.owned.length);
    await balancedWithin(counts, keys, BOUND + SLACK, 'one member');
    assert.deepEqual(shares[0]!.owned, shares[0]!.keys, 'a lone member owns every key');
    assert.deepEqual(shares[0]!.keys, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 'a count gives numbered shards');
    shares.push(member(t, 'b', group, keys, runs));
    const second = await balancedWithin(counts, keys, BOUND + SLACK, 'two members');
    shares.push(member(t, 'c', group, keys, runs));
    const third = await balancedWithin(counts, keys, BOUND + SLACK, 'three members');
    t.diagnostic(`balanced ${Math.round(second)} ms after the second member joined, ${Math.round(third)} ms after the third (bound ${BOUND} ms)`);
    assert.deepEqual(counts(), [4, 3, 3], 'the first M mod N members by node name hold ⌈M/N⌉');
    for (const share of shares) {
      assert.deepEqual(share.members, ['a', 'b', 'c']);
      assert.equal(share.target, share.owned.length);
    }
    const rows = await liveKeys(group);
    assert.equal(rows.size, keys);
    for (const share of shares) for (const key of share.owned) assert.equal(rows.get(key)?.node, share.nodeName, `key ${key} in the database`);
    const running = runs.filter((run) => run.end === Infinity);
    assert.equal(running.length, keys, 'one task running per key');
    for (const run of running) assert.equal(rows.get(run.key)?.term, run.term, `key ${run.key}: the task has the row's term`);
    assertExclusive(runs);
  });

  it('a member that leaves, and one that joins: keys move gracefully, a task never runs on two members at once, terms grow', async (t) => {
    const group = groupName();
    const runs: Run[] = [];
    const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa', 'lambda'];
    // Each task works a tick after its signal aborted: a key given up before that would overlap.
    const shares = ['a', 'b', 'c'].map((name) => member(t, name, group, keys, runs, TICK));
    const counts = (live = shares): number[] => live.map((share) => share.owned.length);
    await balancedWithin(counts, keys.length, BOUND + SLACK, 'three members');
    const [leaving] = shares.splice(1, 1) as [Share];
    const left = leaving.owned;
    const leftAt = performance.now();
    await leaving.close();
    assert.deepEqual(leaving.owned, [], 'a closed share owns nothing');
    const moved = await balancedWithin(counts, keys.length, BOUND + SLACK, 'after a leave');
    const settled = performance.now() - leftAt;
    for (const key of left)
      assert.ok(
        runs.some((run) => run.key === key && run.node !== leaving.nodeName && run.start >= leftAt),
        `key ${key} moved`,
      );
    shares.push(member(t, 'd', group, keys, runs, TICK));
    const joined = await balancedWithin(counts, keys.length, BOUND + SLACK, 'after a join');
    await delay(TICK); // no give-up left in flight
    t.diagnostic(`balanced ${Math.round(moved)} ms after a leave (close took ${Math.round(settled - moved)} ms), ${Math.round(joined)} ms after a join`);
    const moves = assertExclusive(runs);
    assert.ok(moves >= left.length + 3, `${moves} moves of a key from a member to another`);
    assert.deepEqual(counts(), [4, 4, 3], 'a, c and d: the first M mod N by node name hold ⌈M/N⌉');
  });

  it('listCandidates() lists the live members with their node names and when they were last seen; one that left drops out at once', async (t) => {
    const group = groupName();
    const runs: Run[] = [];
    const [a, b] = [member(t, 'node-a', group, 4, runs), member(t, 'node-b', group, 4, runs)] as [Share, Share];
    const watcher = engine(t, 'watcher');
    await balancedWithin(() => [a.owned.length, b.owned.length], 4, BOUND + SLACK, 'two members');
    const candidates = await watcher.listCandidates(group);
    assert.deepEqual(
      candidates.map((candidate) => candidate.nodeName),
      ['node-a', 'node-b'],
    );
    for (const candidate of candidates) {
      assert.ok(candidate.lastSeen instanceof Date && candidate.since instanceof Date);
      assert.ok(candidate.lastSeen >= candidate.since);
      assert.ok(candidate.lastSeenMsAgo >= 0 && candidate.lastSeenMsAgo < TICK + 200, `last seen ${candidate.lastSeenMsAgo} ms ago`);
      assert.ok(candidate.expiresInMs > 0 && candidate.expiresInMs <= AGE);
    }
    assert.deepEqual(await watcher.listCandidates(`${group}-other`), [], 'nobody in another group');
    await b.close();
    assert.deepEqual(
      (await watcher.listCandidates(group)).map((candidate) => candidate.nodeName),
      ['node-a'],
      'a member that closed has deregistered',
    );
  });

  it('listCandidates() of an election: the nodes of leader(name, { candidate: true }) while they campaign; without it, nobody', async (t) => {
    const name = groupName();
    const [a, b, c] = [engine(t, 'cand-a'), engine(t, 'cand-b'), engine(t, 'cand-c')];
    const first = a.leader(name, { candidate: true });
    const second = b.leader(name, { candidate: true });
    const quiet = c.leader(name); // not registered
    const elected = new Promise((resolve) => [first, second, quiet].forEach((election) => election.once('elected', resolve)));
    const campaigns = [first.acquire(), second.acquire(), quiet.acquire()];
    await elected;
    await delay(TICK);
    assert.deepEqual(
      (await c.listCandidates(name)).map((candidate) => candidate.nodeName),
      ['cand-a', 'cand-b'],
      'leader and follower alike, not the one without candidate',
    );
    assert.equal(
      [first, second, quiet].filter((election) => election.leading).length,
      1,
      'the registration is a row of its own: the election itself is unchanged',
    );
    await second.close();
    assert.deepEqual(
      (await c.listCandidates(name)).map((candidate) => candidate.nodeName),
      ['cand-a'],
      'deregistered when its campaign ended',
    );
    await Promise.all([first.close(), quiet.close()]);
    await Promise.all(campaigns);
    assert.deepEqual(await c.listCandidates(name), []);
    assert.throws(
      () => c.leader(groupName(), { candidate: 'yes' } as never),
      (error: unknown) => error instanceof OptionTypeError && error.options[0] === 'options.candidate',
    );
    assert.throws(
      () => c.leader('y'.repeat(250), { candidate: true }),
      (error: unknown) => error instanceof OptionRangeError && error.options[0] === 'name',
    );
  });

  it("reports each key's renewals, and remainingMs(key) moves on with them: the tenure's local deadline, 0 for a key not owned", async (t) => {
    const group = groupName();
    const runs: Run[] = [];
    const [a, b] = [member(t, 'a', group, 4, runs), member(t, 'b', group, 4, runs)];
    await balancedWithin(() => [a.owned.length, b.owned.length], 4, BOUND + SLACK, 'two members');
    const renewals: { key: string; term: number; latencyMs: number; left: number }[] = [];
    a.on('renewed', (event) => renewals.push({ ...event, left: a.remainingMs(event.key) }));
    await delay(3 * TICK);
    const owned = a.owned;
    assert.deepEqual([...new Set(renewals.map((r) => r.key))].sort(), [...owned].sort(), 'a renewal of each key it owns, and of no other');
    for (const { key, term, latencyMs, left } of renewals) {
      assert.equal(term, runs.find((run) => run.key === key && run.node === 'a' && run.end === Infinity)?.term, `key ${key}: the tenure's term`);
      assert.ok(latencyMs >= 0 && latencyMs < TICK, `key ${key}: latency ${latencyMs} ms`);
      // Right after a renewal, the deadline is age - margin from its asking (margin: age / 20 by default), less the latency.
      const full = AGE - AGE / 20;
      assert.ok(left <= full - latencyMs && left > full - latencyMs - SLACK / 10, `key ${key}: ${left} ms left just after a renewal (latency ${latencyMs} ms)`);
    }
    const other = b.owned[0] as string;
    assert.equal(a.remainingMs(other), 0, 'a key another member owns: 0');
    assert.ok(b.remainingMs(other) > 0, 'and its owner is sure of it for a while');
    assert.throws(
      () => a.remainingMs('no-such-key'),
      (error: unknown) => error instanceof OptionRangeError && /key/.test(error.message),
    );
  });

  it('reports a failed batch once, not once per key of it', async (t) => {
    // A pool whose statements fail while `failing` is set, as a lost server would make them fail.
    const pool = db.newPool({ connectionLimit: 4 });
    let failing = false;
    let failed = 0;
    const fail = (): Promise<never> => {
      failed++;
      return Promise.reject(Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST' }));
    };
    const handle = {
      query: (text: string, values?: unknown[]) => (failing ? fail() : pool.query(text, values)),
      getConnection: async () => {
        const connection = await pool.getConnection();
        return {
          threadId: connection.threadId,
          query: (text: string, values?: unknown[]) => (failing ? fail() : connection.query(text, values)),
          release: () => connection.release(),
          destroy: () => connection.destroy(),
        };
      },
    };
    const leases = new Leases(handle, { age: AGE, tick: TICK, nodeName: 'a' });
    t.after(() => leases.close());
    const keys = 40;
    const share = leases.share(groupName(), keys, ({ signal }) => new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })));
    await balancedWithin(() => [share.owned.length], keys, BOUND + SLACK, 'one member');
    const errors: Error[] = [];
    share.on('error', (error) => errors.push(error));
    failing = true;
    await delay(3 * TICK);
    failing = false;
    assert.ok(errors.length > 0, 'the failures were reported');
    assert.equal(new Set(errors).size, errors.length, 'each error once');
    assert.ok(errors.length <= failed, `${errors.length} errors for ${failed} failed statements (${keys} keys)`);
    await balancedWithin(() => [share.owned.length], keys, BOUND + SLACK, 'after the failures');
  });

  it('refuses bad arguments with typed errors naming them, writing nothing; a second share of a group in one engine; after close()', async (t) => {
    const leases = engine(t, 'checker');
    const task = (): void => {};
    const cases: [unknown, unknown, unknown, typeof OptionTypeError | typeof OptionRangeError, string][] = [
      [42, 3, task, OptionTypeError, 'group'],
      ['', 3, task, OptionRangeError, 'group'],
      ['g\u0000x', 3, task, OptionRangeError, 'group'],
      ['g ', 3, task, OptionRangeError, 'group'],
      ['x'.repeat(254), 3, task, OptionRangeError, 'group'],
      ['bad-1', 0, task, OptionRangeError, 'keys'],
      ['bad-2', 1.5, task, OptionTypeError, 'keys'],
      ['bad-3', 10_001, task, OptionRangeError, 'keys'],
      ['bad-4', [], task, OptionRangeError, 'keys'],
      ['bad-5', 'abc', task, OptionTypeError, 'keys'],
      ['bad-6', ['a', 7], task, OptionTypeError, 'keys[1]'],
      ['bad-7', ['a', 'b', 'a'], task, OptionRangeError, 'keys[2]'],
      ['bad-8', ['a', ''], task, OptionRangeError, 'keys[1]'],
      ['bad-9', ['a', 'b\u0000'], task, OptionRangeError, 'keys[1]'],
      ['bad-10', ['x'.repeat(250)], task, OptionRangeError, 'keys[0]'],
      ['bad-11', 3, 'task', OptionTypeError, 'task'],
    ];
    for (const [group, keys, fn, type, named] of cases) {
      assert.throws(
        () => leases.share(group as string, keys as number, fn as () => void),
        (error: unknown) => error instanceof type && error.options[0] === named && error.message.startsWith(named),
        `share(${String(group).slice(0, 20)}, ${String(keys).slice(0, 20)}) names ${named}`,
      );
    }
    assert.throws(
      () => leases.share('bad-12', 3, task, { tick: 5 } as never),
      (error: unknown) => error instanceof OptionTypeError && error.options[0] === 'options.tick',
    );
    await assert.rejects(leases.listCandidates('a\u0000b'), (error: unknown) => error instanceof OptionRangeError && error.options[0] === 'name');
    await delay(TICK);
    const [rows] = await db.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM leader_election WHERE leader_name LIKE 'bad-%' OR leader_name LIKE 'x%'");
    assert.equal(Number(rows[0]?.['n']), 0, 'nothing written');

    const group = groupName();
    const share = leases.share(group, 2, task);
    assert.throws(
      () => leases.share(group, 3, task),
      (error: unknown) => error instanceof MysqlLeaderError && error.code === 'ERR_MYSQL_LEADER_BUSY',
    );
    await share.close();
    const again = leases.share(group, 2, task); // free again once closed
    await leases.close();
    assert.deepEqual(again.owned, [], 'the engine closed its share');
    assert.throws(
      () => leases.share(groupName(), 2, task),
      (error: unknown) => error instanceof ClosedError,
    );
    await assert.rejects(leases.listCandidates(group), ClosedError);
    await again.close();
  });
});

// ---- Real processes (test/fixtures/share-member.ts) ----

const MEMBER = fileURLToPath(new URL('../fixtures/share-member.ts', import.meta.url));
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const members: ParticipantProcess[] = [];
after(async () => {
  await Promise.all(members.map((process) => process.kill('SIGKILL')));
});

/** Starts member processes of `group` and waits until each is ready; `skews` for their wall clocks (libfaketime). */
async function startMembers(group: string, keys: number, names: string[], skews: (string | undefined)[] = []): Promise<ParticipantProcess[]> {
  const started = names.map((nodeName, i) => {
    const skew = skews[i];
    const env = skew ? { LD_PRELOAD: LIBFAKETIME, FAKETIME: skew, FAKETIME_DONT_FAKE_MONOTONIC: '1' } : {};
    const process = new ParticipantProcess({ url: db.url, leaderName: group, nodeName, age: AGE, tick: TICK, keys } as never, env, () => {}, MEMBER);
    process.start();
    members.push(process);
    return process;
  });
  await Promise.all(started.map((process) => process.waitFor((r) => r.event === 'ready', 20_000, 'ready')));
  return started;
}

/** What a process last reported it owns (0 before its first count). */
function ownedBy(process: ParticipantProcess): number {
  return Number(process.reports.findLast((r) => r.event === 'count')?.['owned'] ?? 0);
}

/** A key's task as its member believed it ran: from `start` to the earlier of `end` and its last deadline, on the shared clock. */
interface Belief {
  readonly key: string;
  readonly node: string;
  readonly term: number;
  readonly start: number;
  end: number;
}

/** Every belief of every process, a run killed while believing ending at its last deadline. */
function beliefsOf(processes: readonly ParticipantProcess[], now = sharedNow()): Belief[] {
  const beliefs: Belief[] = [];
  for (const process of processes) {
    let open = new Map<string, Belief>();
    const reports = process.reports as (Report & { key?: string })[];
    for (const report of reports) {
      if (report.event === 'ready') {
        beliefs.push(...open.values()); // killed while holding: ended at their deadlines
        open = new Map();
      }
      const key = report.key;
      if (key === undefined) continue;
      if (report.event === 'start' && report.term !== undefined) {
        const belief: Belief = { key, node: report.node, term: report.term, start: report.mono, end: report.until ?? report.mono };
        open.set(key, belief);
      } else if (report.event === 'renewed' && report.until !== undefined) {
        const belief = open.get(key);
        if (belief) belief.end = report.until;
      } else if (report.event === 'end') {
        const belief = open.get(key);
        if (belief) beliefs.push({ ...belief, end: Math.min(belief.end, report.mono) });
        open.delete(key);
      }
    }
    for (const belief of open.values()) beliefs.push({ ...belief, end: Math.min(belief.end, now) });
  }
  return beliefs;
}

async function closeAll(processes: readonly ParticipantProcess[]): Promise<void> {
  for (const process of processes) if (process.running) process.send('close');
  await Promise.all(processes.map((process) => process.exited));
}

describe('share across processes', () => {
  it('SIGKILL of a member: its keys move once their leases ran out, balanced within age + 2 × tick; it leaves the candidates', async (t) => {
    const group = groupName();
    const keys = 30;
    const processes = await startMembers(group, keys, ['p1', 'p2', 'p3', 'p4']);
    const watcher = engine(t, 'watcher');
    await balancedWithin(() => processes.map(ownedBy), keys, BOUND + SLACK + 5000, 'four processes');
    const [victim, ...rest] = processes as [ParticipantProcess, ...ParticipantProcess[]];
    const killedAt = performance.now();
    await victim.kill('SIGKILL');
    const candidatesAfterKill = await watcher.listCandidates(group);
    assert.ok(
      candidatesAfterKill.some((candidate) => candidate.nodeName === 'p1'),
      'a killed member is listed until its registration runs out',
    );
    const balanced = await balancedWithin(() => rest.map(ownedBy), keys, BOUND + SLACK, 'after the SIGKILL');
    const measured = performance.now() - killedAt;
    t.diagnostic(`balanced again ${Math.round(measured)} ms after the SIGKILL of a member (bound age + 2 × tick = ${BOUND} ms)`);
    assert.ok(balanced >= 0);
    assert.ok(measured >= AGE - TICK - 200, 'no key moved before its lease ran out');
    // Its registration's lease runs out by itself, up to a tick apart from its keys' (each renews on its own phase).
    let listed = (await watcher.listCandidates(group)).map((candidate) => candidate.nodeName);
    while (listed.includes('p1') && performance.now() - killedAt < AGE + TICK + SLACK) {
      await delay(50);
      listed = (await watcher.listCandidates(group)).map((candidate) => candidate.nodeName);
    }
    t.diagnostic(`the killed member left the candidates ${Math.round(performance.now() - killedAt)} ms after the SIGKILL`);
    assert.deepEqual(listed, ['p2', 'p3', 'p4'], 'the killed member drops out once its registration ran out');
    await closeAll(rest);
    assertExclusive(beliefsOf(processes));
  });

  it('SIGSTOP of a member: others take its keys, its tasks see their signals abort when it thaws, and it rejoins and gets its share back', async (t) => {
    const group = groupName();
    const keys = 12;
    const processes = await startMembers(group, keys, ['s1', 's2', 's3']);
    await balancedWithin(() => processes.map(ownedBy), keys, BOUND + SLACK + 5000, 'three processes');
    const [frozen, ...rest] = processes as [ParticipantProcess, ...ParticipantProcess[]];
    const held = ownedBy(frozen);
    assert.equal(held, 4);
    const stoppedAt = sharedNow();
    await frozen.kill('SIGSTOP');
    await balancedWithin(() => rest.map(ownedBy), keys, BOUND + SLACK, 'while one is stopped');
    await frozen.kill('SIGCONT');
    const thawedAt = sharedNow();
    const endedAfterThaw = (): Report[] => frozen.reports.filter((r) => r.event === 'end' && r.mono > thawedAt);
    await frozen.waitFor(() => endedAfterThaw().length >= held, 5_000, 'its tasks ended after the thaw');
    const ended = endedAfterThaw();
    for (const report of ended)
      assert.ok(['expired', 'lost'].includes(String(report['reason'])), `ended by the local deadline or a failed renewal: ${String(report['reason'])}`);
    const rejoined = await balancedWithin(() => processes.map(ownedBy), keys, BOUND + SLACK, 'after the thaw');
    t.diagnostic(`stopped ${Math.round(thawedAt - stoppedAt)} ms; balanced over three again ${Math.round(rejoined)} ms after the thaw`);
    await closeAll(processes);
    assertExclusive(beliefsOf(processes));
  });

  it('members whose wall clocks are an hour ahead and behind: balanced, and each key has one believed owner at a time', async (t) => {
    const group = groupName();
    const keys = 20;
    const processes = await startMembers(group, keys, ['w1', 'w2', 'w3'], ['+1h', '-1h']);
    await balancedWithin(() => processes.map(ownedBy), keys, BOUND + SLACK + 5000, 'three processes, two skewed');
    await delay(TICK); // the last give-ups of the start
    const steadyFrom = sharedNow();
    const [ahead, behind] = processes as [ParticipantProcess, ParticipantProcess, ParticipantProcess];
    assert.ok(Math.abs(Number(ahead.reports[0]?.['wall']) - Date.now() - 3_600_000) < 60_000, 'the first one is an hour ahead');
    assert.ok(Math.abs(Number(behind.reports[0]?.['wall']) - Date.now() + 3_600_000) < 60_000, 'the second one an hour behind');
    await delay(2 * AGE); // steady: no key moves, nobody's lease runs out
    const beliefs = beliefsOf(processes);
    assert.ok(isBalanced(processes.map(ownedBy), keys));
    const lost = processes.flatMap((process) => process.reports.filter((r) => r.event === 'end' && r.mono > steadyFrom));
    assert.deepEqual(lost, [], 'no tenure ended while the group was steady');
    const moves = assertExclusive(beliefsOf(processes));
    // The skewed one leaves: the others take its keys.
    ahead.send('close');
    await ahead.exited;
    await balancedWithin(() => processes.slice(1).map(ownedBy), keys, BOUND + SLACK, 'after the skewed member left');
    await closeAll(processes);
    t.diagnostic(`${beliefs.length} tenures, ${moves} moves before the leave`);
    assertExclusive(beliefsOf(processes));
  });
});
