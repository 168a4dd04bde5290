/**
 * Metrics of leaders, built on their public getters and events only, with
 * no dependency: Prometheus text exposition on its own, the same series in a
 * `prom-client` registry when the application has one, and OpenTelemetry
 * instruments when given a `Meter`.
 *
 * ```ts
 * const metrics = new LeaderMetrics();
 * metrics.track(leader);
 * // GET /metrics → res.setHeader('content-type', PROMETHEUS_CONTENT_TYPE).end(metrics.metrics());
 * ```
 */
import { performance } from 'node:perf_hooks';
import { MysqlLeaderError, type RevokeReason } from './errors.js';
import type { LeaderEvents } from './events.js';

/** The `Content-Type` of {@link LeaderMetrics.metrics}' text (Prometheus text format 0.0.4). */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

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
  /** Subscribes to `elected`, `revoked`, `renewed` and `error`. */
  on<K extends keyof LeaderEvents>(event: K, listener: (...args: LeaderEvents[K]) => void): unknown;
  /** Unsubscribes (`untrack`, `close`). */
  off<K extends keyof LeaderEvents>(event: K, listener: (...args: LeaderEvents[K]) => void): unknown;
}

/** Labels of a `prom-client` or OpenTelemetry series. */
export type MetricLabels = Record<string, string>;

/** A metric of `prom-client`, as far as these metrics use it. */
export interface PromMetricLike {
  /** Clears every series (before they are set again at a scrape). */
  reset(): void;
}

/** A `prom-client` `Histogram`, as far as these metrics use it. */
export interface PromHistogramLike extends PromMetricLike {
  /** Records a renewal's latency, in seconds. */
  observe(labels: MetricLabels, value: number): void;
  /** Drops the series of a leader no longer tracked. */
  remove(labels: MetricLabels): void;
}

/** Configuration passed to the `prom-client` constructors. */
export interface PromMetricConfig {
  /** The metric's name, prefix included. */
  name: string;
  /** Its HELP text. */
  help: string;
  /** Its labels. */
  labelNames: string[];
  /** `[]` when the metric is registered in a given registry rather than the global one. */
  registers?: never[];
  /** The histogram's bucket bounds, in seconds. */
  buckets?: number[];
  /** Called by the registry at each scrape. */
  collect?: () => void;
}

/**
 * The `prom-client` module (`import * as client from 'prom-client'`), typed
 * structurally: this package never imports it.
 */
export interface PromClientLike {
  /** `prom-client`'s `Gauge` class. */
  Gauge: {
    /** Makes a gauge of `config`'s name, help and label names. */
    new (config: PromMetricConfig): PromMetricLike & {
      /** Sets the gauge of one series. */
      set(labels: MetricLabels, value: number): void;
    };
  };
  /** `prom-client`'s `Counter` class. */
  Counter: {
    /** Makes a counter of `config`'s name, help and label names. */
    new (config: PromMetricConfig): PromMetricLike & {
      /** Adds `value` to the counter of one series. */
      inc(labels: MetricLabels, value: number): void;
    };
  };
  /** `prom-client`'s `Histogram` class. */
  Histogram: {
    /** Makes a histogram of `config`'s name, help, label names and buckets. */
    new (config: PromMetricConfig): PromHistogramLike;
  };
}

/** A `prom-client` `Registry`, as far as these metrics use it. */
export interface PromRegistryLike {
  /** Adds a metric to the registry. */
  registerMetric(metric: PromMetricLike): void;
}

/** Options of OpenTelemetry instruments. */
export interface OtelInstrumentOptions {
  /** What the instrument measures. */
  description?: string;
  /** Its unit (`s`, `1`). */
  unit?: string;
  /** For the histogram: its bucket bounds. */
  advice?: {
    /** The upper bounds of the buckets, in the instrument's unit. */
    explicitBucketBoundaries?: number[];
  };
}

/** What an OpenTelemetry observable callback receives. */
export interface OtelObservableResultLike {
  /** Reports the value of one series. */
  observe(value: number, attributes?: MetricLabels): void;
}

/**
 * An OpenTelemetry `Meter` (`metrics.getMeter('mysql-leader')` of
 * `@opentelemetry/api`), typed structurally: this package never imports it.
 */
