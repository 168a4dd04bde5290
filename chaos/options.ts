/**
 * The command line of `npm run chaos`: flags, defaults, the `--soak` preset,
 * and checks that name the flag and the value received.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { ChaosOptions } from './harness.js';
import { balanceBound } from './key-checker.js';
import { DEFAULT_KEY_COUNT } from './keys.js';
import { CLUSTER_MODES, NODE_FAULT_KINDS, REPLICATED_FAULT_KINDS, SINGLE_FAULT_KINDS, kindsOf, type FaultKind } from './records.js';

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

/** The parsed command line: what a run does (durations in ms), and where its results go. */
export interface ChaosArgs extends Omit<ChaosOptions, 'signal' | 'write'> {
  /** Where `timeline.svg`, `summary.json` and `run-log.json` go; nothing is written without it. */
  readonly out: string | undefined;
  /** A folder of an earlier run: check its `run-log.json` again instead of running. */
  readonly replay: string | undefined;
}

export const USAGE = `npm run chaos -- [options]

Starts a private MariaDB (or a private 3-node Galera cluster, or a primary
with an asynchronous replica behind a name that moves) and N participant
processes, each behind its own TCP fault proxy; injects seeded random faults
(one or several at a time), then checks safety (one leader at a time, growing terms, fenced writes only from
the live term, no write lost or doubled) and liveness (a leader again within
age + tick of each fault's heal, plus on Galera the cluster's reconfiguration
measured on each node fault, after a failover 2 x age + tick, no fenced call or resign() pending past its
bound, and after heals a resign() hand-over as fast as on a healthy server).
Exits 1 on any violation.

  --cluster MODE       single (default): one private MariaDB; galera: a private
                       3-node Galera cluster, participant k on node ((k-1) mod 3) + 1,
                       with the node faults instead of db-crash; replicated: a
                       primary with a GTID replica behind a proxy that moves, with
                       failover instead of db-crash
  --duration TIME      the whole run, e.g. 60s, 10m (default 60s; the last
                       age + tick + 2 s inject nothing, to see the last recoveries)
  --participants N     2 to 9 (default 5)
  --seed N             the random choices (default: a random seed, printed)
  --faults LIST        some of ${SINGLE_FAULT_KINDS.join(',')}
                       (with --cluster galera: db-crash replaced by ${NODE_FAULT_KINDS.join(',')};
                       with --cluster replicated: by ${REPLICATED_FAULT_KINDS.join(',')})
                       (default: all of the mode)
  --age MS             lease length (default 2000)
  --tick MS            election interval (default 500)
  --interval MS        mean time between two fault starts (default 3000)
  --concurrency N      most faults in force at once (default 2)
  --write-every MS     pause between a participant's fenced writes (default 100)
  --jobs               the jobs workload: each participant also schedules three
                       jobs due every second (fenced, at-most-once, at-least-once),
                       and the checker proves no slot ran twice and every slot due
                       in a healthy tenure ran (one server only; defaults
                       --participants 3 --interval 5000)
  --keys               the keys workload: each participant also shares the same
                       keys (Leases share()), and the checker proves no key ever
                       had two believed owners, each key's terms only grow, every
                       key is owned and the members hold floor(M/N) or ceil(M/N)
                       within 2 x age + 2 x tick + 2 s of the last heal, and no
                       task ran on past its signal's abort (one server only;
                       defaults --participants 4 --interval 4000, and the last
                       2 x age + 2 x tick + 4 s inject nothing)
  --key-count M        with --keys: how many keys (default ${DEFAULT_KEY_COUNT})
  --out DIR            write timeline.svg, summary.json and run-log.json there
  --soak               the long run: --duration 10m --interval 1500 --concurrency 3
                       (flags given as well still win)
  --replay DIR         check DIR/run-log.json of an earlier run again, and draw it
                       (into --out, default DIR); nothing is started
  --help`;

/**
 * The time left at the end of a run without new faults, so that the
 * recovery from the last ones can be seen: a lease, a tick, and a margin
 * for a restarted process or server. A keys run leaves the balance bound
 * (chaos/key-checker.ts) and 2 s more, to see the keys balanced and staying so.
 */
export const settleTime = (age: number, tick: number, keys = false): number => (keys ? balanceBound(age, tick) + 2_000 : age + tick + 2_000);

