import { inspect } from 'node:util';
import { OptionRangeError, OptionTypeError } from './errors.js';
import type { Queryable } from './mysql/driver.js';
import { DEFAULT_FIRES_TABLE } from './mysql/fires-sql.js';
import { checkDuration, checkName, checkTableName } from './options.js';
import { Slots, type CatchUp } from './slots.js';

/** What a crash in the middle of an unfenced fire means. */
export type FireMode = 'at-most-once' | 'at-least-once';

/** What a slot that comes due while the job's previous fire still runs gets. */
export type Overlap = 'skip' | 'queue';

/** Options of `schedule()`. Durations are in milliseconds. */
export interface ScheduleOptions<D extends Queryable = Queryable> {
  /**
   * The IANA time zone the cron expression is read in (`Europe/Berlin`):
   * DST changes are croner's (a slot in a skipped hour fires once, at the
   * first instant after it; a fixed time in a repeated hour fires once).
   * @default 'UTC'
   */
  timezone?: string;
  /**
   * Claim the slot and run `fn`'s writes in one fenced transaction (`fn`
   * gets its `connection`): exactly once for work in the same database,
   * across crashes and hand-overs. Excludes `mode`.
   * @default false
   */
  fenced?: boolean;
  /**
   * Where the fenced transactions of the job (its claims, and with `fenced`
   * `fn`'s writes) run: a pool or connection of the same server, which
   * reaches the election table and the fires table.
   * @default the leader's own `db` (which must then be a pool)
   */
  db?: D;
  /**
   * Without `fenced`: `'at-most-once'` claims the slot, then runs `fn` (a
   * crash while it runs loses that fire: recorded `interrupted`);
   * `'at-least-once'` runs `fn` and then marks it done (a crash while it
   * runs has the next leader run it again, with `attempt` one more).
   * @default 'at-most-once'
   */
  mode?: FireMode;
  /**
   * With `mode: 'at-least-once'`: a fire is run at most this many times. A
   * fire cut short on its last attempt (its node crashed each time) is
   * recorded `interrupted`, with the reason, and never run again.
   * @default 3
   */
  maxAttempts?: number;
  /**
   * A slot that comes due while the job's previous fire still runs:
   * `'skip'` records it `skipped`, not run; `'queue'` runs it once the
   * running fire is over (one at most: while one is queued, the next ones
   * are skipped). Never two fires of a job at once on a node.
   * @default 'skip'
   */
  overlap?: Overlap;
  /**
   * Slots missed while nobody led (or while this leader was paused): `'none'`
   * fires none, `'latest'` the latest of them, `'all'` every one, oldest
   * first, within `catchUpMaxAge` and `catchUpMaxCount`.
   * @default 'latest'
   */
  catchUp?: CatchUp;
  /**
   * A slot claimed more than this long after its time is a missed slot,
   * which fires only as `catchUp` says; one claimed sooner is on time.
   * @default 60_000
   */
  misfireThreshold?: number;
  /**
   * No slot older than this fires, whatever `catchUp` says.
   * @default 86_400_000 (a day)
   */
  catchUpMaxAge?: number;
  /**
   * With `catchUp: 'all'`, at most this many missed slots fire (the latest ones).
   * @default 10
   */
  catchUpMaxCount?: number;
  /**
   * How long the history of the job's fires is kept; older rows are deleted
   * by the leader (the latest fire is always kept: it is where the next
   * leader resumes).
   * @default 604_800_000 (7 days)
   */
  retention?: number;
  /**
   * The fires table: an identifier or `schema.table`.
   * @default 'leader_election_fires'
   */
  firesTable?: string;
}

