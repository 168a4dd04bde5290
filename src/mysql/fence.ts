import { CommitUnknownError, DatabaseError, NotLeaderError, QueryTimeoutError } from '../errors.js';
import type { TenureContext } from '../tenure.js';
import type { Driver, QueryResult, Session } from './driver.js';
import { learnCoordinator } from './cluster.js';
import { ER, errnoOf, translateError } from './errors.js';
import type { Statements } from './sql.js';

/** The lease a fenced transaction must find live, and the time limits of its own statements. */
export interface FenceTarget {
  readonly tableName: string;
  readonly leaderName: string;
  readonly nodeName: string;
  /** The table's statements: `fence` locks the row on one server, `fenceWrite` writes it on Galera. */
  readonly sql: Pick<Statements, 'fence' | 'fenceWrite'>;
  /** The lease's length: a transaction idle for longer is ended by the server (MariaDB). */
  readonly ageMs: number;
  /** The time limit of each statement the fence sends itself, `COMMIT` included (`queryTimeout`). */
  readonly statementMs: number;
}

/** What a caller of {@link runFenced} may do between its steps. */
export interface FenceHooks {
  /** Awaited once `START TRANSACTION` is answered, before the lease is checked (no lock is held yet). */
  readonly ready?: ((session: Session) => Promise<void>) | undefined;
  /** Called once `COMMIT` is answered, before the session is restored and given back. */
  readonly committed?: (() => void) | undefined;
}

/** Handles whose server refused idle_transaction_timeout (MySQL): not asked again. */
const withoutIdleTimeout = new WeakSet<Driver>();

/**
 * Runs `fn` (with the driver's connection, the tenure, and the session for
 * statements of this library's own) in a transaction that first locks the election row in share
 * mode and checks that `tenure.term` still holds the lease for this node:
 * a take-over waits until the transaction ends, so its writes land before any
 * change of leader. On a Galera node, which does not replicate share locks,
 * it writes the row instead (the renewal's statement): certification then
 * orders the transaction with any take-over through another node, and the
 * one that comes second is rolled back (a `1213` at `COMMIT`, reported as
 * {@link NotLeaderError}). The cost: one leader's fenced transactions, and
 * its renewals, queue for the row one after another. Commits when `fn` resolves and `stillLeads()` (the local
 * deadline) still holds; rolls back when it throws (its error reaches the
 * caller unchanged).
 *
 * The call always settles, and says what happened:
 * - {@link NotLeaderError} (nothing was written) when the database says the
 *   lease is gone, or the tenure ends before `COMMIT` is sent. When it ends
 *   while the transaction is open on a pooled connection, the call is
 *   answered at once, and the connection closed and its server thread killed
 *   (the server rolls back), whatever `fn` still does;
 * - once `COMMIT` is sent, the end of the tenure changes nothing: the
 *   server's answer is awaited, at most `statementMs`. The row stays
 *   share-locked until the commit ends, so a commit that lands is ordered
 *   before any take-over (on one server). No answer (the connection died, the
 *   limit passed) is a {@link CommitUnknownError}: the writes may be there;
 * - each statement the fence sends itself has `statementMs` as its limit
 *   ({@link QueryTimeoutError}; nothing committed).
 *
 * On MariaDB the transaction gets `idle_transaction_timeout` = `age`: if this
 * process freezes inside it (SIGSTOP, a long GC), the server ends it and
 * frees the row rather than block the next leader. MySQL has no such
 * setting; there a frozen holder blocks a take-over until its connection dies.
 *
 * `hooks` (a scheduled job's, to claim a slot at its time with as few round
 * trips left as can be): `ready` is awaited once the transaction is open and
 * before the lease is checked and the row share-locked (its statements go on
 * the session; the end of the tenure ends the wait as it ends `fn`);
 * `committed` is called as soon as `COMMIT` is answered, before the session
 * is restored and given back.
 */
export async function runFenced<T>(
  driver: Driver,
  target: FenceTarget,
  tenure: TenureContext,
  stillLeads: () => boolean,
  fn: (connection: unknown, tenure: TenureContext, session: Session) => Promise<T>,
  hooks: FenceHooks = {},
): Promise<T> {
  // Waiting for a connection ends with the tenure (an exhausted pool must not hold this forever).
  let session: Session;
  try {
    session = await driver.session(tenure.signal);
  } catch (error) {
    if (tenure.signal.aborted) throw notLeader(target, tenure, 'before the fenced transaction began');
    throw translateError(error, 'taking a connection for the fenced transaction', target.tableName);
  }
  const transaction = new FencedTransaction(driver, session, target, tenure);
  try {
    return await transaction.run(stillLeads, fn, hooks);
  } finally {
    await transaction.finish();
  }
}

