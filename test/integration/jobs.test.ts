/**
 * Scheduled jobs against a real server: each slot is claimed once, ever,
 * across hand-overs; slots missed while nobody led are caught up as
 * `catchUp` says; a fenced fire commits its claim with its writes; a slot
 * due while the previous fire runs is skipped. (Crashes and skewed wall
 * clocks, with real processes: jobs-processes.test.ts.)
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { RowDataPacket } from 'mysql2/promise';
import {
  MysqlLeader,
  createMysqlLeaderFiresTable,
  forceRelease,
  createMysqlLeaderTable,
  type FireEvent,
  type MissedEvent,
  type ScheduleOptions,
} from '../../src/index.js';
import { useDatabase } from '../support/database.js';
import { electionsOn } from '../support/leaders.js';
import { dbNow, slotsAhead, untilDb } from '../support/slots.js';

const db = await useDatabase('jobs');
await createMysqlLeaderTable(db.pool);
await createMysqlLeaderFiresTable(db.pool);
await db.pool.query('CREATE TABLE app (slot VARCHAR(32) NOT NULL, term BIGINT NOT NULL, node VARCHAR(64) NOT NULL)');
const elections = electionsOn(db, { age: 2000, tick: 500 }, 4);

async function rows<T>(sql: string, values: unknown[] = []): Promise<T[]> {
  const [result] = await db.pool.query<RowDataPacket[]>(sql, values);
  return result as T[];
}

interface FireRow {
  slot: string;
  outcome: string;
  attempt: number;
  term: number;
  node_name: string;
}

/** The fire rows of a job, oldest first, slots as ISO strings. */
function fires(leaderName: string, job: string): Promise<FireRow[]> {
  return rows<FireRow>(
    "SELECT DATE_FORMAT(slot, '%Y-%m-%dT%H:%i:%s.000Z') AS slot, outcome, attempt, term, node_name FROM leader_election_fires WHERE leader_name = ? AND job_name = ? ORDER BY slot",
    [leaderName, job],
  );
}

/** Resolves when `predicate` holds, checked every 50 ms; rejects after `ms`. */
async function until(predicate: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!(await predicate())) {
    if (performance.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await delay(50);
  }
}

