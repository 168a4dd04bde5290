/**
 * mysql-leader: leader election for Node.js on MySQL or MariaDB.
 * @packageDocumentation
 */
export { AlwaysLeader, type Leader } from './leader.js';
export { MysqlLeader } from './mysql-leader.js';
export type { MysqlLeaderOptions, ResolvedOptions } from './options.js';
export { abortOnError, continueOnError, type OnError } from './on-error.js';
export {
  CREATE_MYSQL_LEADER_SQL,
  createMysqlLeaderSql,
  createMysqlLeaderTable,
  type CreateTableOptions,
  type TableOptions,
} from './mysql/schema.js';
export type { Queryable } from './mysql/driver.js';
export type { Lease } from './store.js';
export type { ElectedEvent, LeaderChangeEvent, LeaderEvents, LeaderInfo, RenewedEvent, RevokedEvent } from './events.js';
export {
  ClosedError,
  DatabaseError,
  LeadershipEndedError,
  MysqlLeaderError,
  NotLeaderError,
  QueryTimeoutError,
  SchemaError,
  type MysqlLeaderErrorCode,
  type RevokeReason,
} from './errors.js';
