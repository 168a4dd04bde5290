/**
 * Metrics of scheduled jobs, kept from their `fire` and `missed` events, and
 * their Prometheus text: fires by outcome (failures and skipped slots
 * among them), missed slots, and the lateness of fires (from the slot's time
 * to the start of `fn`, by the database clock).
 */
import type { FireEvent, MissedEvent } from '../scheduled-job.js';
import { formatNumber, sample } from './prometheus.js';
import type { MetricLabels, Mirror } from './series.js';

/** What the metrics read from a job: a `ScheduledJob`, or anything with the same names and events. */
export interface TrackedJob {
  /** The job (the `job` label). */
  readonly name: string;
  /** Its election (the `election` label). */
  readonly leaderName: string;
  /** This participant (the `node` label). */
  readonly nodeName: string;
  /** Subscribes to `fire` and `missed`. */
  on(event: 'fire', listener: (event: FireEvent) => void): unknown;
  /** See `on('fire')`. */
  on(event: 'missed', listener: (event: MissedEvent) => void): unknown;
  /** Unsubscribes (`untrack`). */
  off(event: 'fire', listener: (event: FireEvent) => void): unknown;
  /** See `off('fire')`. */
  off(event: 'missed', listener: (event: MissedEvent) => void): unknown;
}

/** Upper bounds of the fire lateness histogram's buckets, in seconds: milliseconds on a healthy leader, up to an hour when catching up. */
export const LATENESS_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 3600]);

/** The jobs' metrics, once: their names (Prometheus after the prefix and `_`, OpenTelemetry after the prefix and `.`) and help. */
export const JOB_METRICS = {
  fires: {
    name: 'job_fires_total',
    otelName: 'job.fires',
    help: 'Fires of a scheduled job on this node, by outcome: done, failed, skipped (its previous fire still ran), interrupted (its tenure ended while it ran).',
  },
  missed: {
    name: 'job_missed_slots_total',
    otelName: 'job.missed_slots',
    help: 'Due slots of a scheduled job that this node left unfired, as catchUp decided (missed while nobody led, or while it was paused).',
  },
  lateness: {
    name: 'job_fire_lateness_seconds',
    otelName: 'job.fire.lateness',
    help: "Time from a slot's scheduled time to the start of its fire, by the database clock, in seconds.",
  },
} as const;

/** Every outcome a fire event has, so that each series starts at 0. */
const OUTCOMES: readonly FireEvent['outcome'][] = ['done', 'failed', 'skipped', 'interrupted'];

/** The metrics of one tracked job. */
export interface JobSeries {
  /** Its `election`, `node` and `job` labels. */
  readonly labels: MetricLabels;
  /** Fires by outcome. */
  readonly fires: Map<string, number>;
  /** Missed slots (due, not fired, as `catchUp` decided). */
  missed: number;
  /** Fire lateness: observations per bucket (not cumulative); the last one is `+Inf`. */
  readonly buckets: number[];
  /** Sum of the latenesses, in seconds. */
  sum: number;
  /** Number of fires measured. */
  count: number;
  /** Stops tracking the job and drops the series. */
  readonly untrack: () => void;
}

/** Starts a series for `job`, fed by its events and told to `mirrors`; `drop` is called when it is untracked, and says whether it was still the current one. */
export function jobSeries(job: TrackedJob, drop: (series: JobSeries) => boolean, mirrors: readonly Mirror[]): JobSeries {
  const onFire = (event: FireEvent): void => {
    series.fires.set(event.outcome, (series.fires.get(event.outcome) ?? 0) + 1);
    // A skipped slot is counted, but not a fire whose lateness is measured.
    const seconds = event.outcome === 'skipped' ? undefined : Math.max(0, event.latenessMs) / 1000;
    for (const mirror of mirrors) mirror.fired?.(series.labels, event.outcome, seconds);
    if (seconds === undefined) return;
    const found = LATENESS_BUCKETS.findIndex((bound) => seconds <= bound);
    const index = found === -1 ? LATENESS_BUCKETS.length : found;
    series.buckets[index] = (series.buckets[index] ?? 0) + 1;
    series.sum += seconds;
    series.count += 1;
  };
  const onMissed = (event: MissedEvent): void => {
    series.missed += event.count;
    for (const mirror of mirrors) mirror.missed?.(series.labels, event.count);
  };
  const series: JobSeries = {
    labels: { election: job.leaderName, node: job.nodeName, job: job.name },
    fires: new Map(OUTCOMES.map((outcome) => [outcome, 0])),
    missed: 0,
    buckets: Array.from({ length: LATENESS_BUCKETS.length + 1 }, () => 0),
    sum: 0,
    count: 0,
    untrack: () => {
      job.off('fire', onFire);
      job.off('missed', onMissed);
      // A series replaced by another of the same labels leaves the mirrors' to it.
      if (drop(series)) for (const mirror of mirrors) mirror.forgetJob?.(series.labels);
    },
  };
  job.on('fire', onFire);
  job.on('missed', onMissed);
  return series;
}

/** The jobs' families in the Prometheus text format (empty when no job is tracked). */
export function jobsText(prefix: string, all: readonly JobSeries[]): string {
  if (all.length === 0) return '';
  const families: string[] = [];
  const family = (suffix: string, type: string, help: string, lines: string[]): void => {
    const name = `${prefix}_${suffix}`;
    families.push([`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines.map((line) => `${name}${line}`)].join('\n'));
  };
  family(
    JOB_METRICS.fires.name,
    'counter',
    JOB_METRICS.fires.help,
    all.flatMap((series) => [...series.fires].map(([outcome, n]) => sample({ ...series.labels, outcome }, n))),
  );
  family(
    JOB_METRICS.missed.name,
    'counter',
    JOB_METRICS.missed.help,
    all.map((series) => sample(series.labels, series.missed)),
  );
  family(
    JOB_METRICS.lateness.name,
    'histogram',
    JOB_METRICS.lateness.help,
    all.flatMap((series) => {
      let cumulative = 0;
      const buckets = [...LATENESS_BUCKETS, Infinity].map((bound, i) => {
        cumulative += series.buckets[i] ?? 0;
        return `_bucket${sample({ ...series.labels, le: formatNumber(bound) }, cumulative)}`;
      });
      return [...buckets, `_sum${sample(series.labels, series.sum)}`, `_count${sample(series.labels, series.count)}`];
    }),
  );
  return `${families.join('\n')}\n`;
}
