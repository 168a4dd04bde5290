import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { OptionRangeError, OptionTypeError } from './errors.js';
import { abortOnError, type OnError } from './on-error.js';

/** Options of `new MysqlLeader(db, leaderName, options)`. Durations are in milliseconds. */
export interface MysqlLeaderOptions {
  /**
   * This participant's name, stored in the election row while it leads. Must
   * be unique among the participants of an election.
   * @default randomUUID()
   */
  nodeName?: string;
  /**
   * Lifespan of a lease: how long a leader that stops renewing (crash,
   * partition) keeps the others out. Fail-over after a crash takes about this long.
   * @default 60_000
   */
  age?: number;
  /**
   * How often the leader renews its lease and followers look at the row
   * (just after each renewal is due; the first renewal of a tenure comes up
   * to 20 % early). Must satisfy `tick + margin < age`.
   * @default Math.floor(age / 4) (15_000 with the default age)
   */
  tick?: number;
  /**
   * How much earlier than the database's `expires_at` the leader stops
   * believing it leads, measured on its monotonic clock from the moment the
   * successful statement was sent. It absorbs a database clock that runs
   * faster than this host's (500 ppm at worst under NTP, 30 ms per minute)
   * or steps forward. The default, 5 % of `age`, is 100 times that drift and
   * leaves 3 s at the default `age` for a stepped database clock.
   * @default Math.ceil(age / 20)
   */
  margin?: number;
  /**
   * Time limit of each statement, including the wait for a pooled
   * connection. A renewal's limit is further capped by what remains of the
   * lease. A statement that times out is treated as failed, its connection
   * destroyed.
   * @default tick
   */
  queryTimeout?: number;
  /**
   * The election table: an identifier (`[A-Za-z_][A-Za-z0-9_$]*`, up to 64
   * characters) or `schema.table`. Always quoted in SQL.
   * @default 'leader_election'
   */
  tableName?: string;
  /**
   * What to do with a database error met while campaigning.
   * @default abortOnError
   */
  onError?: OnError;
  /**
   * Hand over in milliseconds: the leader holds a named lock (`GET_LOCK`)
   * that followers wait on, so a release (`close()`, `resign()`) wakes one of
   * them at once instead of at its next tick. The row alone still decides
   * who leads. Costs one connection of `db`'s pool per participant, for as
   * long as it campaigns (so `db` must be a pool); without a pool, or where
   * the server refuses `GET_LOCK` (Percona XtraDB Cluster), followers just
   * poll; on MariaDB Galera it wakes only followers on the leader's node. Turn it off
   * behind proxies that multiplex connections, or to save connections when
   * one process runs many elections.
   * @default true
   */
  handoverLock?: boolean;
  /**
   * When a tenure ends by `close()` or `resign()` (or a lease of ours is
   * freed after a renewal in doubt), how long to wait for its work
   * (`runWhileLeader` tasks, `withLeadership` transactions) to settle before
   * releasing the lease, so that the next leader never starts while this one
   * still writes. Work that ignores its signal for longer is left running
   * and a warning is logged.
   * @default Math.min(age, 10_000)
   */
  drainTimeout?: number;
  /**
   * A pino-compatible logger (`info`, `warn`, `error`, each taking
   * `(fields, message)`) for elections, step-downs and errors.
   * @default silent
   */
  logger?: Logger;
}

/** The logger interface of pino, bunyan and friends: structured fields first, then the message. */
export interface Logger {
  /** Elections, and step-downs this node chose (`resign()`, `close()`, an abort). */
  info(fields: object, message: string): void;
  /** Step-downs it did not choose, and leader-only work that outlived `drainTimeout`. */
  warn(fields: object, message: string): void;
  /** Database errors. */
  error(fields: object, message: string): void;
}

/** Options after defaults, validation and freezing. */
export interface ResolvedOptions {
  /** {@inheritDoc MysqlLeaderOptions.nodeName} */
  readonly nodeName: string;
  /** {@inheritDoc MysqlLeaderOptions.age} */
  readonly age: number;
  /** {@inheritDoc MysqlLeaderOptions.tick} */
  readonly tick: number;
  /** {@inheritDoc MysqlLeaderOptions.margin} */
  readonly margin: number;
  /** {@inheritDoc MysqlLeaderOptions.queryTimeout} */
  readonly queryTimeout: number;
  /** {@inheritDoc MysqlLeaderOptions.tableName} */
  readonly tableName: string;
  /** {@inheritDoc MysqlLeaderOptions.onError} */
  readonly onError: OnError;
  /** {@inheritDoc MysqlLeaderOptions.handoverLock} */
  readonly handoverLock: boolean;
  /** {@inheritDoc MysqlLeaderOptions.drainTimeout} */
  readonly drainTimeout: number;
  /** {@inheritDoc MysqlLeaderOptions.logger} */
  readonly logger: Logger | undefined;
}

/** The default table name, shared with the Go package this library ports. */
export const DEFAULT_TABLE_NAME = 'leader_election';

/** Largest delay `setTimeout` honours (about 24.8 days). */
const MAX_DURATION = 2 ** 31 - 1;
/** `VARCHAR(255)` counts characters (code points), not UTF-16 units. */
const MAX_NAME_LENGTH = 255;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,63}$/;

