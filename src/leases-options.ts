import { inspect } from 'node:util';
import { OptionRangeError, OptionTypeError } from './errors.js';
import type { FenceOptions } from './mysql-leader.js';
import type { Queryable } from './mysql/driver.js';
import { checkDuration, resolveOptions, type MysqlLeaderOptions, type ResolvedOptions } from './options.js';

/**
 * Options of `new Leases(db, options)`. Durations are in milliseconds. The
 * lease's own options (`age`, `tick`, `margin`, `queryTimeout`, `nodeName`,
 * `tableName`) are the engine's, the same for all its elections, which share
 * its batches; `onError`, `drainTimeout` and `logger` are defaults that
 * `leader(name, options)` may override.
 */
export interface LeasesOptions extends Omit<MysqlLeaderOptions, 'handoverLock'> {
  /**
   * Least time between two batches of one kind (reads, claims, renewals,
   * releases). Under load, requests wait up to this long and share one
   * statement; alone, a request goes at once. Bounds the statements the
   * engine sends to four kinds per window (renewals alone, once every
   * lease is held): 20 a second at the default.
   * @default 50
   */
  batchWindow?: number;
  /**
   * Most elections in one statement; the rest wait for the next window.
   * With the default window, up to 20,000 renewals a second.
   * @default 1000
   */
  maxBatch?: number;
}

/** Options of `leases.leader(name, options)`: what may differ between the elections of one engine. */
export type LeaseOptions = Pick<MysqlLeaderOptions, 'onError' | 'drainTimeout' | 'logger'>;

/** Options of `leases.withLock(name, fn, options)`. */
export interface LockOptions {
  /**
   * How long to wait for the lock, in ms, if another holder has it. `0`
   * tries once: one read, and a claim if the lock is free. A holder in this
   * process wakes the next waiter as soon as it lets go; one in another
   * process is noticed at the waiter's next read (within a `tick`).
   * @default 0
   */
  wait?: number;
  /** Stops waiting (rejecting with its reason); once the lock is held, aborts the function's signal too. */
  signal?: AbortSignal;
}

/** Options of `leases.withFencedLock(name, fn, options)`. */
export interface FencedLockOptions<D extends Queryable = Queryable> extends LockOptions, FenceOptions<D> {}

/** The engine's options after defaults, validation and freezing. */
export interface ResolvedLeasesOptions {
  /** The options of every election of the engine (`handoverLock` off). */
  readonly election: ResolvedOptions;
  /** {@inheritDoc LeasesOptions.batchWindow} */
  readonly batchWindow: number;
  /** {@inheritDoc LeasesOptions.maxBatch} */
  readonly maxBatch: number;
}

/** Placeholders per row in the widest batch statement (a take-over), under the servers' limit of 65,535 per statement. */
const MAX_BATCH = 10_000;

const ENGINE_ONLY = ['nodeName', 'age', 'tick', 'margin', 'queryTimeout', 'tableName', 'handoverLock'] as const;
const LEASE_OPTIONS: readonly string[] = ['onError', 'drainTimeout', 'logger'];

const show = (value: unknown): string => inspect(value, { breakLength: Infinity, maxStringLength: 80 });

/**
 * Merges defaults into `options`, validates them (the election options as
 * `MysqlLeader` does), and returns them frozen. Throws `TypeError`/`RangeError`
 * naming the option.
 */
export function resolveLeasesOptions(options: LeasesOptions | undefined): ResolvedLeasesOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new OptionTypeError(['options'], `options must be an object, received ${show(options)}`);
  }
  const { batchWindow: givenWindow, maxBatch: givenMax, ...rest } = options ?? {};
  if ('handoverLock' in rest) {
    throw new OptionTypeError(['options.handoverLock'], 'options.handoverLock is not an option of Leases: its elections go without the hand-over lock');
  }
  const election = resolveOptions({ ...rest, handoverLock: false });
  const batchWindow = checkDuration('options.batchWindow', givenWindow ?? 50);
  if (batchWindow >= election.tick) {
    throw new OptionRangeError(
      ['options.batchWindow', 'options.tick'],
      `options.batchWindow (${batchWindow} ms) must be less than options.tick (${election.tick} ms): a renewal waits up to a window for its batch`,
    );
  }
  const maxBatch = givenMax ?? 1000;
  if (typeof maxBatch !== 'number' || !Number.isInteger(maxBatch)) {
    throw new OptionTypeError(['options.maxBatch'], `options.maxBatch must be a whole number, received ${show(maxBatch)}`);
  }
  if (maxBatch < 1 || maxBatch > MAX_BATCH) {
    throw new OptionRangeError(['options.maxBatch'], `options.maxBatch must be between 1 and ${MAX_BATCH}, received ${show(maxBatch)}`);
  }
  return Object.freeze({ election, batchWindow, maxBatch });
}

/** The options of one election of the engine: the engine's, with those `options` overrides. */
export function resolveLeaseOptions(engine: ResolvedOptions, options: LeaseOptions | undefined): ResolvedOptions {
  if (options === undefined) return engine;
  if (typeof options !== 'object' || options === null) throw new OptionTypeError(['options'], `options must be an object, received ${show(options)}`);
  for (const key of Object.keys(options)) {
    if ((ENGINE_ONLY as readonly string[]).includes(key)) {
      throw new OptionTypeError([`options.${key}`], `options.${key} is the engine's (new Leases(db, { ${key} })), the same for all its elections`);
    }
    if (!LEASE_OPTIONS.includes(key)) throw new OptionTypeError([`options.${key}`], `options.${key} is not a known option`);
  }
  return resolveOptions({ ...asOptions(engine), ...options });
}

/** Resolved options as options again, to resolve them with a lease's own. */
function asOptions(resolved: ResolvedOptions): MysqlLeaderOptions {
  const { logger, ...rest } = resolved;
  return logger === undefined ? rest : { ...rest, logger };
}

/** The `wait` of {@link LockOptions}, validated: a whole number of ms, 0 or more. */
export function checkWait(options: LockOptions | undefined): number {
  const wait = options?.wait ?? 0;
  if (wait === 0) return 0;
  return checkDuration('options.wait', wait);
}
