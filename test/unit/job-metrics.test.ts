/**
 * Metrics of scheduled jobs, driven by a stand-in job's events: fires by
 * outcome (failures and skipped slots), missed slots, fire lateness; untracking.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { LeaderMetrics, type JobEvents } from '../../src/index.js';
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
});