/** One fenced transaction on its session, from `START TRANSACTION` to the connection's return. */
class FencedTransaction {
  readonly #driver: Driver;
  readonly #session: Session;
  readonly #target: FenceTarget;
  readonly #tenure: TenureContext;
  /** Rejects with a {@link NotLeaderError} when the tenure ends before `COMMIT` is sent (pooled sessions only). */
  readonly #tenureEnded: Promise<never>;
  readonly #onTenureEnd: () => void;
  /** `START TRANSACTION` was sent and the transaction has not ended. */
  #open = false;
  /** `COMMIT` was sent: from then on the server's answer decides, not the tenure. */
  #committing = false;
  /** The session was given up (closed, its thread killed): nothing more is sent on it. */
  #abandoned = false;
  /** The session's idle_transaction_timeout was set, and must be restored. */
  #idleTimeout = false;

  constructor(driver: Driver, session: Session, target: FenceTarget, tenure: TenureContext) {
    this.#driver = driver;
    this.#session = session;
    this.#target = target;
    this.#tenure = tenure;
    let reject: (error: NotLeaderError) => void = () => {};
    this.#tenureEnded = new Promise<never>((_resolve, rejectWith) => (reject = rejectWith));
    this.#tenureEnded.catch(() => {}); // only raced with the steps below.
    // A single connection is the caller's: it cannot be closed, so its
    // transaction ends only after fn settles (then by ROLLBACK), never with
    // fn's statements still running on it.
    this.#onTenureEnd = () => {
      if (this.#committing || !driver.pooled) return;
      reject(notLeader(target, tenure, this.#open ? 'during the fenced transaction, which was rolled back' : 'before the fenced transaction began'));
      this.#abandon();
    };
    tenure.signal.addEventListener('abort', this.#onTenureEnd, { once: true });
    if (tenure.signal.aborted) this.#onTenureEnd(); // it ended while the connection was handed over.
  }

  async run<T>(stillLeads: () => boolean, fn: (connection: unknown, tenure: TenureContext, session: Session) => Promise<T>, hooks: FenceHooks): Promise<T> {
    const { leaderName, nodeName, sql, ageMs } = this.#target;
    const coordinator = await learnCoordinator(this.#driver.db, (sql) => this.#statement('asking whether the server is a Galera node', sql));
    // 1. A server-side bound on an idle transaction (MariaDB), on a pooled connection of our own.
    if (this.#driver.pooled && !withoutIdleTimeout.has(this.#driver)) this.#idleTimeout = await this.#setIdleTimeout();
    // 2. Open the transaction; lock (one server) or write (Galera) the election row, and check the lease.
    this.#open = true;
    await this.#statement('starting the fenced transaction', 'START TRANSACTION');
    if (hooks.ready) await this.#whileTenureLasts(hooks.ready(this.#session));
    const term = this.#tenure.term;
    const fenced = coordinator.galera
      ? (await this.#statement('writing the election row', sql.fenceWrite, [ageMs * 1000, leaderName, nodeName, term])).affectedRows === 1
      : (await this.#statement('checking the lease', sql.fence, [leaderName, nodeName, term])).rows.length === 1;
    if (!fenced && coordinator.galera) await this.#checkReplicated();
    if (!fenced) throw notLeader(this.#target, this.#tenure, '(checked in the database)');
    // 3. The caller's work. When the tenure ends meanwhile, the caller is answered at once.
    const result = await this.#whileTenureLasts(fn(this.#session.raw, this.#tenure, this.#session));
    // 4. Commit only while this node still leads: nothing of a tenure is sent after it ended.
    if (this.#abandoned || !stillLeads()) throw notLeader(this.#target, this.#tenure, 'before the commit; the transaction was rolled back');
    await this.#commit();
    hooks.committed?.();
    return result;
  }

  /** Rolls back what was not committed, restores the session and gives it back, or closes it when that fails. */
  async finish(): Promise<void> {
    this.#tenure.signal.removeEventListener('abort', this.#onTenureEnd);
    if (this.#abandoned) return;
    try {
      if (this.#open) await this.#limited('rolling back the fenced transaction', this.#session.query('ROLLBACK'));
      if (this.#idleTimeout) await this.#limited('restoring idle_transaction_timeout', this.#session.query('SET SESSION idle_transaction_timeout = DEFAULT'));
      this.#session.release();
    } catch {
      this.#abandon(); // the server rolls back what is left when the connection closes.
    }
  }

  /**
   * Sends `COMMIT` and waits for the server's answer, at most `statementMs`,
   * whether or not the tenure lasts: the share lock orders the commit before
   * any take-over. Without an answer, the outcome is unknown.
   */
  async #commit(): Promise<void> {
    this.#committing = true;
    try {
      await this.#limited('committing the fenced transaction', this.#session.query('COMMIT'));
      this.#open = false;
    } catch (error) {
      this.#open = false;
      // A deadlock reported at COMMIT (on Galera, a lost certification): everything was rolled back.
      if (errnoOf(error) === ER.LOCK_DEADLOCK) throw await this.#rolledBack(error);
      this.#abandon();
      throw new CommitUnknownError(this.#target.leaderName, this.#tenure.term, { cause: error });
    }
  }

  /** On Galera, refuses a session that does not replicate its writes (`wsrep_on` off in it): its fence would fence nothing. */
  async #checkReplicated(): Promise<void> {
    const { rows } = await this.#statement('checking wsrep_on', 'SELECT @@session.wsrep_on AS wsrep_on');
    if (Number(rows[0]?.['wsrep_on']) === 1) return;
    throw new DatabaseError(
      `withLeadership() on a Galera node needs wsrep_on = ON in its session, and it is OFF in the session of "${this.#target.leaderName}": a write that is not replicated fences nothing. Nothing was written.`,
    );
  }

  /**
   * The error of a commit that the server rolled back: {@link NotLeaderError}
   * when the lease is no longer this tenure's (a take-over through another
   * Galera node won certification), else the deadlock itself (the conflict
   * was on the caller's own rows). Nothing was written either way.
   */
  async #rolledBack(error: unknown): Promise<Error> {
    const { sql, leaderName, nodeName, tableName } = this.#target;
    const deadlock = translateError(error, 'committing the fenced transaction (rolled back)', tableName);
    try {
      const { rows } = await this.#limited('checking the lease', this.#session.query(sql.fence, [leaderName, nodeName, this.#tenure.term]));
      return rows.length === 0 ? notLeader(this.#target, this.#tenure, 'at the commit, which a newer term won and rolled back', error) : deadlock;
    } catch {
      return deadlock;
    }
  }

  /** Sets the session's idle_transaction_timeout; `false` where the server has no such variable (MySQL). */
  async #setIdleTimeout(): Promise<boolean> {
    const seconds = Math.ceil(this.#target.ageMs / 1000);
    try {
      await this.#statement('setting idle_transaction_timeout', 'SET SESSION idle_transaction_timeout = ?', [seconds]);
      return true;
    } catch (error) {
      if (errnoOf(error) !== ER.UNKNOWN_SYSTEM_VARIABLE) throw error;
      withoutIdleTimeout.add(this.#driver);
      return false;
    }
  }

  /** One of the fence's own statements before `COMMIT`: within its time limit, and given up when the tenure ends. */
  async #statement(what: string, sql: string, values: unknown[] = []): Promise<QueryResult> {
    try {
      return await this.#whileTenureLasts(this.#limited(what, this.#session.query(sql, values)));
    } catch (error) {
      throw translateError(error, what, this.#target.tableName);
    }
  }

  /**
   * `work`, unless the tenure ends first: then the session has been
   * abandoned and this rejects with {@link NotLeaderError} (`work`'s own
   * failure, if it comes first, passes unchanged).
   */
  async #whileTenureLasts<T>(work: Promise<T>): Promise<T> {
    work.catch(() => {}); // when the tenure ends first, its late failure is nobody's concern.
    try {
      return await Promise.race([work, this.#tenureEnded]);
    } catch (error) {
      if (this.#abandoned && !(error instanceof NotLeaderError) && this.#tenure.signal.aborted) {
        throw notLeader(this.#target, this.#tenure, 'during the fenced transaction, which was rolled back', error);
      }
      throw error;
    }
  }

  /** `reply`, or a {@link QueryTimeoutError} after `statementMs` (the session is then abandoned: its state is unknown). */
  async #limited<T>(what: string, reply: Promise<T>): Promise<T> {
    const ms = this.#target.statementMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new QueryTimeoutError(what, ms)); // first: abandoning rejects the reply too.
        this.#abandon();
      }, ms);
    });
    try {
      return await Promise.race([reply, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Gives the session up: closes it (its pending statements reject) and has
   * the server end its thread, which rolls back what was not committed. Only
   * a pooled session: a single connection is the caller's to keep.
   */
  #abandon(): void {
    if (this.#abandoned || !this.#driver.pooled) return;
    this.#abandoned = true;
    this.#driver.abandon(this.#session);
  }
}

/** The error of a fenced call that wrote nothing because its tenure ended `when`. */
function notLeader(target: FenceTarget, tenure: TenureContext, when: string, cause?: unknown): NotLeaderError {
  return new NotLeaderError(`term ${tenure.term} of "${target.leaderName}" ended ${when}; nothing was written`, cause === undefined ? undefined : { cause });
}
