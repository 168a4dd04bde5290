import type { RevokeReason } from './errors.js';

/** A node and the term under which it leads. */
export interface LeaderInfo {
  /** The leader's `nodeName`. */
  readonly nodeName: string;
  /** The fencing token of its tenure. */
  readonly term: number;
}

/** Payload of the `elected` event: this node now leads. */
export interface ElectedEvent {
  /** The fencing token of the new tenure (one more than the previous tenure's). */
  readonly term: number;
}

/** Payload of the `revoked` event: this node's tenure has ended. */
export interface RevokedEvent {
  /** The term of the tenure that ended. */
  readonly term: number;
  /** Why it ended. */
  readonly reason: RevokeReason;
  /** The error that ended it, when `reason` is `'error'`. */
  readonly error?: Error;
}

/** Payload of the `renewed` event: the leader extended its lease. */
export interface RenewedEvent {
  /** The term of the tenure. */
  readonly term: number;
  /** Time from sending the renewal to its reply, in ms (connection wait included). */
  readonly latencyMs: number;
}

/** Payload of the `taskError` event: a `runWhileLeader()` task failed. */
export interface TaskErrorEvent {
  /** The term of the tenure it ran in. */
  readonly term: number;
  /** What it threw. */
  readonly error: unknown;
}

/** Payload of the `leaderChange` event: the live leader this node observes has changed. */
export interface LeaderChangeEvent {
  /** The leader now, or `undefined` when the lease is vacant or lapsed. */
  readonly leader: LeaderInfo | undefined;
  /** The leader observed before. */
  readonly previous: LeaderInfo | undefined;
}

/** The events of a `MysqlLeader`, for `leader.on(name, listener)`. */
export interface LeaderEvents {
  /** This node became the leader. */
  elected: [ElectedEvent];
  /** This node stopped being the leader (the tenure's signal has aborted). */
  revoked: [RevokedEvent];
  /** This node, leading, renewed its lease (once per `tick`). */
  renewed: [RenewedEvent];
  /** A `runWhileLeader()` task threw (other than by aborting with its tenure's signal). */
  taskError: [TaskErrorEvent];
  /** Another leader (or none) was observed in the row, or this node was elected. */
  leaderChange: [LeaderChangeEvent];
  /**
   * A database error, emitted for every one, even those `onError` lets the
   * election go on after. A no-op listener is installed, so an `error` event
   * never crashes the process.
   */
  error: [Error];
}
