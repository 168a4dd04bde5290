/**
 * Metrics and the health check, driven by a stand-in leader's events: the
 * text format, the histogram, untracking, the prom-client and OpenTelemetry
 * mirrors (with stand-ins typed as the real modules are used), the health
 * rules, and option validation.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import {
  DatabaseError,
  LeaderHealth,
  LeaderMetrics,
  type LeaderEvents,
  type MetricLabels,
  type OtelMeterLike,
  type PromClientLike,
  type PromMetricConfig,
} from '../../src/index.js';
import { sampleValue } from '../support/prometheus.js';

/** A leader's public getters and events, set by hand. */
class StandInLeader extends EventEmitter<LeaderEvents> {
  leading = false;
  remainingMs = 0;
  handoverLockActive = true;
  term: number | undefined;
  readonly options = { age: 1000 };
  constructor(
    readonly leaderName = 'jobs',
    readonly nodeName = 'n1',
  ) {
    super();
  }

  elect(term: number): void {
    this.leading = true;
    this.term = term;
    this.remainingMs = 900;
    this.emit('elected', { term });
  }

  revoke(reason: 'lost' | 'expired' | 'error' | 'closed'): void {
    const term = this.term ?? 0;
    this.leading = false;
    this.term = undefined;
    this.remainingMs = 0;
    this.emit('revoked', { term, reason });
  }
}

const labels = { election: 'jobs', node: 'n1' };

describe('metrics: Prometheus text', () => {
  it('reports every metric per election and node, with HELP and TYPE lines', () => {
    const metrics = new LeaderMetrics({ renewBuckets: [0.01, 0.1] });
    const leader = new StandInLeader();
    metrics.track(leader);
    leader.elect(4);
    leader.emit('renewed', { term: 4, latencyMs: 5 });
    leader.emit('renewed', { term: 4, latencyMs: 50 });
    leader.emit('renewed', { term: 4, latencyMs: 500 });
    leader.emit('error', new DatabaseError('down'));
    leader.revoke('error');
    const text = metrics.metrics();
    for (const [name, type] of [
      ['is_leader', 'gauge'],
      ['lease_remaining_seconds', 'gauge'],
      ['seconds_since_last_renew', 'gauge'],
      ['transitions_total', 'counter'],
      ['renew_duration_seconds', 'histogram'],
      ['errors_total', 'counter'],
      ['handover_lock_active', 'gauge'],
    ]) {
      assert.match(text, new RegExp(`^# HELP mysql_leader_${name} .+\n# TYPE mysql_leader_${name} ${type}$`, 'm'));
    }
    assert.equal(sampleValue(text, 'mysql_leader_is_leader', labels), 0);
    assert.equal(sampleValue(text, 'mysql_leader_handover_lock_active', labels), 1);
    leader.handoverLockActive = false; // given back to a starved pool
    assert.equal(sampleValue(metrics.metrics(), 'mysql_leader_handover_lock_active', labels), 0);
    assert.equal(sampleValue(text, 'mysql_leader_transitions_total', { ...labels, reason: 'elected' }), 1);
    assert.equal(sampleValue(text, 'mysql_leader_transitions_total', { ...labels, reason: 'error' }), 1);
    assert.equal(sampleValue(text, 'mysql_leader_transitions_total', { ...labels, reason: 'lost' }), 0, 'every reason starts at 0');
    assert.equal(sampleValue(text, 'mysql_leader_renew_duration_seconds_bucket', { ...labels, le: '0.01' }), 1);
    assert.equal(sampleValue(text, 'mysql_leader_renew_duration_seconds_bucket', { ...labels, le: '0.1' }), 2, 'cumulative');
    assert.equal(sampleValue(text, 'mysql_leader_renew_duration_seconds_bucket', { ...labels, le: '+Inf' }), 3);
    assert.equal(sampleValue(text, 'mysql_leader_renew_duration_seconds_count', labels), 3);
    assert.ok(Math.abs((sampleValue(text, 'mysql_leader_renew_duration_seconds_sum', labels) ?? 0) - 0.555) < 1e-9);
    assert.equal(sampleValue(text, 'mysql_leader_errors_total', { ...labels, code: 'ERR_MYSQL_LEADER_DATABASE' }), 1);
    assert.ok(text.endsWith('\n'));
  });

  it('reads the gauges at each scrape, and escapes label values', () => {
    const metrics = new LeaderMetrics({ prefix: 'app_leader' });
    const leader = new StandInLeader('a "quoted"\\name\nx', 'n1');
    metrics.track(leader);
    leader.elect(1);
    const text = metrics.metrics();
    assert.match(text, /^app_leader_is_leader\{election="a \\"quoted\\"\\\\name\\nx",node="n1"\} 1$/m);
    assert.match(text, /^app_leader_lease_remaining_seconds\{.*\} 0\.9$/m);
  });

  it('untracking drops the series and the listeners; tracking the same election and node again replaces it', () => {
    const metrics = new LeaderMetrics();
    const first = new StandInLeader();
    const untrack = metrics.track(first);
    const second = new StandInLeader();
    metrics.track(second);
    assert.equal(first.listenerCount('elected'), 0, 'replaced');
    second.elect(2);
    assert.equal(sampleValue(metrics.metrics(), 'mysql_leader_is_leader', labels), 1);
    untrack(); // the first one's: no longer tracked, changes nothing
    assert.equal(sampleValue(metrics.metrics(), 'mysql_leader_is_leader', labels), 1);
    metrics.track(new StandInLeader('jobs', 'n2'))();
    assert.equal(sampleValue(metrics.metrics(), 'mysql_leader_is_leader', { election: 'jobs', node: 'n2' }), undefined);
  });

  it('rejects a bad prefix or bucket list, naming the option', () => {
    assert.throws(() => new LeaderMetrics({ prefix: 'bad-name' }), { name: 'TypeError', message: /options\.prefix/ });
    assert.throws(() => new LeaderMetrics({ renewBuckets: [] }), { name: 'TypeError', message: /options\.renewBuckets/ });
    assert.throws(() => new LeaderMetrics({ renewBuckets: [0.1, 0.01] }), { name: 'RangeError', message: /ascending/ });
  });
});

