/**
 * The errors this package throws or emits. Programmer errors (bad options,
 * calls on a closed leader) are `TypeError`/`RangeError` or
 * {@link ClosedError}; operational errors (the database) are
 * {@link DatabaseError} and its subclasses, with the driver's error as `cause`.
 */

/** Stable codes of the errors below, safe to `switch` on. */
export type MysqlLeaderErrorCode =
  | 'ERR_MYSQL_LEADER_DATABASE'
  | 'ERR_MYSQL_LEADER_TIMEOUT'
  | 'ERR_MYSQL_LEADER_SCHEMA'
  | 'ERR_MYSQL_LEADER_CLOSED'
  | 'ERR_MYSQL_LEADER_BUSY'
  | 'ERR_MYSQL_LEADER_NOT_LEADER'
  | 'ERR_MYSQL_LEADER_COMMIT_UNKNOWN'
  | 'ERR_MYSQL_LEADER_LEADERSHIP_ENDED'
  // The lease engine (Leases):
  | 'ERR_MYSQL_LEADER_LOCK_TIMEOUT'
  | 'ERR_MYSQL_LEADER_PERMIT_TIMEOUT';

/** Base class of every error defined by this package. */
export class MysqlLeaderError extends Error {
  /** A stable identifier of the kind of error. */
  readonly code: MysqlLeaderErrorCode;

