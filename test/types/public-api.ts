/**
 * Type tests of the public API, checked by `npm run typecheck` (never run):
 * each `expectType`/`expectEqual` must compile, and each `@ts-expect-error`
 * line must fail to, or tsc reports the directive as unused. They import the
 * package by name, as a user does: what they check is the shipped `.d.ts`.
 */
import type * as mariadb from 'mariadb';
import type * as mysql2 from 'mysql2';
import type * as mysql2Promise from 'mysql2/promise';
import {
  AlwaysLeader,
  Leases,
  MysqlLeader,
  type Share,
  NotLeaderError,
  nodeSet,
  type ConnectionOf,
  type Candidate,
  type ElectedEvent,
  type KeyReleasedEvent,
  type Lease,
  type Leader,
  type LeaderInfo,
  type MysqlLeaderErrorCode,
  type NodeSet,
  type Queryable,
  type RevokeReason,
  type ShareTaskContext,
  type TaskHandle,
  type TenureContext,
} from 'mysql-leader';

/** Compiles only when `value` is assignable to `T`. */
function expectType<T>(value: T): T {
  return value;
}
/** `true` only when `A` and `B` are the same type (not merely assignable either way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only when `A` and `B` are the same type: `expectEqual<A, B>(true)`. */
function expectEqual<A, B>(same: Equal<A, B>): Equal<A, B> {
  return same;
}

declare const mysql2Pool: mysql2Promise.Pool;
declare const mysql2Connection: mysql2Promise.Connection;
declare const mysql2CallbackPool: mysql2.Pool;
declare const mariadbPool: mariadb.Pool;
declare const mariadbConnection: mariadb.Connection;

// ConnectionOf: what withLeadership() hands to its function, for each kind of handle.
export const connectionOf = [
  expectEqual<ConnectionOf<mysql2Promise.Pool>, mysql2Promise.PoolConnection>(true),
  expectEqual<ConnectionOf<mysql2.Pool>, mysql2Promise.PoolConnection>(true), // through .promise()
  expectEqual<ConnectionOf<mysql2Promise.Connection>, mysql2Promise.Connection>(true),
  expectEqual<ConnectionOf<mariadb.Pool>, mariadb.PoolConnection>(true),
  expectEqual<ConnectionOf<mariadb.Connection>, mariadb.Connection>(true),
  expectEqual<ConnectionOf<Queryable>, Queryable>(true),
  // @ts-expect-error a mysql2 pool's connection is not the pool
  expectEqual<ConnectionOf<mysql2Promise.Pool>, mysql2Promise.Pool>(true),
];

const leader = new MysqlLeader(mysql2Pool, 'type-tests', { age: 10_000, tick: 2_000 });
expectType<MysqlLeader<mysql2Promise.Pool>>(leader);
expectType<Leader>(leader);
expectType<Leader>(new AlwaysLeader());

export async function properties(): Promise<void> {
  expectType<boolean>(leader.leading);
  expectType<number | undefined>(leader.term);
  expectType<AbortSignal>(leader.signal);
  expectType<number>(leader.remainingMs);
  expectType<boolean>(await leader.isLeader());
  expectType<Lease | undefined>(await leader.currentLeader());
  expectType<string>(leader.options.tableName);
  // @ts-expect-error the options are frozen
  leader.options.age = 1;
  // @ts-expect-error term may be undefined (not leading)
  expectType<number>(leader.term);
}

export function options(): void {
  // @ts-expect-error durations are numbers of milliseconds
  new MysqlLeader(mysql2Pool, 'x', { age: '10s' });
  // @ts-expect-error not an option
  new MysqlLeader(mysql2Pool, 'x', { ttl: 10_000 });
  // @ts-expect-error exactOptionalPropertyTypes: leave an option out rather than pass undefined
  new MysqlLeader(mysql2Pool, 'x', { tick: undefined });
  // @ts-expect-error not a database handle
  new MysqlLeader({ execute: () => [] }, 'x');
}

// withLeadership(): the default handle, and options.db of every kind.
export async function withLeadership(): Promise<void> {
  const count = await leader.withLeadership(async (connection, tenure) => {
    expectEqual<typeof connection, mysql2Promise.PoolConnection>(true);
    expectEqual<typeof tenure, TenureContext>(true);
    expectType<number>(tenure.term);
    expectType<AbortSignal>(tenure.signal);
    const [rows] = await connection.query('SELECT 1 AS one');
    return Array.isArray(rows) ? rows.length : 0;
  });
  expectEqual<typeof count, number>(true);

  await leader.withLeadership(
    async (connection) => {
      expectEqual<typeof connection, mysql2Promise.Connection>(true);
    },
    { db: mysql2Connection },
  );
  await leader.withLeadership(
    async (connection) => {
      expectEqual<typeof connection, mysql2Promise.PoolConnection>(true);
    },
    { db: mysql2CallbackPool },
  );
  const name = await leader.withLeadership(
    async (connection) => {
      expectEqual<typeof connection, mariadb.PoolConnection>(true);
      return 'done' as const;
    },
    { db: mariadbPool },
  );
  expectEqual<typeof name, 'done'>(true);
  await leader.withLeadership(
    async (connection) => {
      expectEqual<typeof connection, mariadb.Connection>(true);
    },
    { db: mariadbConnection },
  );

  // A leader on a mariadb pool hands out mariadb connections by default.
  await new MysqlLeader(mariadbPool, 'x').withLeadership(async (connection) => {
    expectEqual<typeof connection, mariadb.PoolConnection>(true);
  });

  // @ts-expect-error the leader's pool is mysql2's: its connections are not mariadb's
  await leader.withLeadership(async (connection: mariadb.PoolConnection) => connection.release());
  // @ts-expect-error options.db is a mariadb pool: its connections are not mysql2's
  await leader.withLeadership(async (connection: mysql2Promise.PoolConnection) => connection.release(), { db: mariadbPool });
  // @ts-expect-error options.db must be a database handle
  await leader.withLeadership(async () => {}, { db: 42 });
  // @ts-expect-error the function must return a promise
  await leader.withLeadership(() => 1);
  // @ts-expect-error the tenure has no nodeName
  await leader.withLeadership(async (_connection, { nodeName }) => nodeName);
}