describe('metrics: prom-client and OpenTelemetry', () => {
  it('creates the same metrics with the given prom-client module, registered in the given registry and kept equal at each scrape', () => {
    const created: { kind: string; config: PromMetricConfig; values: Map<string, number>; observed: number[] }[] = [];
    const key = (labels: MetricLabels): string => JSON.stringify(labels);
    const base = (kind: string, config: PromMetricConfig) => {
      const entry = { kind, config, values: new Map<string, number>(), observed: [] as number[] };
      created.push(entry);
      return entry;
    };
    const client: PromClientLike = {
      Gauge: class {
        readonly entry: ReturnType<typeof base>;
        constructor(config: PromMetricConfig) {
          this.entry = base('gauge', config);
        }
        reset(): void {
          this.entry.values.clear();
        }
        set(labels: MetricLabels, value: number): void {
          this.entry.values.set(key(labels), value);
        }
      },
      Counter: class {
        readonly entry: ReturnType<typeof base>;
        constructor(config: PromMetricConfig) {
          this.entry = base('counter', config);
        }
        reset(): void {
          this.entry.values.clear();
        }
        inc(labels: MetricLabels, value: number): void {
          this.entry.values.set(key(labels), (this.entry.values.get(key(labels)) ?? 0) + value);
        }
      },
      Histogram: class {
        readonly entry: ReturnType<typeof base>;
        constructor(config: PromMetricConfig) {
          this.entry = base('histogram', config);
        }
        reset(): void {}
        observe(_labels: MetricLabels, value: number): void {
          this.entry.observed.push(value);
        }
        remove(): void {}
      },
    };
    const registered: unknown[] = [];
    const metrics = new LeaderMetrics({ promClient: client, promRegistry: { registerMetric: (metric) => void registered.push(metric) } });
    assert.deepEqual(created.map((c) => c.config.name).sort(), [
      'mysql_leader_errors_total',
      'mysql_leader_handover_lock_active',
      'mysql_leader_is_leader',
      'mysql_leader_job_fire_lateness_seconds',
      'mysql_leader_job_fires_total',
      'mysql_leader_job_missed_slots_total',
      'mysql_leader_lease_remaining_seconds',
      'mysql_leader_renew_duration_seconds',
      'mysql_leader_seconds_since_last_renew',
      'mysql_leader_transitions_total',
    ]);
    assert.equal(registered.length, 10);
    assert.ok(
      created.every((c) => c.config.registers?.length === 0),
      'not in the global registry',
    );
    const leader = new StandInLeader();
    metrics.track(leader);
    leader.elect(1);
    leader.emit('renewed', { term: 1, latencyMs: 20 });
    for (const c of created) c.config.collect?.(); // what the registry does at each scrape
    const find = (name: string) => created.find((c) => c.config.name === name);
    assert.equal(find('mysql_leader_is_leader')?.values.get(key(labels)), 1);
    assert.equal(find('mysql_leader_transitions_total')?.values.get(key({ ...labels, reason: 'elected' })), 1);
    assert.deepEqual(find('mysql_leader_renew_duration_seconds')?.observed, [0.02]);
  });

  it('reports to an OpenTelemetry meter: observable gauges, counters and a histogram', () => {
    const added: [string, number, MetricLabels | undefined][] = [];
    const callbacks: ((result: { observe(value: number, attributes?: MetricLabels): void }) => void)[] = [];
    const meter: OtelMeterLike = {
      createCounter: (name) => ({ add: (value, attributes) => void added.push([name, value, attributes]) }),
      createHistogram: (name) => ({ record: (value, attributes) => void added.push([name, value, attributes]) }),
      createObservableGauge: () => ({ addCallback: (callback) => void callbacks.push(callback) }),
    };
    const metrics = new LeaderMetrics({ meter });
    const leader = new StandInLeader();
    metrics.track(leader);
    leader.elect(1);
    leader.emit('renewed', { term: 1, latencyMs: 20 });
    assert.deepEqual(added, [
      ['mysql_leader.transitions', 1, { ...labels, reason: 'elected' }],
      ['mysql_leader.renew.duration', 0.02, labels],
    ]);
    const observed: [number, MetricLabels | undefined][] = [];
    callbacks[0]?.({ observe: (value, attributes) => void observed.push([value, attributes]) });
    assert.deepEqual(observed, [[1, labels]], 'is_leader');
  });
});