export interface OtelMeterLike {
  /** For the counters. */
  createCounter(
    name: string,
    options?: OtelInstrumentOptions,
  ): {
    /** Adds `value` to the counter of the series `attributes` name. */
    add(value: number, attributes?: MetricLabels): void;
  };
  /** For the renewal latency. */
  createHistogram(
    name: string,
    options?: OtelInstrumentOptions,
  ): {
    /** Records one measurement in the series `attributes` name. */
    record(value: number, attributes?: MetricLabels): void;
  };
  /** For the gauges, read at each collection. */
  createObservableGauge(
    name: string,
    options?: OtelInstrumentOptions,
  ): {
    /** Registers `callback`, called at each collection to report every series. */
    addCallback(callback: (result: OtelObservableResultLike) => void): void;
  };
}

/** Options of {@link LeaderMetrics}. */
export interface LeaderMetricsOptions {
  /**
   * The first part of every metric's name.
   * @default 'mysql_leader'
   */
  prefix?: string;
  /**
   * Upper bounds of the renewal latency histogram's buckets, in seconds, ascending.
   * @default [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  renewBuckets?: readonly number[];
  /**
   * The application's `prom-client` module: the same metrics are then also
   * created there (in `promRegisters`), and kept equal to these.
   */
  promClient?: PromClientLike;
  /**
   * The `prom-client` registry to create the metrics in.
   * @default client.register, prom-client's global registry
   */
  promRegistry?: PromRegistryLike;
  /**
   * An OpenTelemetry `Meter`: the same metrics are then also reported as
   * its instruments (named `<prefix>.is_leader`, `<prefix>.transitions`, …).
   */
  meter?: OtelMeterLike;
}

/** What a transition counts: becoming the leader, or why a tenure ended. */
type Transition = 'elected' | RevokeReason;

/** Every transition, so that each series starts at 0 (a `Record` so that a new reason fails to compile until listed). */
const TRANSITIONS: Record<Transition, true> = { elected: true, lost: true, expired: true, resigned: true, closed: true, aborted: true, error: true };

const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** The metrics of one tracked leader. */
interface Series {
  readonly labels: MetricLabels;
  readonly leader: TrackedLeader;
  readonly transitions: Map<Transition, number>;
  /** By error code. */
  readonly errors: Map<string, number>;
  /** Observations per bucket (not cumulative); the last one is `+Inf`. */
  readonly renewBuckets: number[];
  renewSum: number;
  renewCount: number;
  /** `performance.now()` of the last renewal or election. */
  lastRenewAt: number | undefined;
  readonly untrack: () => void;
}

/** The instruments kept in step with the series: prom-client's and OpenTelemetry's. */
interface Mirror {
  transition?(labels: MetricLabels, reason: Transition): void;
  renewed(labels: MetricLabels, seconds: number): void;
  error?(labels: MetricLabels, code: string): void;
  forget?(labels: MetricLabels): void;
}

/**
 * Metrics of one or more leaders of this process, per election and node:
 *
 * | name (default prefix) | type | labels |
 * |---|---|---|
 * | `mysql_leader_is_leader` | gauge | election, node |
 * | `mysql_leader_lease_remaining_seconds` | gauge | election, node |
 * | `mysql_leader_seconds_since_last_renew` | gauge | election, node |
 * | `mysql_leader_transitions_total` | counter | election, node, reason |
 * | `mysql_leader_renew_duration_seconds` | histogram | election, node |
 * | `mysql_leader_errors_total` | counter | election, node, code |
 */
export class LeaderMetrics {
  readonly #prefix: string;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series>();
  readonly #mirrors: Mirror[] = [];

  /** Throws a `TypeError`/`RangeError` naming a bad option. */
  constructor(options: LeaderMetricsOptions = {}) {
    const prefix = options.prefix ?? 'mysql_leader';
    if (typeof prefix !== 'string' || !METRIC_NAME.test(prefix)) {
      throw new TypeError(`options.prefix must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), received ${JSON.stringify(prefix)}`);
    }
    this.#prefix = prefix;
    this.#bounds = checkBuckets(options.renewBuckets ?? DEFAULT_BUCKETS);
    if (options.promClient) this.#mirrors.push(this.#promClientMirror(options.promClient, options.promRegistry));
    if (options.meter) this.#mirrors.push(this.#otelMirror(options.meter));
  }

