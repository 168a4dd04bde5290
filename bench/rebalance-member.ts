/**
 * The child program of the rebalance benchmark: one member of a share
 * group, a `Leases` engine on a small pool of its own, sharing `keys`
 * numbered shards. Prints JSON lines timed by the shared monotonic clock
 * (`mono`): `ready` once `share()` was called, then `count` (`owned`,
 * `target`, `members`) whenever what it owns changes (coalesced within a
 * turn of the event loop), and every half tick.
 *
 * Config: the BENCH_SHARE environment variable, a {@link RebalanceMemberConfig} as JSON.
 */
import { createPool } from 'mysql2/promise';
import { continueOnError, Leases } from '../src/index.js';
import { sharedNow } from '../src/cli/shared-clock.js';

/** What the parent passes in BENCH_SHARE. */
export interface RebalanceMemberConfig {
  readonly url: string;
  readonly group: string;
  readonly nodeName: string;
  readonly keys: number;
  readonly age: number;
  readonly tick: number;
  readonly connectionLimit: number;
}

/** A line the child prints. */
export interface RebalanceReport {
  readonly event: 'ready' | 'count';
  readonly node: string;
  readonly mono: number;
  readonly owned?: number;
  readonly target?: number;
  readonly members?: number;
}

const config = JSON.parse(process.env['BENCH_SHARE'] ?? '{}') as RebalanceMemberConfig;
const report = (fields: Omit<RebalanceReport, 'node' | 'mono'>): void =>
  void process.stdout.write(`${JSON.stringify({ node: config.nodeName, mono: sharedNow(), ...fields })}\n`);
process.stdout.on('error', () => process.exit(1));

const pool = createPool({ uri: config.url, connectionLimit: config.connectionLimit });
const leases = new Leases(pool, { nodeName: config.nodeName, age: config.age, tick: config.tick, onError: continueOnError });
const share = leases.share(
  config.group,
  config.keys,
  ({ signal }) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
);
report({ event: 'ready' });
let queued = false;
let last = '';
const count = (force = false): void => {
  const now = `${share.owned.length} ${share.target} ${share.members.length}`;
  if (!force && now === last) return;
  last = now;
  report({ event: 'count', owned: share.owned.length, target: share.target, members: share.members.length });
};
const soon = (): void => {
  if (queued) return;
  queued = true;
  setImmediate(() => {
    queued = false;
    count();
  });
};
share.on('acquired', soon);
share.on('released', soon);
setInterval(() => count(true), config.tick / 2);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void leases
      .close()
      .then(() => pool.end())
      .finally(() => process.exit(0));
  });
}