const FLAGS = {
  cluster: { type: 'string' },
  duration: { type: 'string' },
  participants: { type: 'string' },
  seed: { type: 'string' },
  faults: { type: 'string' },
  age: { type: 'string' },
  tick: { type: 'string' },
  interval: { type: 'string' },
  concurrency: { type: 'string' },
  'write-every': { type: 'string' },
  out: { type: 'string' },
  replay: { type: 'string' },
  soak: { type: 'boolean' },
  jobs: { type: 'boolean' },
  keys: { type: 'boolean' },
  'key-count': { type: 'string' },
  help: { type: 'boolean' },
} as const;

const DEFAULTS = { cluster: 'single', duration: '60s', participants: '5', age: '2000', tick: '500', interval: '3000', concurrency: '2', 'write-every': '100' };
const SOAK = { duration: '10m', interval: '1500', concurrency: '3' };
/**
 * The jobs workload: three replicas (the issue's setting), and faults further
 * apart, so that healthy tenures (which owe their slots) come between them.
 */
const JOBS = { participants: '3', interval: '5000' };
/**
 * The keys workload: four members (64 keys: 16 each, 21 or 22 while one is
 * down), and faults apart enough that the keys can settle between them.
 */
const KEYS = { participants: '4', interval: '4000' };

/** Parses `argv` (without node and the script); throws {@link UsageError}. */
export function parseChaosArgs(argv: readonly string[]): ChaosArgs | 'help' {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], strict: true, options: FLAGS }));
  } catch (error) {
    throw new UsageError((error as Error).message); // an unknown flag, a missing value
  }
  if (values.help) return 'help';
  const jobs = values.jobs ?? false;
  const keyed = values.keys ?? false;
  if (jobs && keyed) throw new UsageError('--jobs and --keys are two workloads: choose one');
  if (!keyed && values['key-count'] !== undefined) throw new UsageError('--key-count needs --keys');
  const given: Record<string, string | undefined> = {
    ...DEFAULTS,
    ...(jobs ? JOBS : {}),
    ...(keyed ? KEYS : {}),
    ...(values.soak ? SOAK : {}),
    ...values,
    soak: undefined,
    jobs: undefined,
    keys: undefined,
    help: undefined,
  };
  const flag = (name: string): string => given[name] ?? '';

  const age = whole('age', flag('age'), 10);
  const tick = whole('tick', flag('tick'), 1);
  if (tick + Math.ceil(age / 20) >= age) throw new UsageError(`--tick (${tick}) plus the margin (age / 20) must be less than --age (${age})`);
  const participants = whole('participants', flag('participants'), 2, 9);
  const concurrency = whole('concurrency', flag('concurrency'), 1, participants - 1);
  const cluster = CLUSTER_MODES.find((mode) => mode === flag('cluster'));
  if (cluster === undefined) throw new UsageError(`--cluster must be single, galera or replicated, received "${flag('cluster')}"`);
  if (jobs && cluster !== 'single') throw new UsageError(`--jobs runs on one server only, received --cluster ${cluster}`);
  if (keyed && cluster !== 'single') throw new UsageError(`--keys runs on one server only, received --cluster ${cluster}`);
  const keys = keyed ? whole('key-count', given['key-count'] ?? String(DEFAULT_KEY_COUNT), 1, 10_000) : 0;
  const available = kindsOf(cluster);
  const kinds = flag('faults')
    ? flag('faults')
        .split(',')
        .map((kind) => kind.trim())
    : [...available];
  for (const kind of kinds) {
    if (!(available as readonly string[]).includes(kind)) {
      throw new UsageError(`--faults: "${kind}" is not a fault kind of --cluster ${cluster}; its kinds are ${available.join(', ')}`);
    }
  }
  const length = duration(flag('duration'));
  const settle = settleTime(age, tick, keys > 0);
  if (length < settle + 5_000) throw new UsageError(`--duration must leave at least 5 s of faults before the last ${settle} ms; received ${length} ms`);
  return {
    cluster,
    duration: length,
    participants,
    seed: given['seed'] === undefined ? randomInt(2 ** 31) : whole('seed', flag('seed'), 0),
    kinds: [...new Set(kinds)] as FaultKind[],
    age,
    tick,
    interval: whole('interval', flag('interval'), 100),
    concurrency,
    writeEvery: whole('write-every', flag('write-every'), 1),
    jobs,
    keys,
    out: given['out'] ?? given['replay'],
    replay: given['replay'],
  };
}

/** A whole number from a flag, within `[min, max]`. */
function whole(name: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, received "${raw}"`);
  }
  return value;
}

/** `90s`, `10m`, `1500ms`, `1h` → ms. */
function duration(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(raw);
  if (!match) throw new UsageError(`--duration must be a number with a unit (ms, s, m, h), e.g. 60s or 10m; received "${raw}"`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * unit);
}