/** {@link ScheduleOptions} after defaults and validation, frozen. */
export interface ResolvedScheduleOptions {
  /** {@inheritDoc ScheduleOptions.timezone} */
  readonly timezone: string;
  /** {@inheritDoc ScheduleOptions.fenced} */
  readonly fenced: boolean;
  /** {@inheritDoc ScheduleOptions.db} */
  readonly db: Queryable | undefined;
  /** What a crash while `fn` runs means: `'at-most-once'`, `'at-least-once'`, or `'fenced'` for a fenced job. */
  readonly mode: FireMode | 'fenced';
  /** How many times a fire may run: `maxAttempts` with `at-least-once`, else 1. */
  readonly maxAttempts: number;
  /** {@inheritDoc ScheduleOptions.overlap} */
  readonly overlap: Overlap;
  /** {@inheritDoc ScheduleOptions.catchUp} */
  readonly catchUp: CatchUp;
  /** {@inheritDoc ScheduleOptions.misfireThreshold} */
  readonly misfireThreshold: number;
  /** {@inheritDoc ScheduleOptions.catchUpMaxAge} */
  readonly catchUpMaxAge: number;
  /** {@inheritDoc ScheduleOptions.catchUpMaxCount} */
  readonly catchUpMaxCount: number;
  /** {@inheritDoc ScheduleOptions.retention} */
  readonly retention: number;
  /** {@inheritDoc ScheduleOptions.firesTable} */
  readonly firesTable: string;
}

const KNOWN = [
  'timezone',
  'fenced',
  'db',
  'mode',
  'maxAttempts',
  'overlap',
  'catchUp',
  'misfireThreshold',
  'catchUpMaxAge',
  'catchUpMaxCount',
  'retention',
  'firesTable',
];
const MODES: readonly FireMode[] = ['at-most-once', 'at-least-once'];
const CATCH_UPS: readonly CatchUp[] = ['none', 'latest', 'all'];
const OVERLAPS: readonly Overlap[] = ['skip', 'queue'];
/** The longest a fire's history may be kept (about 10 years), so that the statement's interval stays in range. */
const MAX_RETENTION = 10 * 366 * 86_400_000;

const show = (value: unknown): string => inspect(value, { breakLength: Infinity, maxStringLength: 80 });

/** A whole number of ms in `[1, max]`. */
function checkSpan(option: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new OptionTypeError([option], `${option} must be a whole number of milliseconds, received ${show(value)}`);
  }
  if (value < 1 || value > max) throw new OptionRangeError([option], `${option} must be between 1 and ${max} ms, received ${show(value)}`);
  return value;
}

/**
 * Validates the arguments of `schedule(name, cron, fn, options)` and returns
 * the job's slots and its frozen options. Throws an `OptionTypeError` or
 * `OptionRangeError` naming what is wrong, before anything is sent.
 */