describe('schedule()', () => {
  it('fires each slot of a per-second job exactly once while leadership is handed over around the slots', async () => {
    const leaders = elections.group(2);
    const leaderName = leaders[0]?.leaderName as string;
    const runs = new Map<string, number>();
    for (const leader of leaders) {
      leader.schedule('every-second', '* * * * * *', ({ slot }) => void runs.set(slot.toISOString(), (runs.get(slot.toISOString()) ?? 0) + 1));
      void leader.acquire();
    }
    await until(() => leaders.some((leader) => leader.leading), 10_000, 'a leader');
    await until(() => runs.size > 0, 10_000, 'a first fire');
    // Hand over just before, at and just after slots (by the database clock).
    for (const offset of [-10, 0, 10]) {
      const now = await dbNow(db.pool);
      await untilDb(db.pool, new Date(Math.ceil(now.getTime() / 1000) * 1000 + 1000 + offset));
      const current = leaders.find((leader) => leader.leading);
      await current?.resign();
      await until(() => leaders.some((leader) => leader.leading && leader !== current), 10_000, 'the other takes over');
    }
    await delay(1200);
    await Promise.all(leaders.map((leader) => leader.close()));
    const recorded = await fires(leaderName, 'every-second');
    const slots = recorded.map((row) => row.slot);
    assert.deepEqual([...runs.keys()].sort(), slots, 'fn ran for exactly the recorded slots');
    assert.ok(
      [...runs.values()].every((n) => n === 1),
      `no slot ran twice: ${JSON.stringify([...runs].filter(([, n]) => n > 1))}`,
    );
    for (let i = 1; i < slots.length; i++) {
      assert.equal(Date.parse(slots[i] as string) - Date.parse(slots[i - 1] as string), 1000, `no slot was lost between ${slots[i - 1]} and ${slots[i]}`);
    }
    assert.ok(slots.length >= 4, `fired across the hand-overs: ${slots.length} slots`);
    assert.ok(new Set(recorded.map((row) => row.term)).size >= 4, 'by several tenures');
    assert.ok(
      recorded.every((row) => row.outcome === 'done'),
      'all done',
    );
  });

  it('catches up the slots missed while nobody led as catchUp says, bounded by catchUpMaxAge and catchUpMaxCount', async () => {
    const cases: Record<string, Omit<ScheduleOptions, 'fenced' | 'db'>> = {
      none: { catchUp: 'none' },
      latest: { catchUp: 'latest' },
      all: { catchUp: 'all' },
      'all, at most 2': { catchUp: 'all', catchUpMaxCount: 2 },
      'latest, at most 1 s old': { catchUp: 'latest', catchUpMaxAge: 1000 },
    };
    // Three slots, one a second, that pass with no leader; the job last fired before them.
    const { slots, cron } = await slotsAhead(db.pool, 3, 2);
    const [first, , last] = slots as [Date, Date, Date];
    const runs = new Map<string, string[]>();
    const missed = new Map<string, MissedEvent>();
    const leaders = Object.entries(cases).map(([label, options]) => {
      const [leader] = elections.group(1);
      assert.ok(leader);
      const seen: string[] = [];
      runs.set(label, seen);
      void db.pool.query(
        "INSERT INTO leader_election_fires (leader_name, job_name, slot, node_name, term, attempt, outcome, cron, timezone, started_at) VALUES (?, 'job', ?, 'gone', 1, 1, 'done', ?, 'UTC', ?)",
        [leader.leaderName, sqlTime(new Date(first.getTime() - 1000)), cron, sqlTime(first)],
      );
      const job = leader.schedule('job', cron, ({ slot }) => void seen.push(slot.toISOString()), { misfireThreshold: 500, ...options });
      job.on('missed', (event) => missed.set(label, event));
      return { label, leader, job };
    });
    await untilDb(db.pool, new Date(last.getTime() + 1500)); // every slot is over 1 s late now.
    for (const { leader } of leaders) void leader.acquire();
    const iso = slots.map((slot) => slot.toISOString());
    const expected: Record<string, { fired: string[]; missed: number }> = {
      none: { fired: [], missed: 3 },
      latest: { fired: [iso[2] as string], missed: 2 },
      all: { fired: iso, missed: 0 },
      'all, at most 2': { fired: iso.slice(1), missed: 1 },
      'latest, at most 1 s old': { fired: [], missed: 3 },
    };
    for (const { label, leader } of leaders) {
      const want = expected[label];
      assert.ok(want);
      await until(
        async () =>
          (runs.get(label)?.length ?? 0) >= want.fired.length &&
          (want.missed === 0 || missed.has(label)) &&
          (await fires(leader.leaderName, 'job')).length === 1 + want.fired.length,
        10_000,
        `${label}: ${JSON.stringify(want)}`,
      );
    }
    await delay(300); // nothing more comes.
    await Promise.all(leaders.map(({ leader }) => leader.close()));
    for (const { label, leader } of leaders) {
      const want = expected[label];
      assert.deepEqual(runs.get(label), want?.fired, `${label}: fired`);
      assert.equal(missed.get(label)?.count ?? 0, want?.missed, `${label}: missed`);
      assert.deepEqual(
        (await fires(leader.leaderName, 'job')).slice(1).map((row) => row.slot),
        want?.fired,
        `${label}: recorded`,
      );
    }
  });

  it('a leader whose lease was taken, while it still believes it leads, claims no slot: claims are fenced by the term', async () => {
    const leaderName = elections.name('stale');
    const stale = new MysqlLeader(db.newPool({ connectionLimit: 4 }), leaderName, { nodeName: 'stale', age: 10_000, tick: 3000 });
    const next = new MysqlLeader(db.newPool({ connectionLimit: 4 }), leaderName, { nodeName: 'next', age: 10_000, tick: 200 });
    elections.track(stale);
    elections.track(next);
    const ran: { node: string; slot: string; term: number }[] = [];
    for (const leader of [stale, next])
      leader.schedule('job', '* * * * * *', ({ slot, term }) => void ran.push({ node: leader.nodeName, slot: slot.toISOString(), term }));
    void stale.acquire();
    await once(stale, 'elected');
    await until(() => ran.length > 0, 10_000, 'a first fire');
    void next.acquire();
    // Just after a renewal, the lease is released behind the leader's back: it believes it leads until its next renewal, a tick later.
    await once(stale, 'renewed');
    await forceRelease(db.pool, leaderName);
    await once(next, 'elected');
    const overlap = stale.leading;
    await until(() => !stale.leading, 10_000, 'the stale leader notices');
    await delay(1200);
    await Promise.all([stale.close(), next.close()]);
    assert.ok(overlap, 'both believed they led for a while');
    const newTerm = (await fires(leaderName, 'job')).find((row) => row.node_name === 'next')?.term;
    assert.ok(newTerm, 'the new leader fired');
    const recorded = await fires(leaderName, 'job');
    const firstNew = recorded.findIndex((row) => row.term === newTerm);
    assert.deepEqual(
      recorded.slice(firstNew).filter((row) => row.term !== newTerm),
      [],
      'no slot claimed under the old term once the new one began',
    );
    assert.deepEqual(
      ran.filter((run) => run.node === 'stale' && run.slot >= (recorded[firstNew]?.slot ?? '')),
      [],
      'the stale leader ran nothing',
    );
  });

  it('fenced: commits the claim with fn’s writes, once; a fn that throws writes nothing and its slot is recorded failed', async () => {
    const [leader] = elections.group(1);
    assert.ok(leader);
    let fail = false;
    const events: FireEvent[] = [];
    const job = leader.schedule(
      'fenced',
      '* * * * * *',
      async ({ slot, term, connection }) => {
        await connection.query('INSERT INTO app (slot, term, node) VALUES (?, ?, ?)', [slot.toISOString(), term, 'fenced']);
        if (fail) throw new Error('boom');
      },
      { fenced: true },
    );
    job.on('fire', (event) => events.push(event));
    void leader.acquire();
    await until(() => events.length >= 2, 10_000, 'two fires');
    fail = true;
    await until(() => events.some((event) => event.outcome === 'failed'), 10_000, 'a failed fire');
    await leader.close();
    const recorded = await fires(leader.leaderName, 'fenced');
    const written = await rows<{ slot: string }>("SELECT slot FROM app WHERE node = 'fenced' ORDER BY slot");
    const done = recorded.filter((row) => row.outcome === 'done').map((row) => row.slot);
    assert.deepEqual(
      written.map((row) => row.slot),
      done,
      'an app row for each done fire, none for a failed one',
    );
    const failed = recorded.find((row) => row.outcome === 'failed');
    assert.ok(failed, 'the failed fire is recorded');
    const [error] = await rows<{ error: string }>('SELECT error FROM leader_election_fires WHERE leader_name = ? AND outcome = ?', [
      leader.leaderName,
      'failed',
    ]);
    assert.equal(error?.error, 'boom');
  });

  it('overlap queue: the slot due while a fire runs fires once it is over, one at most queued (the next ones skipped), never two at once', async () => {
    const [leader] = elections.group(1);
    assert.ok(leader);
    let running = 0;
    let most = 0;
    const ran: { slot: number; startedMs: number; endedMs: number }[] = [];
    const job = leader.schedule(
      'queued',
      '* * * * * *',
      async ({ slot }) => {
        running++;
        most = Math.max(most, running);
        const run = { slot: slot.getTime(), startedMs: performance.now(), endedMs: Infinity };
        ran.push(run);
        await delay(2500);
        run.endedMs = performance.now();
        running--;
      },
      { overlap: 'queue' },
    );
    const events: FireEvent[] = [];
    job.on('fire', (event) => events.push(event));
    void leader.acquire();
    await until(() => ran.length >= 3, 20_000, 'three fires');
    await leader.close();
    assert.equal(most, 1, 'never two fires at once');
    const [first, second, third] = ran as [(typeof ran)[0], (typeof ran)[0], (typeof ran)[0]];
    assert.equal(second.slot - first.slot, 1000, 'the slot after the first one was queued, not skipped');
    assert.ok(second.startedMs >= first.endedMs && third.startedMs >= second.endedMs, 'each queued fire started after the one before it ended');
    assert.ok(third.slot > second.slot + 1000, 'one slot at most was queued: the ones after it were skipped');
    const recorded = await fires(leader.leaderName, 'queued');
    const ranSlots = new Set(ran.map((run) => new Date(run.slot).toISOString()));
    assert.deepEqual(
      recorded.filter((row) => row.outcome !== 'skipped').map((row) => row.slot),
      [...ranSlots].sort(),
      'a row for each fire that ran',
    );
    assert.ok(
      recorded.filter((row) => row.outcome === 'skipped').every((row) => !ranSlots.has(row.slot)),
      'a skipped slot never ran',
    );
    assert.ok(recorded.some((row) => row.outcome === 'skipped'));
    const late = events.find((event) => event.slot.getTime() === second.slot && event.outcome === 'done');
    assert.ok(late && late.latenessMs > 1000, `the queued fire started late, when the first was over: ${late?.latenessMs} ms`);
  });

  it('at-least-once: a fire left running is run again below maxAttempts; one at the cap, or older than catchUpMaxAge, is recorded interrupted and never run', async () => {
    const [leader] = elections.group(1);
    assert.ok(leader);
    const now = await dbNow(db.pool);
    const second = (ms: number): Date => new Date(Math.floor((now.getTime() - ms) / 1000) * 1000);
    const [old, atCap, retried] = [second(120_000), second(4000), second(3000)];
    for (const [slot, attempt] of [
      [old, 1],
      [atCap, 2],
      [retried, 1],
    ] as const) {
      await db.pool.query(
        "INSERT INTO leader_election_fires (leader_name, job_name, slot, node_name, term, attempt, outcome, cron, timezone, started_at) VALUES (?, 'capped', ?, 'gone', 0, ?, 'running', '* * * * * *', 'UTC', ?)",
        [leader.leaderName, sqlTime(slot), attempt, sqlTime(slot)],
      );
    }
    const ran: { slot: string; attempt: number }[] = [];
    const job = leader.schedule('capped', '* * * * * *', ({ slot, attempt }) => void ran.push({ slot: slot.toISOString(), attempt }), {
      mode: 'at-least-once',
      maxAttempts: 2,
      catchUpMaxAge: 60_000,
    });
    assert.equal(job.options.maxAttempts, 2);
    void leader.acquire();
    await until(() => ran.some((run) => run.slot === retried.toISOString()), 10_000, 'the retried fire');
    await leader.close();
    assert.deepEqual(
      ran.filter((run) => run.slot <= retried.toISOString()),
      [{ slot: retried.toISOString(), attempt: 2 }],
      'only the fire below the cap ran again',
    );
    const recorded = await rows<{ slot: string; outcome: string; attempt: number; error: string | null }>(
      "SELECT DATE_FORMAT(slot, '%Y-%m-%dT%H:%i:%s.000Z') AS slot, outcome, attempt, error FROM leader_election_fires WHERE leader_name = ? AND job_name = 'capped' AND slot <= ? ORDER BY slot",
      [leader.leaderName, sqlTime(retried)],
    );
    assert.deepEqual(
      recorded.map(({ outcome, attempt }) => [outcome, attempt]),
      [
        ['interrupted', 1],
        ['interrupted', 2],
        ['done', 2],
      ],
    );
    assert.match(recorded[0]?.error ?? '', /older than catchUpMaxAge/);
    assert.match(recorded[1]?.error ?? '', /attempt 2 of maxAttempts 2/);
  });

  it('rejects a second job of the same name on the same leader, naming it, and leaves the first one firing; after stop() the name is free', async () => {
    const [leader] = elections.group(1);
    assert.ok(leader);
    const ran: string[] = [];
    const first = leader.schedule('twice', '* * * * * *', () => void ran.push('first'));
    assert.throws(
      () => leader.schedule('twice', '*/2 * * * * *', () => void ran.push('second'), { mode: 'at-least-once' }),
      (error: Error & { code?: string; options?: string[] }) =>
        error.name === 'RangeError' && error.code === 'ERR_MYSQL_LEADER_INVALID_OPTION' && error.options?.[0] === 'name' && /"twice"/.test(error.message),
    );
    void leader.acquire();
    await until(() => ran.length >= 2, 10_000, 'two fires of the first job');
    assert.deepEqual(new Set(ran), new Set(['first']), 'only the first job fires');
    assert.equal(first.options.mode, 'at-most-once', 'the first job is unchanged');
    await first.stop();
    const again = leader.schedule('twice', '* * * * * *', () => void ran.push('again'));
    await until(() => ran.includes('again'), 10_000, 'the job scheduled again fires');
    await again.stop();
    await leader.close();
  });

  it('skips (and records) the slots that come due while the previous fire still runs: never two at once', async () => {
    const [leader] = elections.group(1);
    assert.ok(leader);
    let running = 0;
    let most = 0;
    let started = 0;
    const job = leader.schedule('slow', '* * * * * *', async ({ signal }) => {
      running++;
      started++;
      most = Math.max(most, running);
      await delay(2500, undefined, { signal }).catch(() => {});
      running--;
    });
    const skipped: FireEvent[] = [];
    job.on('fire', (event) => event.outcome === 'skipped' && skipped.push(event));
    void leader.acquire();
    await once(leader, 'elected');
    await until(() => skipped.length >= 3, 10_000, 'three skipped slots');
    await leader.close();
    assert.equal(most, 1, 'never two fires at once');
    const recorded = await fires(leader.leaderName, 'slow');
    assert.ok(recorded.filter((row) => row.outcome === 'skipped').length >= 3, 'skipped slots are recorded');
    assert.equal(recorded.filter((row) => row.outcome !== 'skipped').length, started, 'a row for each fire that ran');
  });
});

function sqlTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}
