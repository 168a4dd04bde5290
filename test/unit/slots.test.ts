/**
 * The slots of scheduled jobs: computed from the expression and its time
 * zone (DST changes included), which due slots fire under each `catchUp`,
 * and `schedule()`'s validation (nothing reaches the database).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MysqlLeader, OptionRangeError, OptionTypeError } from '../../src/index.js';
import { plan, Slots } from '../../src/slots.js';

const at = (iso: string): Date => new Date(iso);
const isos = (dates: readonly Date[]): string[] => dates.map((date) => date.toISOString());

/** The slots of `expression` in `timezone` from `from` on, `count` of them. */
function slotsFrom(expression: string, timezone: string, from: string, count: number): string[] {
  const slots = new Slots(expression, timezone);
  const result: Date[] = [];
  let cursor = at(from);
  while (result.length < count) {
    const next = slots.next(cursor);
    assert.ok(next);
    result.push(next);
    cursor = next;
  }
  return isos(result);
}

describe('slots', () => {
  it('a daily 02:30 in Europe/Berlin fires once on the day the clocks skip 02:00–03:00 (at 03:00 CEST), and once on the day 02:00–03:00 repeats', () => {
    assert.deepEqual(slotsFrom('30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', 3), [
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
    assert.deepEqual(slotsFrom('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2), [
      '2026-10-25T00:30:00.000Z', // the first 02:30 (CEST); not again at 02:30 CET
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('an interval job fires at every instant of the repeated hour, each a slot of its own, and never in the skipped one', () => {
    assert.deepEqual(slotsFrom('0 */30 * * * *', 'Europe/Berlin', '2026-10-25T00:00:00Z', 4), [
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET
      '2026-10-25T01:30:00.000Z', // 02:30 CET
      '2026-10-25T02:00:00.000Z', // 03:00 CET
    ]);
    assert.deepEqual(slotsFrom('0 */30 * * * *', 'Europe/Berlin', '2026-03-29T00:00:00Z', 3), [
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST
      '2026-03-29T01:30:00.000Z', // 03:30 CEST
    ]);
  });

  it('six fields are seconds first; due() lists the slots in (after, now], oldest first', () => {
    const slots = new Slots('*/2 * * * * *', 'UTC');
    assert.deepEqual(isos(slots.due(at('2026-01-01T00:00:00.000Z'), at('2026-01-01T00:00:06.000Z'), 10)), [
      '2026-01-01T00:00:02.000Z',
      '2026-01-01T00:00:04.000Z',
      '2026-01-01T00:00:06.000Z',
    ]);
    assert.deepEqual(isos(slots.due(at('2026-01-01T00:00:00.000Z'), at('2026-01-01T00:00:05.999Z'), 2)), [
      '2026-01-01T00:00:02.000Z',
      '2026-01-01T00:00:04.000Z',
    ]);
  });

  it('plan(): the latest due slot fires when on time whatever catchUp says; missed ones as catchUp says, within max age and count', () => {
    const due = [at('2026-01-01T00:00:01Z'), at('2026-01-01T00:00:02Z'), at('2026-01-01T00:00:03Z')];
    const bounds = { misfireThreshold: 500, catchUpMaxAge: 60_000, catchUpMaxCount: 10 };
    const onTime = at('2026-01-01T00:00:03.200Z');
    const late = at('2026-01-01T00:00:04Z');
    const fired = (catchUp: 'none' | 'latest' | 'all', now: Date, more = {}) => {
      const result = plan(due, now, { ...bounds, catchUp, ...more });
      return { fire: isos(result.fire), missed: result.missed };
    };
    assert.deepEqual(fired('none', onTime), { fire: ['2026-01-01T00:00:03.000Z'], missed: 2 });
    assert.deepEqual(fired('none', late), { fire: [], missed: 3 });
    assert.deepEqual(fired('latest', late), { fire: ['2026-01-01T00:00:03.000Z'], missed: 2 });
    assert.deepEqual(fired('all', late), { fire: isos(due), missed: 0 });
    assert.deepEqual(fired('all', late, { catchUpMaxCount: 2 }), { fire: isos(due.slice(1)), missed: 1 });
    assert.deepEqual(fired('all', late, { catchUpMaxAge: 2000 }), { fire: isos(due.slice(1)), missed: 1 });
    assert.deepEqual(fired('latest', late, { catchUpMaxAge: 500 }), { fire: [], missed: 3 });
  });
});

describe('schedule() validation', () => {
  const calls: string[] = [];
  const db = {
    query(sql: string): Promise<unknown> {
      calls.push(sql);
      return Promise.resolve([[], []]);
    },
    getConnection: () => Promise.reject(new Error('no connection in this test')),
  };
  const leader = new MysqlLeader(db, 'validation');
  const noop = (): void => {};

  const cases: [string, () => unknown, typeof OptionTypeError | typeof OptionRangeError, string, RegExp][] = [
    ['a cron expression that does not parse', () => leader.schedule('job', 'every day', noop), OptionRangeError, 'cron', /cron is not valid.*'every day'/],
    [
      'an unknown time zone',
      () => leader.schedule('job', '* * * * *', noop, { timezone: 'Mars/Olympus' }),
      OptionRangeError,
      'options.timezone',
      /Mars\/Olympus/,
    ],
    ['an empty name', () => leader.schedule('', '* * * * *', noop), OptionRangeError, 'name', /name must be 1 to 255/],
    ['fn not a function', () => leader.schedule('job', '* * * * *', 'run' as never), OptionTypeError, 'fn', /fn must be a function/],
    ['an unknown mode', () => leader.schedule('job', '* * * * *', noop, { mode: 'exactly-once' as never }), OptionTypeError, 'options.mode', /'exactly-once'/],
    [
      'mode with fenced',
      () => leader.schedule('job', '* * * * *', noop, { fenced: true, mode: 'at-least-once' } as never),
      OptionTypeError,
      'options.mode',
      /fenced/,
    ],
    ['an unknown catchUp', () => leader.schedule('job', '* * * * *', noop, { catchUp: 'some' as never }), OptionTypeError, 'options.catchUp', /'some'/],
    [
      'a catchUpMaxCount of 0',
      () => leader.schedule('job', '* * * * *', noop, { catchUpMaxCount: 0 }),
      OptionRangeError,
      'options.catchUpMaxCount',
      /between 1 and 1000/,
    ],
    [
      'a fractional misfireThreshold',
      () => leader.schedule('job', '* * * * *', noop, { misfireThreshold: 1.5 }),
      OptionTypeError,
      'options.misfireThreshold',
      /1\.5/,
    ],
    ['a negative retention', () => leader.schedule('job', '* * * * *', noop, { retention: -1 }), OptionRangeError, 'options.retention', /-1/],
    [
      'a retention no longer than catchUpMaxAge',
      () => leader.schedule('job', '* * * * *', noop, { retention: 3_600_000, catchUpMaxAge: 3_600_000 }),
      OptionRangeError,
      'options.retention',
      /longer than options.catchUpMaxAge/,
    ],
    [
      'maxAttempts without at-least-once',
      () => leader.schedule('job', '* * * * *', noop, { maxAttempts: 5 }),
      OptionTypeError,
      'options.maxAttempts',
      /'at-least-once' only/,
    ],
    [
      'a maxAttempts of 0',
      () => leader.schedule('job', '* * * * *', noop, { mode: 'at-least-once', maxAttempts: 0 }),
      OptionRangeError,
      'options.maxAttempts',
      /between 1 and 1000, received 0/,
    ],
    ['an unknown overlap', () => leader.schedule('job', '* * * * *', noop, { overlap: 'both' as never }), OptionTypeError, 'options.overlap', /'both'/],
    ['a bad firesTable', () => leader.schedule('job', '* * * * *', noop, { firesTable: 'a-b' }), OptionTypeError, 'options.firesTable', /'a-b'/],
    ['an unknown option', () => leader.schedule('job', '* * * * *', noop, { every: 5 } as never), OptionTypeError, 'options.every', /not a known option/],
  ];
  for (const [what, call, type, option, message] of cases) {
    it(`${what} throws a ${type.name} naming ${option}`, () => {
      assert.throws(call, (error: unknown) => {
        assert.ok(error instanceof type, String(error));
        assert.equal(error.options[0], option);
        assert.equal(error.code, 'ERR_MYSQL_LEADER_INVALID_OPTION');
        assert.match(error.message, message);
        return true;
      });
    });
  }

  it('sends nothing to the database', () => assert.deepEqual(calls, []));
});