  /**
   * Starts measuring `leader` (its events from now on, its getters at each
   * scrape). Tracking another leader with the same election and node
   * replaces it. Returns a function that stops tracking it and drops its series.
   */
  track(leader: TrackedLeader): () => void {
    const labels: MetricLabels = { election: leader.leaderName, node: leader.nodeName };
    const key = `${labels['election']}\u0000${labels['node']}`;
    this.#series.get(key)?.untrack();
    const onElected = (): void => {
      series.lastRenewAt = performance.now();
      this.#transition(series, 'elected');
    };
    const onRevoked = ({ reason }: { reason: RevokeReason }): void => this.#transition(series, reason);
    const onRenewed = ({ latencyMs }: { latencyMs: number }): void => {
      series.lastRenewAt = performance.now();
      const seconds = latencyMs / 1000;
      const found = this.#bounds.findIndex((bound) => seconds <= bound);
      const index = found === -1 ? this.#bounds.length : found;
      series.renewBuckets[index] = (series.renewBuckets[index] ?? 0) + 1;
      series.renewSum += seconds;
      series.renewCount += 1;
      for (const mirror of this.#mirrors) mirror.renewed(labels, seconds);
    };
    const onError = (error: Error): void => {
      const code = error instanceof MysqlLeaderError ? error.code : 'ERR_UNKNOWN';
      series.errors.set(code, (series.errors.get(code) ?? 0) + 1);
      for (const mirror of this.#mirrors) mirror.error?.(labels, code);
    };
    const series: Series = {
      labels,
      leader,
      transitions: new Map(Object.keys(TRANSITIONS).map((reason) => [reason as Transition, 0])),
      errors: new Map(),
      renewBuckets: Array.from({ length: this.#bounds.length + 1 }, () => 0),
      renewSum: 0,
      renewCount: 0,
      lastRenewAt: undefined,
      untrack: () => {
        if (this.#series.get(key) !== series) return;
        leader.off('elected', onElected);
        leader.off('revoked', onRevoked);
        leader.off('renewed', onRenewed);
        leader.off('error', onError);
        this.#series.delete(key);
        for (const mirror of this.#mirrors) mirror.forget?.(labels);
      },
    };
    this.#series.set(key, series);
    leader.on('elected', onElected);
    leader.on('revoked', onRevoked);
    leader.on('renewed', onRenewed);
    leader.on('error', onError);
    return series.untrack;
  }

  /** Every tracked leader's metrics in the Prometheus text format ({@link PROMETHEUS_CONTENT_TYPE}). */
  metrics(): string {
    const all = [...this.#series.values()];
    const families: string[] = [];
    const family = (suffix: string, type: string, help: string, lines: string[]): void => {
      const name = `${this.#prefix}_${suffix}`;
      families.push([`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines.map((line) => `${name}${line}`)].join('\n'));
    };
    family('is_leader', 'gauge', HELP.isLeader, all.map((s) => sample(s.labels, s.leader.leading ? 1 : 0)));
    family('lease_remaining_seconds', 'gauge', HELP.remaining, all.map((s) => sample(s.labels, s.leader.remainingMs / 1000)));
    const now = performance.now();
    family(
      'seconds_since_last_renew',
      'gauge',
      HELP.sinceRenew,
      all.flatMap((s) => (s.lastRenewAt === undefined ? [] : [sample(s.labels, (now - s.lastRenewAt) / 1000)])),
    );
    family('transitions_total', 'counter', HELP.transitions, all.flatMap((s) => [...s.transitions].map(([reason, n]) => sample({ ...s.labels, reason }, n))));
    family(
      'renew_duration_seconds',
      'histogram',
      HELP.renew,
      all.flatMap((s) => {
        let cumulative = 0;
        const buckets = [...this.#bounds, Infinity].map((bound, i) => {
          cumulative += s.renewBuckets[i] ?? 0;
          return `_bucket${sample({ ...s.labels, le: formatNumber(bound) }, cumulative)}`;
        });
        return [...buckets, `_sum${sample(s.labels, s.renewSum)}`, `_count${sample(s.labels, s.renewCount)}`];
      }),
    );
    family('errors_total', 'counter', HELP.errors, all.flatMap((s) => [...s.errors].map(([code, n]) => sample({ ...s.labels, code }, n))));
    return `${families.join('\n')}\n`;
  }

  #transition(series: Series, reason: Transition): void {
    series.transitions.set(reason, (series.transitions.get(reason) ?? 0) + 1);
    for (const mirror of this.#mirrors) mirror.transition?.(series.labels, reason);
  }

  /** Gauges and counters are read from the series at each scrape; the histogram is fed as renewals happen. */
  #promClientMirror(client: PromClientLike, registry: PromRegistryLike | undefined): Mirror {
    const all = (): Series[] => [...this.#series.values()];
    const config = (suffix: string, help: string, labelNames: string[]): PromMetricConfig => ({
      name: `${this.#prefix}_${suffix}`,
      help,
      labelNames,
      ...(registry && { registers: [] }),
    });
    const register = <M extends PromMetricLike>(metric: M): M => {
      registry?.registerMetric(metric);
      return metric;
    };
    const gauge = (suffix: string, help: string, read: (series: Series) => number | undefined): void => {
      const metric = register(
        new client.Gauge({
          ...config(suffix, help, ['election', 'node']),
          collect: () => {
            metric.reset();
            for (const series of all()) {
              const value = read(series);
              if (value !== undefined) metric.set(series.labels, value);
            }
          },
        }),
      );
    };
    const counter = (suffix: string, help: string, label: string, read: (series: Series) => Map<string, number>): void => {
      const metric = register(
        new client.Counter({
          ...config(suffix, help, ['election', 'node', label]),
          collect: () => {
            metric.reset();
            for (const series of all()) for (const [value, n] of read(series)) metric.inc({ ...series.labels, [label]: value }, n);
          },
        }),
      );
    };
    gauge('is_leader', HELP.isLeader, (s) => (s.leader.leading ? 1 : 0));
    gauge('lease_remaining_seconds', HELP.remaining, (s) => s.leader.remainingMs / 1000);
    gauge('seconds_since_last_renew', HELP.sinceRenew, (s) => (s.lastRenewAt === undefined ? undefined : (performance.now() - s.lastRenewAt) / 1000));
    counter('transitions_total', HELP.transitions, 'reason', (s) => s.transitions);
    counter('errors_total', HELP.errors, 'code', (s) => s.errors);
    const histogram = register(new client.Histogram({ ...config('renew_duration_seconds', HELP.renew, ['election', 'node']), buckets: [...this.#bounds] }));
    return {
      renewed: (labels, seconds) => histogram.observe(labels, seconds),
      forget: (labels) => histogram.remove(labels),
    };
  }

  /** Gauges are observed at each collection; counters and the histogram are fed as events happen. */
  #otelMirror(meter: OtelMeterLike): Mirror {
    const name = (suffix: string): string => `${this.#prefix}.${suffix}`;
    const gauge = (suffix: string, description: string, unit: string, read: (series: Series) => number | undefined): void => {
      meter.createObservableGauge(name(suffix), { description, unit }).addCallback((result) => {
        for (const series of this.#series.values()) {
          const value = read(series);
          if (value !== undefined) result.observe(value, series.labels);
        }
      });
    };
    gauge('is_leader', HELP.isLeader, '1', (s) => (s.leader.leading ? 1 : 0));
    gauge('lease_remaining', HELP.remaining, 's', (s) => s.leader.remainingMs / 1000);
    gauge('time_since_last_renew', HELP.sinceRenew, 's', (s) => (s.lastRenewAt === undefined ? undefined : (performance.now() - s.lastRenewAt) / 1000));
    const transitions = meter.createCounter(name('transitions'), { description: HELP.transitions });
    const errors = meter.createCounter(name('errors'), { description: HELP.errors });
    const renew = meter.createHistogram(name('renew.duration'), { description: HELP.renew, unit: 's', advice: { explicitBucketBoundaries: [...this.#bounds] } });
    return {
      transition: (labels, reason) => transitions.add(1, { ...labels, reason }),
      error: (labels, code) => errors.add(1, { ...labels, code }),
      renewed: (labels, seconds) => renew.record(seconds, labels),
    };
  }
}

const HELP = {
  isLeader: 'Whether this node leads the election (1) or not (0), by its own deadline.',
  remaining: 'How long this node is sure to lead without another renewal, in seconds (0 when not leading).',
  sinceRenew: 'Seconds since this node last renewed or took the lease (absent until its first election).',
  transitions: 'Changes of leadership of this node: reason="elected" when it became the leader, else why its tenure ended.',
  renew: 'Time from sending a renewal to its reply, pool wait included, in seconds.',
  errors: 'Database errors met by this node (each error event), by error code.',
} as const;

function checkBuckets(buckets: readonly number[]): readonly number[] {
  if (!Array.isArray(buckets) || buckets.length === 0 || !buckets.every((b) => typeof b === 'number' && Number.isFinite(b) && b > 0)) {
    throw new TypeError(`options.renewBuckets must be a non-empty array of positive finite numbers (seconds), received ${JSON.stringify(buckets)}`);
  }
  if (buckets.some((b, i) => i > 0 && b <= (buckets[i - 1] as number))) {
    throw new RangeError(`options.renewBuckets must be in ascending order, received ${JSON.stringify(buckets)}`);
  }
  return Object.freeze([...buckets]);
}

/** `{labels} value`, with label values escaped as the text format requires. */
function sample(labels: MetricLabels, value: number): string {
  const pairs = Object.entries(labels).map(([key, raw]) => `${key}="${raw.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return `{${pairs.join(',')}} ${formatNumber(value)}`;
}

function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
