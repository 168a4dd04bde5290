/** The Prometheus text exposition of the series, written without any dependency. */
import { COUNTERS, GAUGES, RENEW_DURATION } from './catalog.js';
import type { MetricLabels, Series } from './series.js';

/** The `Content-Type` of the text of `LeaderMetrics.metrics()` (Prometheus text format 0.0.4). */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Every series in the Prometheus text format: the gauges read now, the
 * counters, and the renewal histogram with the bucket bounds `bounds` (seconds).
 */
export function prometheusText(prefix: string, bounds: readonly number[], all: readonly Series[], now: number): string {
  const families: string[] = [];
  const family = (suffix: string, type: string, help: string, lines: string[]): void => {
    const name = `${prefix}_${suffix}`;
    families.push([`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines.map((line) => `${name}${line}`)].join('\n'));
  };
  for (const gauge of GAUGES) {
    family(
      gauge.name,
      'gauge',
      gauge.help,
      all.flatMap((series) => {
        const value = gauge.read(series, now);
        return value === undefined ? [] : [sample(series.labels, value)];
      }),
    );
  }
  for (const counter of COUNTERS) {
    family(
      counter.name,
      'counter',
      counter.help,
      all.flatMap((series) => [...counter.read(series)].map(([value, n]) => sample({ ...series.labels, [counter.label]: value }, n))),
    );
  }
  family(
    RENEW_DURATION.name,
    'histogram',
    RENEW_DURATION.help,
    all.flatMap((series) => {
      let cumulative = 0;
      const buckets = [...bounds, Infinity].map((bound, i) => {
        cumulative += series.renewBuckets[i] ?? 0;
        return `_bucket${sample({ ...series.labels, le: formatNumber(bound) }, cumulative)}`;
      });
      return [...buckets, `_sum${sample(series.labels, series.renewSum)}`, `_count${sample(series.labels, series.renewCount)}`];
    }),
  );
  return `${families.join('\n')}\n`;
}

/** `{labels} value`, with label values escaped as the text format requires. */
export function sample(labels: MetricLabels, value: number): string {
  const pairs = Object.entries(labels).map(([key, raw]) => `${key}="${raw.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return `{${pairs.join(',')}} ${formatNumber(value)}`;
}

/** A sample's value as the text format writes it (`+Inf`, `-Inf`). */
export function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