describe('health', () => {
  it('a follower that never led, or handed over cleanly, is healthy', async () => {
    const leader = new StandInLeader();
    using health = new LeaderHealth(leader, { threshold: 20 });
    assert.equal(health.check().healthy, true);
    leader.elect(1);
    leader.revoke('lost');
    await delay(40);
    assert.equal(health.check().healthy, true);
  });

  it('a node whose renewals failed turns unhealthy once the threshold has passed since its last renewal, until it leads again or sees another leader', async () => {
    const leader = new StandInLeader();
    using health = new LeaderHealth(leader, { threshold: 200 });
    leader.elect(1);
    leader.revoke('error');
    assert.equal(health.check().healthy, true, 'not yet past the threshold');
    await delay(300);
    const status = health.check();
    assert.equal(status.healthy, false);
    assert.match(status.reason ?? '', /unable to renew the lease for \d+ ms \(threshold 200 ms\)/);
    leader.emit('leaderChange', { leader: { nodeName: 'other', term: 2 }, previous: undefined });
    assert.equal(health.check().healthy, true, 'another node leads: the database answers');
    leader.elect(3);
    leader.revoke('expired');
    await delay(300);
    assert.equal(health.check().healthy, false);
    leader.elect(4);
    assert.equal(health.check().healthy, true);
  });

  it('a leader whose renewals are late is unhealthy; the default threshold is the lease age', async () => {
    const leader = new StandInLeader();
    using health = new LeaderHealth(leader, { threshold: 200 });
    leader.elect(1);
    await delay(300);
    assert.match(health.check().reason ?? '', /^leading, but the lease was last renewed/);
    leader.emit('renewed', { term: 1, latencyMs: 1 });
    assert.equal(health.check().healthy, true);
    assert.throws(() => new LeaderHealth(leader, { threshold: 0 }), { name: 'RangeError', message: /options\.threshold/ });
    using byDefault = new LeaderHealth(leader);
    assert.equal(byDefault.check().healthy, true);
  });

  it('close() removes its listeners', () => {
    const leader = new StandInLeader();
    const health = new LeaderHealth(leader);
    health.close();
    assert.equal(leader.listenerCount('revoked'), 0);
  });
});
