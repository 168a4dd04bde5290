/**
 * The same metrics as OpenTelemetry instruments of the `Meter` the
 * application gives (typed structurally here: this package never imports
 * `@opentelemetry/api`). Gauges are observed at each collection; counters
 * and the histograms are fed as events happen (the jobs' too).
 */
import { performance } from 'node:perf_hooks';
import { COUNTERS, GAUGES, RENEW_DURATION } from './catalog.js';
import { JOB_METRICS, LATENESS_BUCKETS } from './job-series.js';
import type { MetricLabels, Mirror, Series } from './series.js';

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
  /** For the renewal latency and the fire lateness. */
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

/** Where the OpenTelemetry exporter is created, and what it reads. */
export interface OtelTarget {
  /** The application's meter. */
  readonly meter: OtelMeterLike;
  /** The first part of every instrument's name. */
  readonly prefix: string;
  /** The histogram's bucket bounds, in seconds. */
  readonly bounds: readonly number[];
  /** The tracked series, read at each collection. */
  readonly series: () => Iterable<Series>;
}

/** Creates the instruments of the catalog on `meter`; returns what feeds the counters and the histogram. */
export function otelMirror({ meter, prefix, bounds, series }: OtelTarget): Mirror {
  const name = (suffix: string): string => `${prefix}.${suffix}`;
  for (const gauge of GAUGES) {
    meter.createObservableGauge(name(gauge.otelName), { description: gauge.help, unit: gauge.unit }).addCallback((result) => {
      const now = performance.now();
      for (const one of series()) {
        const value = gauge.read(one, now);
        if (value !== undefined) result.observe(value, one.labels);
      }
    });
  }
  const counters = new Map(COUNTERS.map((counter) => [counter, meter.createCounter(name(counter.otelName), { description: counter.help })] as const));
  const renew = meter.createHistogram(name(RENEW_DURATION.otelName), {
    description: RENEW_DURATION.help,
    unit: RENEW_DURATION.unit,
    advice: { explicitBucketBoundaries: [...bounds] },
  });
  const fires = meter.createCounter(name(JOB_METRICS.fires.otelName), { description: JOB_METRICS.fires.help });
  const missed = meter.createCounter(name(JOB_METRICS.missed.otelName), { description: JOB_METRICS.missed.help });
  const lateness = meter.createHistogram(name(JOB_METRICS.lateness.otelName), {
    description: JOB_METRICS.lateness.help,
    unit: 's',
    advice: { explicitBucketBoundaries: [...LATENESS_BUCKETS] },
  });
  return {
    counted: (counter, labels, value) => counters.get(counter)?.add(1, { ...labels, [counter.label]: value }),
    renewed: (labels, seconds) => renew.record(seconds, labels),
    fired: (labels, outcome, seconds) => {
      fires.add(1, { ...labels, outcome });
      if (seconds !== undefined) lateness.record(seconds, labels);
    },
    missed: (labels, count) => missed.add(count, labels),
  };
}