  /** @internal */
  constructor(code: MysqlLeaderErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A statement failed: the server is down or unreachable, refused the
 * statement (permissions, read-only server) or the connection dropped.
 * `cause` holds the driver's error; `sqlCode` its MySQL error name when known.
 */
export class DatabaseError extends MysqlLeaderError {
  /** The driver's error code (for example `ER_ACCESS_DENIED_ERROR`), when it had one. */
  readonly sqlCode: string | undefined;
  /**
   * Whether the error comes and goes by nature: a time-out, a connection
   * refused, reset or lost, a lock wait time-out, a lost deadlock or Galera
   * certification, a cluster node not ready or out of the primary component.
   * A campaign goes on through these without asking `onError` (the tenure
   * still ends when the error puts it in doubt). The README lists them.
   */
  readonly transient: boolean;
  /** The server's error number (`1047`, `1146`…) when the server answered with an error; `undefined` when none answered (a lost or refused connection, a time-out). */
  readonly errno: number | undefined;

  /** @internal */
  constructor(
    message: string,
    options?: ErrorOptions & { sqlCode?: string | undefined; transient?: boolean; errno?: number | undefined },
    code: MysqlLeaderErrorCode = 'ERR_MYSQL_LEADER_DATABASE',
  ) {
    super(code, message, options);
    this.sqlCode = options?.sqlCode;
    this.transient = options?.transient ?? false;
    this.errno = options?.errno;
  }
}

/**
 * A statement took longer than its time limit (the `queryTimeout` option, or
 * what was left of the lease). Its outcome is unknown; for a renewal this
 * ends the tenure at once.
 */
export class QueryTimeoutError extends DatabaseError {
  /** What the statement was for, as the message says (`renewing the lease`). */
  readonly operation: string;
  /** The time limit it passed, in ms. */
  readonly timeoutMs: number;

  /** @internal */
  constructor(operation: string, timeoutMs: number) {
    super(`${operation} did not complete within ${Math.round(timeoutMs)} ms`, { transient: true }, 'ERR_MYSQL_LEADER_TIMEOUT');
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The election table is missing or does not have the expected columns. The
 * message says what to do (create it, or migrate an older table).
 */
export class SchemaError extends MysqlLeaderError {
  /** @internal */
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_MYSQL_LEADER_SCHEMA', message, options);
  }
}

/** A method was called on a leader (or a `Leases` engine) after `close()`. Nothing was sent to the database. */
export class ClosedError extends MysqlLeaderError {
  /** @internal */
  constructor(method: string, closed = 'MysqlLeader') {
    super('ERR_MYSQL_LEADER_CLOSED', `${method}() was called on a closed ${closed}`);
  }
}

/**
 * Leader-only work was attempted by a node that does not hold a live lease
 * (or holds it under another term than the one given).
 */
export class NotLeaderError extends MysqlLeaderError {
  /** @internal */
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_MYSQL_LEADER_NOT_LEADER', message, options);
  }
}

/**
 * The `COMMIT` of a fenced transaction was sent, but no answer came back:
 * the connection was lost, or the commit's time limit (`queryTimeout`)
 * passed. **The writes may or may not have landed.** Do not retry blindly:
 * check for them (a unique key or an idempotency record written in the same
 * transaction), or make the work idempotent. `cause` holds what happened to
 * the connection.
 *
 * If the commit did land, it landed before any take-over of the lease on a
 * single server: the election row stays share-locked until the commit ends,
 * and a claim waits for that lock.
 */
export class CommitUnknownError extends MysqlLeaderError {
  /** The term the transaction was fenced by. */
  readonly term: number;

  /** @internal */
  constructor(leaderName: string, term: number, options?: ErrorOptions) {
    super(
      'ERR_MYSQL_LEADER_COMMIT_UNKNOWN',
      `the COMMIT of a fenced transaction of term ${term} of "${leaderName}" was sent but not answered: its writes may or may not have landed (check before retrying)`,
      options,
    );
    this.term = term;
  }
}

/**
 * A bad option or argument, found before anything was sent: wrong type.
 * Thrown by every constructor and function of this package that takes
 * options. `options` names what is wrong, as the message does.
 */
export class OptionTypeError extends TypeError {
  /** A stable identifier of the kind of error. */
  readonly code = 'ERR_MYSQL_LEADER_INVALID_OPTION';
  /** What the message names, as it names them (`options.tick`, `leaderName`, `db`); the first is the one at fault. */
  readonly options: readonly string[];

  /** @internal */
  constructor(options: readonly string[], message: string) {
    super(message);
    this.options = options;
  }
}

/**
 * A bad option or argument, found before anything was sent: out of range,
 * or inconsistent with another option (`tick` + `margin` not below `age`).
 * `options` names every option the message names.
 */
export class OptionRangeError extends RangeError {
  /** A stable identifier of the kind of error. */
  readonly code = 'ERR_MYSQL_LEADER_INVALID_OPTION';
  /** What the message names, as it names them (`options.tick`, `leaderName`); the first is the one at fault. */
  readonly options: readonly string[];

  /** @internal */
  constructor(options: readonly string[], message: string) {
    super(message);
    this.options = options;
  }
}

/** Why a tenure ended. */
export type RevokeReason =
  /** A renewal found the lease taken or lapsed in the database. */
  | 'lost'
  /** The local deadline passed before a renewal succeeded (slow database, paused process). */
  | 'expired'
  /** `resign()` was called. */
  | 'resigned'
  /** `close()` was called. */
  | 'closed'
  /** The signal given to `acquire()` aborted. */
  | 'aborted'
  /** A renewal failed or its outcome is unknown (error, timeout, dropped connection). */
  | 'error';

/**
 * The `reason` of a tenure's `AbortSignal` once the tenure is over: which
 * term ended and why.
 */
export class LeadershipEndedError extends MysqlLeaderError {
  /** The term of the tenure that ended. */
  readonly term: number;
  /** Why it ended. */
  readonly reason: RevokeReason;

  /** @internal */
  constructor(term: number, reason: RevokeReason, options?: ErrorOptions) {
    super('ERR_MYSQL_LEADER_LEADERSHIP_ENDED', `leadership of term ${term} ended (${reason})`, options);
    this.term = term;
    this.reason = reason;
  }
}

/**
 * `Leases.withLock()` (or `withFencedLock()`) did not get the lease within
 * its `wait`: another holder kept it. Nothing ran.
 */
export class LockTimeoutError extends MysqlLeaderError {
  /** The lock (the election) that was waited for. */
  readonly lockName: string;
  /** How long it was waited for, in ms (the `wait` option). */
  readonly waitMs: number;

  /** @internal */
  constructor(lockName: string, waitMs: number) {
    super('ERR_MYSQL_LEADER_LOCK_TIMEOUT', `the lock "${lockName}" was not obtained within ${waitMs} ms: another holder has it`);
    this.lockName = lockName;
    this.waitMs = waitMs;
  }
}

/**
 * `Semaphore.acquire()` (or `using()`) got no permit within its `wait`:
 * every permit was held. Nothing ran.
 */
export class PermitTimeoutError extends MysqlLeaderError {
  /** The semaphore that was waited for. */
  readonly semaphoreName: string;
  /** Its permits, as the waiter counted them. */
  readonly permits: number;
  /** How long it was waited for, in ms (the `wait` option). */
  readonly waitMs: number;

  /** @internal */
  constructor(semaphoreName: string, permits: number, waitMs: number) {
    super('ERR_MYSQL_LEADER_PERMIT_TIMEOUT', `no permit of the semaphore "${semaphoreName}" was obtained within ${waitMs} ms: all ${permits} are held`);
    this.semaphoreName = semaphoreName;
    this.permits = permits;
    this.waitMs = waitMs;
  }
}
