/**
 * The same metrics in a `prom-client` registry, with the module the
 * application gives (typed structurally here: this package never imports it).
 * Gauges and counters are read from the series at each scrape; the
 * histograms are fed as renewals and fires happen.
 */
import { performance } from 'node:perf_hooks';
import { COUNTERS, GAUGES, RENEW_DURATION } from './catalog.js';
import { JOB_METRICS, LATENESS_BUCKETS, type JobSeries } from './job-series.js';
import type { MetricLabels, Mirror, Series } from './series.js';

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

/** Where the prom-client exporter is created, and what it reads. */
export interface PromClientTarget {
  /** The application's `prom-client` module. */
  readonly client: PromClientLike;
  /** The registry to register the metrics in; prom-client's global one when absent. */
  readonly registry: PromRegistryLike | undefined;
  /** The first part of every metric's name. */
  readonly prefix: string;
  /** The histogram's bucket bounds, in seconds. */
  readonly bounds: readonly number[];
  /** The tracked series, read at each scrape. */
  readonly series: () => Iterable<Series>;
  /** The tracked jobs' series, read at each scrape. */
  readonly jobs: () => Iterable<JobSeries>;
}

/** Creates the metrics of the catalog, and the jobs', with `prom-client`; returns what keeps the histograms fed. */
export function promClientMirror({ client, registry, prefix, bounds, series, jobs }: PromClientTarget): Mirror {
  const config = (suffix: string, help: string, labelNames: string[]): PromMetricConfig => ({
    name: `${prefix}_${suffix}`,
    help,
    labelNames,
    ...(registry && { registers: [] }),
  });
  const register = <M extends PromMetricLike>(metric: M): M => {
    registry?.registerMetric(metric);
    return metric;
  };
  for (const gauge of GAUGES) {
    const metric = register(
      new client.Gauge({
        ...config(gauge.name, gauge.help, ['election', 'node']),
        collect: () => {
          metric.reset();
          const now = performance.now();
          for (const one of series()) {
            const value = gauge.read(one, now);
            if (value !== undefined) metric.set(one.labels, value);
          }
        },
      }),
    );
  }
  for (const counter of COUNTERS) {
    const metric = register(
      new client.Counter({
        ...config(counter.name, counter.help, ['election', 'node', counter.label]),
        collect: () => {
          metric.reset();
          for (const one of series()) for (const [value, n] of counter.read(one)) metric.inc({ ...one.labels, [counter.label]: value }, n);
        },
      }),
    );
  }
  const histogram = register(new client.Histogram({ ...config(RENEW_DURATION.name, RENEW_DURATION.help, ['election', 'node']), buckets: [...bounds] }));
  const fires = register(
    new client.Counter({
      ...config(JOB_METRICS.fires.name, JOB_METRICS.fires.help, ['election', 'node', 'job', 'outcome']),
      collect: () => {
        fires.reset();
        for (const job of jobs()) for (const [outcome, n] of job.fires) fires.inc({ ...job.labels, outcome }, n);
      },
    }),
  );
  const missed = register(
    new client.Counter({
      ...config(JOB_METRICS.missed.name, JOB_METRICS.missed.help, ['election', 'node', 'job']),
      collect: () => {
        missed.reset();
        for (const job of jobs()) missed.inc(job.labels, job.missed);
      },
    }),
  );
  const lateness = register(
    new client.Histogram({ ...config(JOB_METRICS.lateness.name, JOB_METRICS.lateness.help, ['election', 'node', 'job']), buckets: [...LATENESS_BUCKETS] }),
  );
  return {
    renewed: (labels, seconds) => histogram.observe(labels, seconds),
    forget: (labels) => histogram.remove(labels),
    fired: (labels, _outcome, seconds) => seconds !== undefined && lateness.observe(labels, seconds),
    forgetJob: (labels) => lateness.remove(labels),
  };
}