// Events: typed payloads.
export function events(): void {
  leader.on('elected', (event) => {
    expectEqual<typeof event, ElectedEvent>(true);
    expectType<number>(event.term);
  });
  leader.on('revoked', ({ term, reason, error }) => {
    expectType<number>(term);
    expectEqual<typeof reason, RevokeReason>(true);
    expectType<Error | undefined>(error);
    expectType<'lost' | 'expired' | 'resigned' | 'closed' | 'aborted' | 'error'>(reason);
  });
  leader.once('renewed', ({ term, latencyMs }) => expectType<[number, number]>([term, latencyMs]));
  leader.on('taskError', ({ error }) => expectType<unknown>(error));
  leader.on('leaderChange', ({ leader: now, previous }) => {
    expectType<LeaderInfo | undefined>(now);
    expectType<LeaderInfo | undefined>(previous);
    if (now) expectType<[string, number]>([now.nodeName, now.term]);
    // @ts-expect-error the lease may be vacant
    expectType<string>(now.nodeName);
  });
  leader.on('error', (error) => expectType<Error>(error));
  const onElected = ({ term }: ElectedEvent): void => void term;
  leader.off('elected', onElected);

  // @ts-expect-error elected carries no reason
  leader.on('elected', ({ reason }) => reason);
  // @ts-expect-error a revoked reason is one of the known few
  leader.on('revoked', ({ reason }) => expectType<'timeout'>(reason));
  // @ts-expect-error latencyMs is a number
  leader.on('renewed', ({ latencyMs }) => expectType<string>(latencyMs));
  // @ts-expect-error not an event
  leader.on('elect', () => {});
}

// Leader-only work and errors.
export async function work(): Promise<void> {
  const handle = leader.runWhileLeader(async ({ term, signal }) => {
    expectType<number>(term);
    signal.throwIfAborted();
  });
  expectType<TaskHandle>(handle);
  await handle.stop();
  await using _disposed = leader;
  // @ts-expect-error a task receives the tenure, not a connection
  leader.runWhileLeader(async (connection: mysql2Promise.PoolConnection) => connection.release());
  expectType<MysqlLeaderErrorCode>(new NotLeaderError('not leading').code);
}

// nodeSet(): a handle over pools of one driver, whose connections are that driver's.
export async function nodeSets(): Promise<void> {
  const mysql2Set = nodeSet([mysql2Pool, mysql2Pool], { checkInterval: 500 });
  expectEqual<typeof mysql2Set, NodeSet<mysql2Promise.PoolConnection>>(true);
  expectEqual<ConnectionOf<typeof mysql2Set>, mysql2Promise.PoolConnection>(true);
  const [rows] = await mysql2Set.query<mysql2Promise.RowDataPacket[]>('SELECT 1 AS one');
  expectType<mysql2Promise.RowDataPacket[]>(rows);
  expectType<number>(mysql2Set.current);
  await new MysqlLeader(mysql2Set, 'x').withLeadership(async (connection) => {
    expectEqual<typeof connection, mysql2Promise.PoolConnection>(true);
  });
  const mariadbSet = nodeSet([mariadbPool]);
  expectEqual<ConnectionOf<typeof mariadbSet>, mariadb.PoolConnection>(true);
  await using _closed = mariadbSet;
  await mysql2Set.end();
  // @ts-expect-error mysql2's callback pool: pass pool.promise()
  nodeSet([mysql2CallbackPool]);
  // @ts-expect-error a connection is not a pool
  nodeSet([mysql2Connection]);
  // @ts-expect-error not an option
  nodeSet([mysql2Pool], { interval: 500 });
}

// Leases.share(): keys as a list or a count, a task per tenure of a key, events with the key.
export async function shares(): Promise<void> {
  const leases = new Leases(mysql2Pool, { nodeName: 'a' });
  const share = leases.share('orders', 16, async (context) => {
    expectType<ShareTaskContext>(context);
    expectType<string>(context.key);
    expectType<number>(context.term);
    expectType<AbortSignal>(context.signal);
    expectType<number>(context.remainingMs);
  });
  expectType<Share<typeof mysql2Pool>>(share);
  expectType<string[]>(share.owned);
  expectType<readonly string[]>(share.members);
  expectType<number>(share.target);
  share.on('released', (event) => expectType<KeyReleasedEvent>(event) && expectType<RevokeReason>(event.reason));
  leases.share('tenants', ['acme', 'globex'], () => {}, { drainTimeout: 5_000 });
  const candidates = await leases.listCandidates('orders');
  expectType<Candidate[]>(candidates);
  expectType<Date | undefined>(candidates[0]?.lastSeen);
  leases.leader('x', { candidate: true });
  // @ts-expect-error keys are strings or a count
  leases.share('bad', [1, 2], () => {});
  // @ts-expect-error the engine's options are not a share's
  leases.share('bad', 3, () => {}, { tick: 500 });
  await using _left = share;
  await leases.close();
}
