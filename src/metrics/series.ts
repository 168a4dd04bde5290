/** What the metrics keep of each tracked leader, and what its exporters are told as events happen. */
import type { RevokeReason } from '../errors.js';
import type { LeaderEvents } from '../events.js';
import type { Counter } from './catalog.js';

/**
 * What the metrics read from a leader: a `MysqlLeader`, or anything with
 * the same names, getters and events.
 */
export interface TrackedLeader {
  /** The election (the `election` label). */
  readonly leaderName: string;
  /** This participant (the `node` label). */
  readonly nodeName: string;
  /** Read at each scrape for the is-leader gauge. */
  readonly leading: boolean;
  /** Read at each scrape for the lease-remaining gauge, in ms. */
  readonly remainingMs: number;
  /** Read at each scrape for the hand-over-lock gauge (absent when the leader does not say). */
  readonly handoverLockActive?: boolean;
  /** Subscribes to `elected`, `revoked`, `renewed` and `error`. */
  on<K extends keyof LeaderEvents>(event: K, listener: (...args: LeaderEvents[K]) => void): unknown;
  /** Unsubscribes (`untrack`, `close`). */
  off<K extends keyof LeaderEvents>(event: K, listener: (...args: LeaderEvents[K]) => void): unknown;
}

/** Labels of a `prom-client` or OpenTelemetry series. */
export type MetricLabels = Record<string, string>;

/** What a transition counts: becoming the leader, or why a tenure ended. */
export type Transition = 'elected' | RevokeReason;

/** Every transition, so that each series starts at 0 (a `Record` so that a new reason fails to compile until listed). */
export const TRANSITIONS: Record<Transition, true> = { elected: true, lost: true, expired: true, resigned: true, closed: true, aborted: true, error: true };

/** The metrics of one tracked leader. */
export interface Series {
  /** Its `election` and `node` labels. */
  readonly labels: MetricLabels;
  /** The leader, whose getters the gauges read at each scrape. */
  readonly leader: TrackedLeader;
  /** By transition. */
  readonly transitions: Map<Transition, number>;
  /** By error code. */
  readonly errors: Map<string, number>;
  /** Renewal latencies: observations per bucket (not cumulative); the last one is `+Inf`. */
  readonly renewBuckets: number[];
  /** Sum of the renewal latencies, in seconds. */
  renewSum: number;
  /** Number of renewals. */
  renewCount: number;
  /** `performance.now()` of the last renewal or election. */
  lastRenewAt: number | undefined;
  /** Stops tracking the leader and drops the series. */
  readonly untrack: () => void;
}

/** An exporter kept in step with the series as events happen (prom-client's, OpenTelemetry's). */
export interface Mirror {
  /** A counter of the catalog went up by one, for `value` of its label. */
  counted?(counter: Counter, labels: MetricLabels, value: string): void;
  /** A renewal took `seconds`. */
  renewed?(labels: MetricLabels, seconds: number): void;
  /** The leader of `labels` is no longer tracked. */
  forget?(labels: MetricLabels): void;
  /** A job fired (or skipped) a slot, `latenessSeconds` late (`undefined` when skipped: not a fire that started). */
  fired?(labels: MetricLabels, outcome: string, latenessSeconds: number | undefined): void;
  /** A job left `count` due slots unfired. */
  missed?(labels: MetricLabels, count: number): void;
  /** The job of `labels` is no longer tracked. */
  forgetJob?(labels: MetricLabels): void;
}