const show = (value: unknown): string => inspect(value, { breakLength: Infinity, maxStringLength: 80 });

/** Throws unless `value` is a whole number of milliseconds in `[1, 2^31 - 1]`. */
export function checkDuration(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new OptionTypeError([option], `${option} must be a whole number of milliseconds, received ${show(value)}`);
  }
  if (value < 1 || value > MAX_DURATION) {
    throw new OptionRangeError([option], `${option} must be between 1 and ${MAX_DURATION} ms, received ${show(value)}`);
  }
  return value;
}

/** Throws unless `value` is a non-empty string of at most 255 characters. */
export function checkName(option: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new OptionTypeError([option], `${option} must be a string, received ${show(value)}`);
  }
  const length = [...value].length;
  if (length === 0 || length > MAX_NAME_LENGTH) {
    throw new OptionRangeError([option], `${option} must be 1 to ${MAX_NAME_LENGTH} characters long, received ${length} characters: ${show(value)}`);
  }
  // The table's PAD SPACE collation would make 'jobs' and 'jobs ' one row.
  if (/\s$/u.test(value)) throw new OptionRangeError([option], `${option} must not end with white space, received ${show(value)}`);
  // Reserved: it separates a semaphore's name from its slot numbers in the rows of its permits (semaphore.ts).
  if (value.includes('\u0000'))
    throw new OptionRangeError([option], `${option} must not contain U+0000 (it names the permits of semaphores), received ${show(value)}`);
  return value;
}

/** Throws unless `value` is `table` or `schema.table`, each a plain identifier. */
export function checkTableName(value: unknown, option = 'options.tableName'): string {
  if (typeof value !== 'string') {
    throw new OptionTypeError([option], `${option} must be a string, received ${show(value)}`);
  }
  const parts = value.split('.');
  if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part))) {
    throw new OptionTypeError(
      [option],
      `${option} must be an identifier ([A-Za-z_][A-Za-z0-9_$]*, at most 64 characters) or schema.table, received ${show(value)}`,
    );
  }
  return value;
}

/** The name of one of the {@link MysqlLeaderOptions}. */
export type OptionName = keyof MysqlLeaderOptions;

/**
 * The name of every option, in the order of {@link MysqlLeaderOptions}: the
 * keys of a `Record`, so that an option added to the interface fails to
 * compile until it is listed here too.
 */
const OPTION_NAMES: readonly OptionName[] = Object.freeze(
  Object.keys({
    nodeName: true,
    age: true,
    tick: true,
    margin: true,
    queryTimeout: true,
    tableName: true,
    onError: true,
    handoverLock: true,
    drainTimeout: true,
    logger: true,
  } satisfies Record<OptionName, true>) as OptionName[],
);

const LOG_LEVELS = ['info', 'warn', 'error'] as const;

/**
 * Merges defaults into `options`, validates every field and the relations
 * between them, and returns a frozen result. Throws `TypeError`/`RangeError`
 * naming the option and the value received.
 */
export function resolveOptions(options: MysqlLeaderOptions | undefined): ResolvedOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new OptionTypeError(['options'], `options must be an object, received ${show(options)}`);
  }
  const given: MysqlLeaderOptions = options ?? {};
  for (const key of Object.keys(given)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) throw new OptionTypeError([`options.${key}`], `options.${key} is not a known option`);
  }
  const age = checkDuration('options.age', given.age ?? 60_000);
  const tick = checkDuration('options.tick', given.tick ?? Math.floor(age / 4));
  const margin = checkDuration('options.margin', given.margin ?? Math.ceil(age / 20));
  const queryTimeout = checkDuration('options.queryTimeout', given.queryTimeout ?? tick);
  if (tick + margin >= age) {
    throw new OptionRangeError(
      ['options.tick', 'options.margin', 'options.age'],
      `options.tick (${tick} ms) plus options.margin (${margin} ms) must be less than options.age (${age} ms), so that a renewal is due before the lease ends`,
    );
  }
  const onError = given.onError ?? abortOnError;
  if (typeof onError !== 'function') {
    throw new OptionTypeError(['options.onError'], `options.onError must be a function, received ${show(onError)}`);
  }
  const handoverLock = given.handoverLock ?? true;
  if (typeof handoverLock !== 'boolean') {
    throw new OptionTypeError(['options.handoverLock'], `options.handoverLock must be a boolean, received ${show(handoverLock)}`);
  }
  const logger = given.logger;
  if (logger !== undefined && (typeof logger !== 'object' || logger === null || !LOG_LEVELS.every((level) => typeof logger[level] === 'function'))) {
    throw new OptionTypeError(['options.logger'], `options.logger must have info, warn and error methods, received ${show(logger)}`);
  }
  return Object.freeze({
    nodeName: checkName('options.nodeName', given.nodeName ?? randomUUID()),
    age,
    tick,
    margin,
    queryTimeout,
    tableName: checkTableName(given.tableName ?? DEFAULT_TABLE_NAME),
    onError,
    handoverLock,
    drainTimeout: checkDuration('options.drainTimeout', given.drainTimeout ?? Math.min(age, 10_000)),
    logger,
  });
}
