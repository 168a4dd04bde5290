/**
 * Bad input gets a clear error naming the option and the value, and nothing
 * reaches the database: the handle here records every call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CREATE_MYSQL_LEADER_SQL,
  MysqlLeader,
  OptionRangeError,
  OptionTypeError,
  createMysqlLeaderSql,
  createMysqlLeaderTable,
  nodeSet,
  type MysqlLeaderOptions,
  type NodePool,
  type NodeSetOptions,
} from '../../src/index.js';

function recordingDb() {
  const calls: string[] = [];
  return {
    calls,
    query(sql: string): Promise<unknown> {
      calls.push(sql);
      return Promise.resolve([[], []]);
    },
  };
}

function rejects(options: MysqlLeaderOptions, kind: typeof TypeError | typeof RangeError, pattern: RegExp) {
  const db = recordingDb();
  assert.throws(
    () => new MysqlLeader(db, 'jobs', options),
    (error: unknown) => {
      assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
      assert.match(error.message, pattern);
      return true;
    },
  );
  assert.deepEqual(db.calls, []);
}

describe('validation: durations', () => {
  for (const option of ['age', 'tick', 'margin', 'queryTimeout'] as const) {
    it(`rejects a non-integer, NaN, zero, negative or huge ${option}`, () => {
      rejects({ [option]: 1.5 }, TypeError, new RegExp(`options\\.${option} must be a whole number of milliseconds, received 1\\.5`));
      rejects({ [option]: Number.NaN }, TypeError, new RegExp(`options\\.${option} .*received NaN`));
      rejects({ [option]: '100' as unknown as number }, TypeError, new RegExp(`options\\.${option} .*received '100'`));
      rejects({ [option]: 0 }, RangeError, new RegExp(`options\\.${option} must be between 1 and \\d+ ms, received 0`));
      rejects({ [option]: -5 }, RangeError, new RegExp(`options\\.${option} .*received -5`));
      rejects({ [option]: 2 ** 31 }, RangeError, new RegExp(`options\\.${option} .*received 2147483648`));
    });
  }

  it('rejects tick >= age, and tick + margin >= age', () => {
    rejects({ age: 1000, tick: 1000 }, RangeError, /options\.tick \(1000 ms\) plus options\.margin \(50 ms\) must be less than options\.age \(1000 ms\)/);
    rejects({ age: 1000, tick: 5000 }, RangeError, /options\.tick \(5000 ms\)/);
    rejects({ age: 1000, tick: 500, margin: 500 }, RangeError, /options\.margin \(500 ms\)/);
  });

  it('names the options at fault in structured fields, with a stable code', () => {
    const fields = (options: MysqlLeaderOptions): unknown => {
      try {
        new MysqlLeader(recordingDb(), 'jobs', options);
      } catch (error) {
        assert.ok(error instanceof OptionTypeError || error instanceof OptionRangeError, String(error));
        return { code: error.code, options: error.options, name: error.name };
      }
      assert.fail('did not throw');
    };
    assert.deepEqual(fields({ age: 1000, tick: 1000 }), {
      code: 'ERR_MYSQL_LEADER_INVALID_OPTION',
      options: ['options.tick', 'options.margin', 'options.age'],
      name: 'RangeError',
    });
    assert.deepEqual(fields({ tick: 1.5 }), { code: 'ERR_MYSQL_LEADER_INVALID_OPTION', options: ['options.tick'], name: 'TypeError' });
    assert.deepEqual(fields({ ttl: 5 } as MysqlLeaderOptions), { code: 'ERR_MYSQL_LEADER_INVALID_OPTION', options: ['options.ttl'], name: 'TypeError' });
    assert.throws(
      () => new MysqlLeader(recordingDb(), ''),
      (error: unknown) => error instanceof OptionRangeError && error.options[0] === 'leaderName',
    );
    assert.throws(
      () => new MysqlLeader({} as never, 'jobs'),
      (error: unknown) => error instanceof OptionTypeError && error.options[0] === 'db',
    );
  });

  it('derives tick from age when only age is given', () => {
    const leader = new MysqlLeader(recordingDb(), 'jobs', { age: 10_000 });
    assert.deepEqual([leader.options.tick, leader.options.margin, leader.options.queryTimeout], [2_500, 500, 2_500]);
  });

  it('accepts the defaults and freezes the result', () => {
    const leader = new MysqlLeader(recordingDb(), 'jobs');
    assert.deepEqual(
      {
        age: leader.options.age,
        tick: leader.options.tick,
        margin: leader.options.margin,
        queryTimeout: leader.options.queryTimeout,
        table: leader.options.tableName,
      },
      { age: 60_000, tick: 15_000, margin: 3_000, queryTimeout: 15_000, table: 'leader_election' },
    );
    assert.match(leader.nodeName, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(Object.isFrozen(leader.options));
  });
});

describe('validation: names', () => {
  it('rejects an empty or over-255-character leader name', () => {
    const db = recordingDb();
    assert.throws(() => new MysqlLeader(db, ''), { name: 'RangeError', message: /leaderName must be 1 to 255 characters long, received 0 characters/ });
    assert.throws(() => new MysqlLeader(db, 'x'.repeat(256)), { name: 'RangeError', message: /leaderName .*received 256 characters/ });
    assert.throws(() => new MysqlLeader(db, 42 as unknown as string), { name: 'TypeError', message: /leaderName must be a string, received 42/ });
    assert.throws(() => new MysqlLeader(db, 'jobs '), { name: 'RangeError', message: /leaderName must not end with white space, received 'jobs '/ });
    // 255 characters outside the BMP are 510 UTF-16 units but fit VARCHAR(255).
    assert.doesNotThrow(() => new MysqlLeader(db, '😀'.repeat(255)));
    assert.deepEqual(db.calls, []);
  });

  it('rejects an empty or over-255-character node name', () => {
    rejects({ nodeName: '' }, RangeError, /options\.nodeName must be 1 to 255 characters long/);
    rejects({ nodeName: 'n'.repeat(256) }, RangeError, /options\.nodeName .*received 256 characters/);
  });

  it('rejects a table name that is not a plain identifier or schema.table', () => {
    for (const tableName of ['x; DROP TABLE y', '`leader`', 'a.b.c', '1abc', '', 'a-b', 'x'.repeat(65), 'a.', '.a']) {
      rejects({ tableName }, TypeError, /options\.tableName must be an identifier/);
    }
    assert.doesNotThrow(() => new MysqlLeader(recordingDb(), 'jobs', { tableName: 'ops.leader_election' }));
  });

  it('rejects unknown options, a bad onError and a db without query()', () => {
    rejects({ ttl: 5 } as MysqlLeaderOptions, TypeError, /options\.ttl is not a known option/);
    rejects({ onError: 'ignore' as unknown as () => undefined }, TypeError, /options\.onError must be a function, received 'ignore'/);
    assert.throws(() => new MysqlLeader({} as never, 'jobs'), { name: 'TypeError', message: /db must be a mysql2 or mariadb pool or connection/ });
  });
});

describe('validation: DDL helpers', () => {
  it('CREATE_MYSQL_LEADER_SQL creates leader_election with the protocol columns', () => {
    assert.match(CREATE_MYSQL_LEADER_SQL, /^CREATE TABLE IF NOT EXISTS `leader_election` \(/);
    for (const column of ['leader_name', 'node_name', 'term', 'acquired_at', 'renewed_at', 'expires_at'])
      assert.match(CREATE_MYSQL_LEADER_SQL, new RegExp(`\\n  ${column} `));
    assert.match(createMysqlLeaderSql({ tableName: 'ops.elections' }), /^CREATE TABLE IF NOT EXISTS `ops`\.`elections` \(/);
  });

  it('createMysqlLeaderTable() rejects a bad table name before any query', async () => {
    const db = recordingDb();
    await assert.rejects(createMysqlLeaderTable(db, { tableName: 'x; DROP TABLE y' }), { name: 'TypeError', message: /tableName must be an identifier/ });
    assert.deepEqual(db.calls, []);
  });
});

describe('validation: nodeSet()', () => {
  /** A pool that records every call. */
  function recordingPool(calls: string[]): NodePool {
    return {
      getConnection: () => {
        calls.push('getConnection');
        return Promise.reject(new Error('not a real pool'));
      },
      end: () => {
        calls.push('end');
        return Promise.resolve();
      },
    };
  }

  it('rejects what is not a list of distinct pools, naming the node at fault', () => {
    const calls: string[] = [];
    const pool = recordingPool(calls);
    assert.throws(() => nodeSet([]), { name: 'RangeError', message: 'nodes must hold at least one pool, received an empty array' });
    assert.throws(() => nodeSet(pool as never), { name: 'TypeError', message: /^nodes must be an array of mysql2 or mariadb pools/ });
    assert.throws(
      () => nodeSet([pool, {} as never]),
      (error: unknown) => {
        assert.ok(error instanceof OptionTypeError);
        assert.deepEqual(error.options, ['nodes[1]']);
        assert.match(error.message, /nodes\[1\] must be a mysql2\/promise or mariadb pool .*pass pool\.promise\(\)/);
        return true;
      },
    );
    assert.throws(() => nodeSet([pool, pool]), { name: 'RangeError', message: 'nodes[1] is the same pool as nodes[0]' });
    assert.deepEqual(calls, []);
  });

  it('rejects bad options, naming them', () => {
    const calls: string[] = [];
    const pool = recordingPool(calls);
    const rejectsOptions = (options: NodeSetOptions, kind: typeof TypeError | typeof RangeError, pattern: RegExp): void => {
      assert.throws(
        () => nodeSet([pool], options),
        (error: unknown) => error instanceof kind && (error instanceof OptionTypeError || error instanceof OptionRangeError) && pattern.test(error.message),
      );
    };
    rejectsOptions({ checkInterval: 0 }, RangeError, /options\.checkInterval must be between 1 and/);
    rejectsOptions({ connectTimeout: 1.5 }, TypeError, /options\.connectTimeout must be a whole number of milliseconds, received 1\.5/);
    rejectsOptions({ backoff: 2_000, maxBackoff: 1_000 }, RangeError, /options\.maxBackoff \(1000 ms\) must be at least options\.backoff \(2000 ms\)/);
    rejectsOptions({ interval: 5 } as NodeSetOptions, TypeError, /options\.interval is not a known option/);
    assert.deepEqual(calls, []);
  });
});
