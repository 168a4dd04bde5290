/**
 * Metrics of scheduled jobs, driven by a stand-in job's events: fires by
 * outcome (failures and skipped slots), missed slots, fire lateness;
 * untracking; the same in the prom-client and OpenTelemetry mirrors (with
 * stand-ins typed as the real modules are used).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { LeaderMetrics, type JobEvents, type MetricLabels, type OtelMeterLike, type PromClientLike, type PromMetricConfig } from '../../src/index.js';
import { sampleValue } from '../support/prometheus.js';

/** A job's names and events, emitted by hand. */
class StandInJob extends EventEmitter<JobEvents> {
  readonly name = 'report';
  readonly leaderName = 'reports';
  readonly nodeName = 'n1';

  fire(outcome: 'done' | 'failed' | 'skipped' | 'interrupted', latenessMs: number): void {
    this.emit('fire', { job: this.name, slot: new Date(0), term: 1, attempt: 1, outcome, latenessMs, durationMs: 1 });
  }
}

describe('job metrics', () => {
  it('counts fires by outcome and missed slots, and measures the lateness of fires (skipped slots are not fires)', () => {
    const metrics = new LeaderMetrics();
    const job = new StandInJob();
    const untrack = metrics.trackJob(job);
    job.fire('done', 3);
    job.fire('done', 15);
    job.fire('failed', 40);
    job.fire('skipped', 1000);
    job.emit('missed', { job: 'report', count: 3, latest: new Date(0) });
    const text = metrics.metrics();
    const labels = { election: 'reports', node: 'n1', job: 'report' };
    assert.equal(sampleValue(text, 'mysql_leader_job_fires_total', { ...labels, outcome: 'done' }), 2);
    assert.equal(sampleValue(text, 'mysql_leader_job_fires_total', { ...labels, outcome: 'failed' }), 1);
    assert.equal(sampleValue(text, 'mysql_leader_job_fires_total', { ...labels, outcome: 'skipped' }), 1);
    assert.equal(sampleValue(text, 'mysql_leader_job_fires_total', { ...labels, outcome: 'interrupted' }), 0);
    assert.equal(sampleValue(text, 'mysql_leader_job_missed_slots_total', labels), 3);
    assert.equal(sampleValue(text, 'mysql_leader_job_fire_lateness_seconds_bucket', { ...labels, le: '0.005' }), 1);
    assert.equal(sampleValue(text, 'mysql_leader_job_fire_lateness_seconds_bucket', { ...labels, le: '0.02' }), 2);
    assert.equal(sampleValue(text, 'mysql_leader_job_fire_lateness_seconds_bucket', { ...labels, le: '+Inf' }), 3);
    assert.equal(sampleValue(text, 'mysql_leader_job_fire_lateness_seconds_count', labels), 3);
    assert.match(text, /# TYPE mysql_leader_job_fire_lateness_seconds histogram/);
    untrack();
    assert.equal(job.listenerCount('fire') + job.listenerCount('missed'), 0);
    assert.doesNotMatch(metrics.metrics(), /job_fires_total/);
  });

  it('keeps the prom-client counters equal to the text at each scrape, feeds the lateness histogram as fires happen, and drops it on untrack', () => {
    const made = new Map<string, { config: PromMetricConfig; values: Map<string, number>; observed: [string, number][]; removed: string[] }>();
    const key = (labels: MetricLabels): string => JSON.stringify(labels);
    const entry = (config: PromMetricConfig) => {
      const found = { config, values: new Map<string, number>(), observed: [] as [string, number][], removed: [] as string[] };
      made.set(config.name, found);
      return found;
    };
    class Metric {
      readonly entry: ReturnType<typeof entry>;
      constructor(config: PromMetricConfig) {
        this.entry = entry(config);
      }
      reset(): void {
        this.entry.values.clear();
      }
      set(labels: MetricLabels, value: number): void {
        this.entry.values.set(key(labels), value);
      }
      inc(labels: MetricLabels, value: number): void {
        this.entry.values.set(key(labels), (this.entry.values.get(key(labels)) ?? 0) + value);
      }
      observe(labels: MetricLabels, value: number): void {
        this.entry.observed.push([key(labels), value]);
      }
      remove(labels: MetricLabels): void {
        this.entry.removed.push(key(labels));
      }
    }
    const client: PromClientLike = { Gauge: Metric, Counter: Metric, Histogram: Metric };
    const metrics = new LeaderMetrics({ promClient: client, promRegistry: { registerMetric: () => {} } });
    const job = new StandInJob();
    const untrack = metrics.trackJob(job);
    job.fire('done', 3);
    job.fire('failed', 40);
    job.fire('skipped', 1000);
    job.emit('missed', { job: 'report', count: 3, latest: new Date(0) });
    for (const metric of made.values()) metric.config.collect?.(); // what the registry does at each scrape
    const labels = { election: 'reports', node: 'n1', job: 'report' };
    const fires = made.get('mysql_leader_job_fires_total');
    assert.deepEqual(fires?.config.labelNames, ['election', 'node', 'job', 'outcome']);
    assert.equal(fires?.values.get(key({ ...labels, outcome: 'done' })), 1);
    assert.equal(fires?.values.get(key({ ...labels, outcome: 'failed' })), 1);
    assert.equal(fires?.values.get(key({ ...labels, outcome: 'skipped' })), 1);
    assert.equal(fires?.values.get(key({ ...labels, outcome: 'interrupted' })), 0);
    assert.equal(made.get('mysql_leader_job_missed_slots_total')?.values.get(key(labels)), 3);
    const lateness = made.get('mysql_leader_job_fire_lateness_seconds');
    assert.deepEqual(lateness?.observed, [
      [key(labels), 0.003],
      [key(labels), 0.04],
    ]);
    assert.equal(lateness?.config.buckets?.at(0), 0.005);
    untrack();
    for (const metric of made.values()) metric.config.collect?.();
    assert.equal(fires?.values.size, 0, 'no series once untracked');
    assert.deepEqual(lateness?.removed, [key(labels)]);
  });

  it('reports fires, missed slots and lateness to an OpenTelemetry meter as they happen', () => {
    const recorded: [string, number, MetricLabels | undefined][] = [];
    const created: [string, string | undefined, number[] | undefined][] = [];
    const meter: OtelMeterLike = {
      createCounter: (name) => ({ add: (value, attributes) => void recorded.push([name, value, attributes]) }),
      createHistogram: (name, options) => {
        created.push([name, options?.unit, options?.advice?.explicitBucketBoundaries]);
        return { record: (value, attributes) => void recorded.push([name, value, attributes]) };
      },
      createObservableGauge: () => ({ addCallback: () => {} }),
    };
    const metrics = new LeaderMetrics({ meter });
    const job = new StandInJob();
    metrics.trackJob(job);
    job.fire('done', 15);
    job.fire('skipped', 1000);
    job.emit('missed', { job: 'report', count: 2, latest: new Date(0) });
    const labels = { election: 'reports', node: 'n1', job: 'report' };
    assert.deepEqual(recorded, [
      ['mysql_leader.job.fires', 1, { ...labels, outcome: 'done' }],
      ['mysql_leader.job.fire.lateness', 0.015, labels],
      ['mysql_leader.job.fires', 1, { ...labels, outcome: 'skipped' }],
      ['mysql_leader.job.missed_slots', 2, labels],
    ]);
    const histogram = created.find(([name]) => name === 'mysql_leader.job.fire.lateness');
    assert.equal(histogram?.[1], 's');
    assert.equal(histogram?.[2]?.at(-1), 3600);
  });
});
