/**
 * Every metric, once: its name, unit, help and how it is read from a
 * series. The Prometheus text, prom-client and OpenTelemetry exporters are
 * all built from this catalog.
 */
import type { Series } from './series.js';

/** A gauge, read from each series at each scrape. */
export interface Gauge {
  /** Its Prometheus name after the prefix and `_` (the unit is part of it). */
  readonly name: string;
  /** Its OpenTelemetry name after the prefix and `.` (the unit is not). */
  readonly otelName: string;
  /** Its unit: `1` for a ratio or a flag, `s` for seconds. */
  readonly unit: '1' | 's';
  /** What it measures (HELP text, OpenTelemetry description). */
  readonly help: string;
  /** Its value for one series at `now` (`performance.now()`); `undefined` when the series has none. */
  readonly read: (series: Series, now: number) => number | undefined;
}

/** A counter of events, by the value of one label. */
export interface Counter {
  /** Its Prometheus name after the prefix and `_`. */
  readonly name: string;
  /** Its OpenTelemetry name after the prefix and `.`. */
  readonly otelName: string;
  /** The label that tells the events apart (`reason`, `code`). */
  readonly label: string;
  /** What it counts (HELP text, OpenTelemetry description). */
  readonly help: string;
  /** The counts of one series, by label value. */
  readonly read: (series: Series) => Map<string, number>;
}

/** The gauges. */
export const GAUGES: readonly Gauge[] = [
  {
    name: 'is_leader',
    otelName: 'is_leader',
    unit: '1',
    help: 'Whether this node leads the election (1) or not (0), by its own deadline.',
    read: (series) => (series.leader.leading ? 1 : 0),
  },
  {
    name: 'lease_remaining_seconds',
    otelName: 'lease_remaining',
    unit: 's',
    help: 'How long this node is sure to lead without another renewal, in seconds (0 when not leading).',
    read: (series) => series.leader.remainingMs / 1000,
  },
  {
    name: 'seconds_since_last_renew',
    otelName: 'time_since_last_renew',
    unit: 's',
    help: 'Seconds since this node last renewed or took the lease (absent until its first election).',
    read: (series, now) => (series.lastRenewAt === undefined ? undefined : (now - series.lastRenewAt) / 1000),
  },
  {
    name: 'handover_lock_active',
    otelName: 'handover_lock_active',
    unit: '1',
    help: 'Whether followers are woken through the hand-over lock (1) or poll every tick (0): off where GET_LOCK is refused, and for a while after the pool starved.',
    read: (series) => (series.leader.handoverLockActive === undefined ? undefined : series.leader.handoverLockActive ? 1 : 0),
  },
];

/** Changes of leadership, by reason. */
export const TRANSITIONS_TOTAL: Counter = {
  name: 'transitions_total',
  otelName: 'transitions',
  label: 'reason',
  help: 'Changes of leadership of this node: reason="elected" when it became the leader, else why its tenure ended.',
  read: (series) => series.transitions,
};

/** Database errors, by error code. */
export const ERRORS_TOTAL: Counter = {
  name: 'errors_total',
  otelName: 'errors',
  label: 'code',
  help: 'Database errors met by this node (each error event), by error code.',
  read: (series) => series.errors,
};

/** The counters. */
export const COUNTERS: readonly Counter[] = [TRANSITIONS_TOTAL, ERRORS_TOTAL];

/** The histogram of renewal latencies, in seconds, fed as renewals happen. */
export const RENEW_DURATION = {
  /** Its Prometheus name after the prefix and `_`. */
  name: 'renew_duration_seconds',
  /** Its OpenTelemetry name after the prefix and `.`. */
  otelName: 'renew.duration',
  /** Its unit. */
  unit: 's',
  /** What it measures. */
  help: 'Time from sending a renewal to its reply, pool wait included, in seconds.',
} as const;
