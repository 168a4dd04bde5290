/**
 * Shared ownership of keys (`Leases.share()`): M = 1,000 numbered shards
 * over N = 5 member processes, each a `Leases` engine on a small pool of
 * its own (rebalance-member.ts, compiled to plain JavaScript first). Times
 * how long the group takes to be balanced again, every live member holding
 * ⌊M/N⌋ or ⌈M/N⌉ keys and every key owned:
 * - after a 6th member joins (from its `share()` call);
 * - after a member is killed with SIGKILL (from the kill).
 * Rounds alternate: join, kill, join, kill… The bound of the issue is
 * `age` + 2 × `tick`. `age` 5000 ms and `tick` 1000 ms, as the other rows
 * of the lease engine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sharedNow } from '../src/cli/shared-clock.js';
import { compileChild } from './many-elections.js';
import type { RebalanceMemberConfig, RebalanceReport } from './rebalance-member.js';
import { electionName, type BenchContext, type ScenarioResult } from './scenario.js';
import { summarize } from './stats.js';

const SOURCE = join(fileURLToPath(new URL('.', import.meta.url)), 'rebalance-member.ts');
const KEYS = 1000;
const MEMBERS = 5;
const AGE = 5000;
const TICK = 1000;
const CONNECTIONS = 4;

interface Member {
  readonly name: string;
  readonly child: ChildProcess;
  latest: RebalanceReport | undefined;
  ready: number | undefined;
  alive: boolean;
}

/** Measures the rebalancing after a join and after a SIGKILL. */
export async function rebalance(context: BenchContext): Promise<ScenarioResult> {
  const program = compileChild(SOURCE);
  const group = electionName('rebalance');
  const rounds = context.quick ? 1 : 5;
  const members: Member[] = [];
  const waiters = new Set<() => void>();
  let spawned = 0;

  const start = (): Member => {
    const name = `m${++spawned}`;
    const config: RebalanceMemberConfig = { url: context.url, group, nodeName: name, keys: KEYS, age: AGE, tick: TICK, connectionLimit: CONNECTIONS };
    const child = spawn(process.execPath, [program], { env: { ...process.env, BENCH_SHARE: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] });
    const member: Member = { name, child, latest: undefined, ready: undefined, alive: true };
    const forget = context.onExit(() => child.kill('SIGKILL'));
    child.once('exit', () => {
      member.alive = false;
      forget();
      for (const waiter of waiters) waiter();
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const report = JSON.parse(line) as RebalanceReport;
      if (report.event === 'ready') member.ready = report.mono;
      else member.latest = report;
      for (const waiter of waiters) waiter();
    });
    members.push(member);
    return member;
  };

  /** Resolves with the time (shared clock) at which the live members were first balanced, all keys owned. */
  const balanced = (timeoutMs: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const live = members.filter((member) => member.alive);
        if (live.some((member) => member.latest === undefined)) return;
        const low = Math.floor(KEYS / live.length);
        const high = Math.ceil(KEYS / live.length);
        const owned = live.map((member) => member.latest?.owned ?? 0);
        if (owned.every((n) => n >= low && n <= high) && owned.reduce((a, b) => a + b, 0) === KEYS) {
          done();
          resolve(Math.max(...live.map((member) => member.latest?.mono ?? 0)));
        }
      };
      const timer = setTimeout(() => {
        done();
        const live = members.filter((member) => member.alive);
        reject(new Error(`not balanced within ${timeoutMs} ms: ${live.map((member) => `${member.name} ${member.latest?.owned}`).join(', ')}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const joins: number[] = [];
  const kills: number[] = [];
  try {
    for (let i = 0; i < MEMBERS; i++) start();
    const startedAt = sharedNow();
    const first = await balanced(60_000);
    context.log(`  ${MEMBERS} members balanced ${Math.round(first - startedAt)} ms after they were started`);
    for (let round = 0; round < rounds; round++) {
      const joiner = start();
      const joined = await balanced(60_000);
      joins.push(joined - (joiner.ready as number));
      context.log(`  join of ${joiner.name}: balanced after ${Math.round(joined - (joiner.ready as number))} ms`);
      const victim = members.find((member) => member.alive) as Member; // the oldest live member
      const killedAt = sharedNow();
      victim.child.kill('SIGKILL');
      await new Promise<void>((resolve) => (victim.alive ? victim.child.once('exit', () => resolve()) : resolve()));
      const rebalanced = await balanced(60_000);
      kills.push(rebalanced - killedAt);
      context.log(`  SIGKILL of ${victim.name}: balanced after ${Math.round(rebalanced - killedAt)} ms`);
    }
  } finally {
    for (const member of members) member.child.kill('SIGKILL');
  }
  const bound = AGE + 2 * TICK;
  const join = summarize(joins);
  const kill = summarize(kills);
  return {
    name: 'rebalance',
    settings: { keys: KEYS, members: MEMBERS, age: AGE, tick: TICK, connectionLimit: CONNECTIONS, rounds },
    measures: [
      {
        label: `share: ${KEYS} keys over ${MEMBERS} + 1, a member joins → balanced (±1)`,
        unit: 'ms',
        value: join,
        target: `max ≤ ${bound} ms`,
        met: join.max <= bound,
      },
      {
        label: `share: ${KEYS} keys over ${MEMBERS + 1}, a member SIGKILLed → balanced (±1)`,
        unit: 'ms',
        value: kill,
        target: `max ≤ ${bound} ms`,
        met: kill.max <= bound,
      },
    ],
    notes: [
      `${MEMBERS} member processes (compiled JavaScript), each a Leases engine on a pool of ${CONNECTIONS} connections, age ${AGE} ms, tick ${TICK} ms, share(group, ${KEYS}, task) whose task waits for its signal; balanced: every live member holds ⌊M/N⌋ or ⌈M/N⌉ keys and every key is owned, by the members' own reports. Join: from the joiner's share() call; SIGKILL: from the kill of the oldest live member. ${rounds} rounds, alternating.`,
    ],
  };
}
