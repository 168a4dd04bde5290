/**
 * mysql-leader: leader election for Node.js on MySQL or MariaDB.
 * @packageDocumentation
 */
export { AlwaysLeader, type Leader } from './leader.js';
export { MysqlLeader, type ConnectionOf, type FenceOptions } from './mysql-leader.js';
export type { Logger, MysqlLeaderOptions, OptionName, ResolvedOptions } from './options.js';
export type { LockContext, TaskHandle, TenureContext, TenureTask } from './tenure.js';
export { abortOnError, continueOnError, type OnError } from './on-error.js';
export { CREATE_MYSQL_LEADER_SQL, createMysqlLeaderSql, createMysqlLeaderTable, type CreateTableOptions, type TableOptions } from './mysql/schema.js';
export type { Queryable } from './mysql/driver.js';
export type { Lease } from './store.js';
export type { ElectedEvent, LeaderChangeEvent, LeaderEvents, LeaderInfo, RenewedEvent, RevokedEvent, TaskErrorEvent } from './events.js';
export {
  ClosedError,
  CommitUnknownError,
  DatabaseError,
  LeadershipEndedError,
  MysqlLeaderError,
  NotLeaderError,
  OptionRangeError,
  OptionTypeError,
  QueryTimeoutError,
  SchemaError,
  type MysqlLeaderErrorCode,
  type RevokeReason,
} from './errors.js';
export { forceRelease, listElections, readElection, type AdminOptions, type ElectionStatus, type ForcedRelease } from './mysql/admin.js';
export { LeaderMetrics, type LeaderMetricsOptions } from './metrics/leader-metrics.js';
export { PROMETHEUS_CONTENT_TYPE } from './metrics/prometheus.js';
export type { MetricLabels, TrackedLeader } from './metrics/series.js';
export type { PromClientLike, PromHistogramLike, PromMetricConfig, PromMetricLike, PromRegistryLike } from './metrics/prom-client.js';
export type { OtelInstrumentOptions, OtelMeterLike, OtelObservableResultLike } from './metrics/opentelemetry.js';
export { LeaderHealth, type HealthSource, type HealthStatus, type LeaderHealthOptions } from './health.js';
export { nodeSet, type NodeConnection, type NodePool, type NodeSet, type NodeSetOptions } from './mysql/node-set.js';
// Scheduled jobs: once per slot, on the leader.
export { ScheduledJob, type FencedFireContext, type FireContext, type FireEvent, type JobEvents, type MissedEvent } from './scheduled-job.js';
export type { FireMode, Overlap, ResolvedScheduleOptions, ScheduleOptions } from './schedule-options.js';
export type { CatchUp } from './slots.js';
export type { FireOutcome } from './mysql/fires.js';
export { CREATE_MYSQL_LEADER_FIRES_SQL, createMysqlLeaderFiresSql, createMysqlLeaderFiresTable, type FiresTableOptions } from './mysql/fires-schema.js';
export { listJobs, type FireRecord, type JobStatus, type ListJobsOptions } from './job-status.js';
export type { TrackedJob } from './metrics/job-series.js';
export { nodeCronCoordinator, type NodeCronCoordinator, type NodeCronCoordinatorOptions } from './node-cron-coordinator.js';
// The lease engine: many elections in one process, their statements in batches.
export { Leases } from './leases.js';
export type { FencedLockOptions, LeaseOptions, LeasesOptions, LockOptions } from './leases-options.js';
export { LockTimeoutError, PermitTimeoutError } from './errors.js';
export { Semaphore, type Permit, type PermitEvent, type SemaphoreEvents } from './semaphore.js';
export {
  Share,
  type KeyEvent,
  type KeyReleasedEvent,
  type KeyRenewedEvent,
  type KeyTaskErrorEvent,
  type ShareEvents,
  type ShareTask,
  type ShareTaskContext,
} from './share.js';
export type { Candidate } from './mysql/candidates.js';
export type { LeaderOptions } from './candidates.js';