export function resolveSchedule(
  name: unknown,
  cron: unknown,
  fn: unknown,
  options: ScheduleOptions | undefined,
): { readonly name: string; readonly cron: string; readonly slots: Slots; readonly options: ResolvedScheduleOptions } {
  const jobName = checkName('name', name);
  if (typeof cron !== 'string') throw new OptionTypeError(['cron'], `cron must be a cron expression string, received ${show(cron)}`);
  if (typeof fn !== 'function') throw new OptionTypeError(['fn'], `fn must be a function, received ${show(fn)}`);
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new OptionTypeError(['options'], `options must be an object, received ${show(options)}`);
  }
  const given: ScheduleOptions = options ?? {};
  for (const key of Object.keys(given)) {
    if (!KNOWN.includes(key)) throw new OptionTypeError([`options.${key}`], `options.${key} is not a known option of schedule()`);
  }
  const timezone = given.timezone ?? 'UTC';
  if (typeof timezone !== 'string' || timezone.length === 0 || timezone.length > 64) {
    throw new OptionTypeError(['options.timezone'], `options.timezone must be an IANA time zone name, received ${show(timezone)}`);
  }
  const fenced = given.fenced ?? false;
  if (typeof fenced !== 'boolean') throw new OptionTypeError(['options.fenced'], `options.fenced must be a boolean, received ${show(fenced)}`);
  if (fenced && given.mode !== undefined) {
    throw new OptionTypeError(
      ['options.mode', 'options.fenced'],
      `options.mode does not apply to a fenced job (its claim and writes commit together), received ${show(given.mode)}`,
    );
  }
  const mode = given.mode ?? 'at-most-once';
  if (!MODES.includes(mode)) throw new OptionTypeError(['options.mode'], `options.mode must be 'at-most-once' or 'at-least-once', received ${show(mode)}`);
  if (given.maxAttempts !== undefined && mode !== 'at-least-once') {
    throw new OptionTypeError(
      ['options.maxAttempts', 'options.mode'],
      `options.maxAttempts applies to mode 'at-least-once' only (no other mode runs a fire again), received ${show(given.maxAttempts)}`,
    );
  }
  const maxAttempts = given.maxAttempts ?? (mode === 'at-least-once' ? 3 : 1);
  if (typeof maxAttempts !== 'number' || !Number.isInteger(maxAttempts)) {
    throw new OptionTypeError(['options.maxAttempts'], `options.maxAttempts must be a whole number of runs, received ${show(maxAttempts)}`);
  }
  if (maxAttempts < 1 || maxAttempts > 1000) {
    throw new OptionRangeError(['options.maxAttempts'], `options.maxAttempts must be between 1 and 1000, received ${show(maxAttempts)}`);
  }
  const overlap = given.overlap ?? 'skip';
  if (!OVERLAPS.includes(overlap)) throw new OptionTypeError(['options.overlap'], `options.overlap must be 'skip' or 'queue', received ${show(overlap)}`);
  const catchUp = given.catchUp ?? 'latest';
  if (!CATCH_UPS.includes(catchUp))
    throw new OptionTypeError(['options.catchUp'], `options.catchUp must be 'none', 'latest' or 'all', received ${show(catchUp)}`);
  const catchUpMaxCount = given.catchUpMaxCount ?? 10;
  if (typeof catchUpMaxCount !== 'number' || !Number.isInteger(catchUpMaxCount)) {
    throw new OptionTypeError(['options.catchUpMaxCount'], `options.catchUpMaxCount must be a whole number of slots, received ${show(catchUpMaxCount)}`);
  }
  if (catchUpMaxCount < 1 || catchUpMaxCount > 1000) {
    throw new OptionRangeError(['options.catchUpMaxCount'], `options.catchUpMaxCount must be between 1 and 1000, received ${show(catchUpMaxCount)}`);
  }
  if (given.db !== undefined && (typeof given.db !== 'object' || given.db === null || typeof given.db.query !== 'function')) {
    throw new OptionTypeError(['options.db'], `options.db must be a mysql2 or mariadb pool or connection, received ${show(given.db)}`);
  }
  let slots: Slots;
  try {
    slots = new Slots(cron, timezone);
  } catch (error) {
    const message = (error as Error).message;
    const option = /time ?zone/i.test(message) ? 'options.timezone' : 'cron';
    throw new OptionRangeError(
      [option],
      `${option} is not valid (${message.split('. Original error')[0]}), received ${show(option === 'cron' ? cron : timezone)}`,
    );
  }
  const misfireThreshold = checkDuration('options.misfireThreshold', given.misfireThreshold ?? 60_000);
  const catchUpMaxAge = checkSpan('options.catchUpMaxAge', given.catchUpMaxAge ?? 86_400_000, MAX_RETENTION);
  const retention = checkSpan('options.retention', given.retention ?? 604_800_000, MAX_RETENTION);
  // A pruned slot must be too old to fire again, on time or caught up (its row was what said it had fired).
  if (retention <= Math.max(misfireThreshold, catchUpMaxAge)) {
    throw new OptionRangeError(
      ['options.retention', 'options.catchUpMaxAge', 'options.misfireThreshold'],
      `options.retention (${retention} ms) must be longer than options.catchUpMaxAge (${catchUpMaxAge} ms) and options.misfireThreshold (${misfireThreshold} ms), so that no slot whose history was pruned can fire again`,
    );
  }
  return {
    name: jobName,
    cron,
    slots,
    options: Object.freeze({
      timezone,
      fenced,
      db: given.db,
      mode: fenced ? 'fenced' : mode,
      maxAttempts,
      overlap,
      catchUp,
      misfireThreshold,
      catchUpMaxAge,
      catchUpMaxCount,
      retention,
      firesTable: checkTableName(given.firesTable ?? DEFAULT_FIRES_TABLE, 'options.firesTable'),
    }),
  };
}
