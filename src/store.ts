/**
 * The contract between the elector (timing, state) and a database (SQL).
 * Every method is one atomic statement decided by the database's clock; the
 * elector supplies an `AbortSignal` that aborts when the statement's time
 * limit passes, after which the store abandons it (and its connection).
 * Once a statement has settled, its signal may serve the elector's next
 * one (or, in a `Leases` engine, another election's): a store removes the
 * listeners it added to it before it settles.
 */
import type { StatementTimer } from './statement-timer.js';
import type { StepGate } from './step-gate.js';

/** One election row as the database sees it now. */
export interface Lease {
  /** The node named in the row (the leader while the lease is live). */
  readonly nodeName: string;
  /** The fencing token of the row's tenure. */
  readonly term: number;
  /**
   * Remaining life of the lease by the database clock, in ms; zero or
   * negative once it has lapsed or been released. For display: no
   * participant's safety depends on any database clock.
   */
  readonly expiresInMs: number;
  /** The holder (or an operator) released the lease: it is vacant, and the next claim may come at once. */
  readonly released: boolean;
  /** Start of this tenure (UTC, database clock). */
  readonly acquiredAt: Date;
  /** Last renewal (UTC, database clock). */
  readonly renewedAt: Date;
}

/** A {@link Lease} as a follower reads it, with what it needs to time reads and to claim. */
export interface ObservedLease extends Lease {
  /**
   * The row's version, with `term`: it changes on every write to the row.
   * A claim succeeds only on the version the claimant read.
   */
  readonly version: string;
  /** How long ago the row was last written, by the database clock (ms): to time the next read, never to decide a claim. */
  readonly renewedMsAgo: number;
}

/** What one read of the election saw. */
export interface Observation {
  /** The row, or `undefined` when it does not exist. */
  readonly lease: ObservedLease | undefined;
  /**
   * The server that answered (`@@server_id`), row or no row, to notice a
   * failover to another primary; `''` where that means nothing (a Galera
   * cluster, whose nodes are one coordinator).
   */
  readonly coordinator: string;
}

/** The statements of the protocol for one election that every store has; see {@link LeaseStore} and {@link HoldingStore}. */
export interface StoreStatements {
  /** The election's name, for logs. */
  readonly name: string;
  /** Reads the row (if it exists) and who answered. */
  read(signal: AbortSignal): Promise<Observation>;
  /**
   * Takes the lease for `nodeName`: creates the row when `seen` is
   * `undefined`, or gives it a new term when it still has the version of
   * `seen` (a compare-and-set: the elector decides when a lease may be
   * taken). The new term is the next one, or `minTerm` if that is greater
   * (terms never go back, even on a primary that lost the last writes).
   * Resolves to the new term, or `undefined` when the row was created or
   * written meanwhile (a lost race).
   */
  claim(nodeName: string, seen: ObservedLease | undefined, minTerm: number, signal: AbortSignal): Promise<number | undefined>;
  /** Releases a lease held by `nodeName` under `term`; `false` when there was none. */
  release(nodeName: string, term: number, signal: AbortSignal): Promise<boolean>;
  /** Frees what the store holds (dedicated connections). The database handle stays the caller's. */
  close(): Promise<void>;
  /** The hand-over lock: how followers learn at once that the leader let go, when the database offers one. */
  readonly handoverLock?: HandoverLock | undefined;
}

/** The statements of the protocol, for one election, renewed by the elector's own loop. */
export interface LeaseStore extends StoreStatements {
  /** Extends a lease held by `nodeName` under `term`; `false` when it is no longer held (released, or taken under a newer term). */
  renew(nodeName: string, term: number, signal: AbortSignal): Promise<boolean>;
  readonly hold?: undefined;
  readonly statements?: undefined;
  readonly steps?: undefined;
}

/**
 * A store that renews a held lease itself (a `Leases` engine's, whose
 * renewals share one schedule): between two steps of its loop, the elector
 * hands it the tenure ({@link HeldTenure}) instead of renewing, and takes it
 * back when the tenure ends.
 */
export interface HoldingStore extends StoreStatements {
  /** Renews the lease of `tenure` when its renewal is due (`tenure.due`), once: `tenure` hands itself again for the next. */
  hold(tenure: HeldTenure): void;
  readonly renew?: undefined;
  /** The timer of the statements of every election of the store's engine, if they share one (the elector then times its statements with it). */
  readonly statements?: StatementTimer;
  /** The line every follower step of the election goes through first, if the engine paces them (so many at once: see {@link StepGate}). */
  readonly steps?: StepGate | undefined;
}

/**
 * A tenure handed to a {@link HoldingStore}, as the elector keeps it. The
 * safety rule is the elector's: it takes the renewal's local deadline from
 * the reading of the clock given to `ask(now)`, which the store makes before
 * the statement that renews the lease is sent, and counts the renewal only
 * on `settle(true, now)`, which the store calls only when the database
 * confirmed that row.
 */
export interface HeldTenure {
  /** The election's name (the store's). */
  readonly name: string;
  /** The term held. */
  readonly term: number;
  /** When the next renewal is due (monotonic ms). */
  readonly due: number;
  /**
   * The store is about to send the renewal: `now` is a reading of the
   * monotonic clock (ms) the store made before it sends the statement (one
   * for a whole batch), from which the next deadline counts. Returns the
   * renewal's time limit in ms, or `undefined` when the tenure wants none
   * (it is over: nothing is sent, and `settle` is not called).
   */
  ask(now: number): number | undefined;
  /**
   * The renewal asked for was confirmed (`true`), found the lease no longer
   * held (`false`), or failed: its outcome unknown. `now` is a reading of
   * the monotonic clock made after the answer arrived (one for a whole batch).
   */
  settle(outcome: boolean | Error, now: number): void;
}

/**
 * The hand-over lock: a lock the leader holds while it leads and frees when
 * it lets go, on which followers wait instead of sleeping: a release wakes the
 * first of them at once. It only wakes; who leads is decided by the row
 * alone. A waiter that is woken holds the lock, and keeps it if it wins the row.
 */
export interface HandoverLock {
  /** Whether the lock is in use now: false for good after the server refused it (Percona XtraDB Cluster, some proxies), for a while after the pool starved. */
  readonly available: boolean;
  /** Whether this node holds the lock. */
  readonly holding: boolean;
  /** Takes the lock, waiting up to `ms` for a follower passing through it. */
  hold(ms: number, signal: AbortSignal): Promise<void>;
  /** Checks that the lock held is still held (its connection may have been dropped while idle); forgets it if not. */
  check(signal: AbortSignal): Promise<void>;
  /** Waits up to `ms` for the lock; `true` when it was obtained (the holder let go). */
  wait(ms: number, signal: AbortSignal): Promise<boolean>;
  /**
   * Waits up to `ms` for the lock only if another session holds it now:
   * `obtained` (the holder let go), `held` (held for all of `ms`), or `free`
   * (nobody held it: neither taken nor waited for).
   */
  waitIfHeld(ms: number, signal: AbortSignal): Promise<'obtained' | 'held' | 'free'>;
  /** Frees the lock if this node holds it. */
  drop(signal: AbortSignal): Promise<void>;
}
