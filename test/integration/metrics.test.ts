/**
 * Metrics and the health check on real leaders: the exported text follows
 * a change of leader; a real job's fires reach the text and an OpenTelemetry meter alike. Timing: age 2000 ms, tick 500 ms.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import {
  LeaderHealth,
  LeaderMetrics,
  MysqlLeader,
  continueOnError,
  createMysqlLeaderFiresTable,
  createMysqlLeaderTable,
  type MetricLabels,
  type MysqlLeaderOptions,
} from '../../src/index.js';
import { useDatabase } from '../support/database.js';
import { sampleValue } from '../support/prometheus.js';

const FAST: MysqlLeaderOptions = { age: 2000, tick: 500, onError: continueOnError };
const db = await useDatabase('metrics');
await createMysqlLeaderTable(db.pool);
await createMysqlLeaderFiresTable(db.pool);

describe('metrics', () => {
  it('the is-leader gauge flips on a change of leader, with the transitions counted by reason', async () => {
    const metrics = new LeaderMetrics();
    const a = new MysqlLeader(db.newPool({ connectionLimit: 3 }), 'flip', { ...FAST, nodeName: 'a' });
    const b = new MysqlLeader(db.newPool({ connectionLimit: 3 }), 'flip', { ...FAST, nodeName: 'b' });
    metrics.track(a);
    metrics.track(b);
    const gauge = (text: string, node: string): number | undefined => sampleValue(text, 'mysql_leader_is_leader', { election: 'flip', node });
    const transitions = (text: string, node: string, reason: string): number | undefined =>
      sampleValue(text, 'mysql_leader_transitions_total', { election: 'flip', node, reason });

    const before = metrics.metrics();
    assert.equal(gauge(before, 'a'), 0);
    assert.equal(gauge(before, 'b'), 0);
    assert.equal(sampleValue(before, 'mysql_leader_seconds_since_last_renew', { election: 'flip', node: 'a' }), undefined, 'absent before an election');

    const firstElected = Promise.race([once(a, 'elected').then(() => a), once(b, 'elected').then(() => b)]);
    const campaigns = [a.acquire(), b.acquire()];
    const first = await firstElected;
    const second = first === a ? b : a;
    await once(first, 'renewed');
    const leading = metrics.metrics();
    assert.equal(gauge(leading, first.nodeName), 1);
    assert.equal(gauge(leading, second.nodeName), 0);
    assert.equal(transitions(leading, first.nodeName, 'elected'), 1);
    assert.ok((sampleValue(leading, 'mysql_leader_renew_duration_seconds_count', { election: 'flip', node: first.nodeName }) ?? 0) >= 1);
    assert.ok((sampleValue(leading, 'mysql_leader_lease_remaining_seconds', { election: 'flip', node: first.nodeName }) ?? 0) > 0);
    const since = sampleValue(leading, 'mysql_leader_seconds_since_last_renew', { election: 'flip', node: first.nodeName });
    assert.ok(since !== undefined && since >= 0 && since < 2, `seconds since the last renewal: ${since}`);

    const secondElected = once(second, 'elected');
    await first.close();
    await secondElected;
    const flipped = metrics.metrics();
    assert.equal(gauge(flipped, first.nodeName), 0);
    assert.equal(gauge(flipped, second.nodeName), 1);
    assert.equal(transitions(flipped, first.nodeName, 'closed'), 1);
    assert.equal(transitions(flipped, second.nodeName, 'elected'), 1);
    await second.close();
    await Promise.all(campaigns);
    assert.equal(gauge(metrics.metrics(), second.nodeName), 0);
  });

  it('the health check stays healthy through a clean hand-over', async () => {
    const leader = new MysqlLeader(db.newPool({ connectionLimit: 3 }), 'health', FAST);
    using health = new LeaderHealth(leader, { threshold: 1000 });
    assert.deepEqual(health.check(), { healthy: true, leading: false, term: undefined, sinceRenewMs: undefined, reason: undefined });
    const campaign = leader.acquire();
    await once(leader, 'elected');
    await once(leader, 'renewed');
    const status = health.check();
    assert.equal(status.healthy, true);
    assert.equal(status.leading, true);
    assert.equal(status.term, leader.term);
    await leader.close();
    await campaign;
    await delay(1100);
    assert.equal(health.check().healthy, true, 'closed, not troubled');
  });

  it('a real job’s fires and their lateness reach the text and the OpenTelemetry meter alike', async () => {
    const recorded: [string, number, MetricLabels | undefined][] = [];
    const metrics = new LeaderMetrics({
      meter: {
        createCounter: (name) => ({ add: (value, attributes) => void recorded.push([name, value, attributes]) }),
        createHistogram: (name) => ({ record: (value, attributes) => void recorded.push([name, value, attributes]) }),
        createObservableGauge: () => ({ addCallback: () => {} }),
      },
    });
    const leader = new MysqlLeader(db.newPool({ connectionLimit: 3 }), 'job-metrics', FAST);
    const job = leader.schedule('tick', '* * * * * *', () => {});
    metrics.trackJob(job);
    const campaign = leader.acquire();
    // Two fires done: a slot may also be skipped (due while the one before it, a catch-up, still ran: CI saw it under load).
    await new Promise<void>((resolve) => {
      let done = 0;
      job.on('fire', ({ outcome }) => {
        if (outcome === 'done' && ++done === 2) resolve();
      });
    });
    await leader.close();
    await campaign;
    const labels = { election: 'job-metrics', node: leader.nodeName, job: 'tick' };
    const text = metrics.metrics();
    const done = sampleValue(text, 'mysql_leader_job_fires_total', { ...labels, outcome: 'done' }) ?? 0;
    assert.ok(done >= 2, `fires counted: ${done}`);
    const otelFires = recorded.filter(([name, , attributes]) => name === 'mysql_leader.job.fires' && attributes?.['outcome'] === 'done');
    assert.equal(otelFires.length, done, 'one add per fire');
    const latenesses = recorded.filter(([name]) => name === 'mysql_leader.job.fire.lateness').map(([, value]) => value);
    assert.equal(latenesses.length, sampleValue(text, 'mysql_leader_job_fire_lateness_seconds_count', labels));
    assert.ok(
      latenesses.every((seconds) => seconds >= 0 && seconds < 5),
      `lateness in seconds, by the database clock: ${latenesses.join(', ')}`,
    );
  });
});
