/**
 * Metrics of leaders, built on their public getters and events only, with
 * no dependency: Prometheus text exposition on its own, the same series in a
 * `prom-client` registry when the application has one, and OpenTelemetry
 * instruments when given a `Meter`. The metrics themselves are listed once,
 * in catalog.ts.
 *
 * ```ts
 * const metrics = new LeaderMetrics();
 * metrics.track(leader);
 * // GET /metrics → res.setHeader('content-type', PROMETHEUS_CONTENT_TYPE).end(metrics.metrics());
 * ```
 */
import { performance } from 'node:perf_hooks';
import { MysqlLeaderError, OptionRangeError, OptionTypeError, type RevokeReason } from '../errors.js';
import { ERRORS_TOTAL, TRANSITIONS_TOTAL, type Counter } from './catalog.js';
import { jobSeries, jobsText, type JobSeries, type TrackedJob } from './job-series.js';
import { otelMirror, type OtelMeterLike } from './opentelemetry.js';
import { promClientMirror, type PromClientLike, type PromRegistryLike } from './prom-client.js';
import { prometheusText } from './prometheus.js';
import { TRANSITIONS, type MetricLabels, type Mirror, type Series, type TrackedLeader, type Transition } from './series.js';

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

const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Metrics of one or more leaders of this process, per election and node:
 *
 * | name (default prefix) | type | labels |
 * |---|---|---|
 * | `mysql_leader_is_leader` | gauge | election, node |
 * | `mysql_leader_lease_remaining_seconds` | gauge | election, node |
 * | `mysql_leader_seconds_since_last_renew` | gauge | election, node |
 * | `mysql_leader_transitions_total` | counter | election, node, reason |
 * | `mysql_leader_errors_total` | counter | election, node, code |
 * | `mysql_leader_renew_duration_seconds` | histogram | election, node |
 *
 * and of scheduled jobs, with {@link LeaderMetrics.trackJob}:
 *
 * | name (default prefix) | type | labels |
 * |---|---|---|
 * | `mysql_leader_job_fires_total` | counter | election, node, job, outcome |
 * | `mysql_leader_job_missed_slots_total` | counter | election, node, job |
 * | `mysql_leader_job_fire_lateness_seconds` | histogram | election, node, job |
 */
export class LeaderMetrics {
  readonly #prefix: string;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series>();
  readonly #mirrors: Mirror[] = [];
  readonly #jobs = new Map<string, JobSeries>();

  /** Throws a `TypeError`/`RangeError` naming a bad option. */
  constructor(options: LeaderMetricsOptions = {}) {
    const prefix = options.prefix ?? 'mysql_leader';
    if (typeof prefix !== 'string' || !METRIC_NAME.test(prefix)) {
      throw new OptionTypeError(
        ['options.prefix'],
        `options.prefix must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), received ${JSON.stringify(prefix)}`,
      );
    }
    this.#prefix = prefix;
    this.#bounds = checkBuckets(options.renewBuckets ?? DEFAULT_BUCKETS);
    const series = (): Iterable<Series> => this.#series.values();
    const jobs = (): Iterable<JobSeries> => this.#jobs.values();
    if (options.promClient) {
      this.#mirrors.push(promClientMirror({ client: options.promClient, registry: options.promRegistry, prefix, bounds: this.#bounds, series, jobs }));
    }
    if (options.meter) this.#mirrors.push(otelMirror({ meter: options.meter, prefix, bounds: this.#bounds, series }));
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
      this.#count(series, TRANSITIONS_TOTAL, 'elected');
    };
    const onRevoked = ({ reason }: { reason: RevokeReason }): void => this.#count(series, TRANSITIONS_TOTAL, reason);
    const onRenewed = ({ latencyMs }: { latencyMs: number }): void => {
      series.lastRenewAt = performance.now();
      const seconds = latencyMs / 1000;
      const found = this.#bounds.findIndex((bound) => seconds <= bound);
      const index = found === -1 ? this.#bounds.length : found;
      series.renewBuckets[index] = (series.renewBuckets[index] ?? 0) + 1;
      series.renewSum += seconds;
      series.renewCount += 1;
      for (const mirror of this.#mirrors) mirror.renewed?.(labels, seconds);
    };
    const onError = (error: Error): void => this.#count(series, ERRORS_TOTAL, error instanceof MysqlLeaderError ? error.code : 'ERR_UNKNOWN');
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

  /**
   * Starts measuring a scheduled job (`leader.schedule()`'s result): its
   * fires by outcome, its missed slots and the lateness of its fires, from
   * its events. Tracking another job with the same election, node and name
   * replaces it. Returns a function that stops tracking it. In the
   * Prometheus text of `metrics()`, and in the prom-client and
   * OpenTelemetry mirrors (`<prefix>.job.fires`, `<prefix>.job.missed_slots`,
   * `<prefix>.job.fire.lateness`).
   */
  trackJob(job: TrackedJob): () => void {
    const key = `${job.leaderName}\u0000${job.nodeName}\u0000${job.name}`;
    this.#jobs.get(key)?.untrack();
    const series = jobSeries(job, (dropped) => this.#jobs.get(key) === dropped && this.#jobs.delete(key), this.#mirrors);
    this.#jobs.set(key, series);
    return series.untrack;
  }

  /** Every tracked leader's (and job's) metrics in the Prometheus text format ({@link PROMETHEUS_CONTENT_TYPE}). */
  metrics(): string {
    return prometheusText(this.#prefix, this.#bounds, [...this.#series.values()], performance.now()) + jobsText(this.#prefix, [...this.#jobs.values()]);
  }

  /** One more event for `value` of `counter`'s label, here and in every mirror. */
  #count(series: Series, counter: Counter, value: string): void {
    const counts = counter.read(series);
    counts.set(value, (counts.get(value) ?? 0) + 1);
    for (const mirror of this.#mirrors) mirror.counted?.(counter, series.labels, value);
  }
}

function checkBuckets(buckets: readonly number[]): readonly number[] {
  if (!Array.isArray(buckets) || buckets.length === 0 || !buckets.every((b) => typeof b === 'number' && Number.isFinite(b) && b > 0)) {
    throw new OptionTypeError(
      ['options.renewBuckets'],
      `options.renewBuckets must be a non-empty array of positive finite numbers (seconds), received ${JSON.stringify(buckets)}`,
    );
  }
  if (buckets.some((b, i) => i > 0 && b <= (buckets[i - 1] as number))) {
    throw new OptionRangeError(['options.renewBuckets'], `options.renewBuckets must be in ascending order, received ${JSON.stringify(buckets)}`);
  }
  return Object.freeze(buckets.slice() as number[]); // Array.isArray() above narrowed `buckets` to any[]
}
