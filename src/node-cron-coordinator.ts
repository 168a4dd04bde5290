/**
 * A run coordinator for node-cron 4 (`distributed: true` with
 * `runCoordinator`), on the fires table: node-cron asks, at each fire of a
 * task on every replica, whether this one may run the slot (`shouldRun(key,
 * ttlMs)`, the key being the task's name and the slot's time); the answer
 * is yes only on the leader, and only once per slot, ever: the slot is
 * claimed in a row of the fires table in a transaction fenced by the
 * tenure, as `schedule()` claims its slots.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { NotLeaderError, OptionTypeError } from './errors.js';
import { Driver, toQueryResult, type Queryable, type Session } from './mysql/driver.js';
import { FireLog } from './mysql/fires.js';
import { DEFAULT_FIRES_TABLE } from './mysql/fires-sql.js';
import type { MysqlLeader } from './mysql-leader.js';
import { checkTableName } from './options.js';

/** node-cron 4's `RunCoordinator`, typed structurally: this package never imports node-cron. */
export interface NodeCronCoordinator {
  /** `true` when this node leads and has just claimed the slot of `key` (`name:ISO time`); `false` otherwise. */
  shouldRun(key: string, ttlMs: number): Promise<boolean>;
  /** Records the end of a run this node claimed. */
  onComplete(key: string): Promise<void>;
}

/** Options of {@link nodeCronCoordinator}. */
export interface NodeCronCoordinatorOptions {
  /** A pool of the same server, which reaches the election table and the fires table (the leader's own pool will do). */
  db: Queryable;
  /**
   * The fires table: an identifier or `schema.table`.
   * @default 'leader_election_fires'
   */
  firesTable?: string;
}

/** node-cron's key: the task's name, `:`, the slot's `toISOString()`. */
const KEY = /^(.+):(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$/;
/** How many times a slot that the database says is not yet due is looked at again. */
const EARLY_TRIES = 3;

/**
 * A node-cron 4 run coordinator backed by `leader` (which must be
 * campaigning): give it to every replica's tasks (`cron.schedule(expr, fn,
 * { name, distributed: true, runCoordinator })`, or
 * `cron.setRunCoordinator()`), each task with a `name` unique in the
 * election. A slot runs on the node that leads when node-cron fires it,
 * at most once, ever (its row, job name and slot as primary key); a
 * follower answers `false` without a statement. A slot that the database
 * clock says is not due yet (this host's clock is ahead) is claimed once it
 * is, if that is within `ttlMs`; otherwise it is skipped. Unlike
 * `schedule()`, nothing is caught up: a slot that node-cron fires while no
 * node leads (a hand-over in progress) is lost. Throws an `OptionTypeError`
 * naming a bad option.
 */
export function nodeCronCoordinator(leader: MysqlLeader, options: NodeCronCoordinatorOptions): NodeCronCoordinator {
  if (typeof options !== 'object' || options === null) throw new OptionTypeError(['options'], `options must be an object with db, received ${String(options)}`);
  const driver = new Driver(options.db, 'options.db');
  const firesTable = checkTableName(options.firesTable ?? DEFAULT_FIRES_TABLE, 'options.firesTable');
  const logs = new Map<string, FireLog>();
  const claims = new Map<string, { log: FireLog; slot: Date; term: number }>();
  const logOf = (job: string): FireLog => {
    let log = logs.get(job);
    if (!log) logs.set(job, (log = new FireLog(driver, firesTable, leader.leaderName, job)));
    return log;
  };
  const limit = (): AbortSignal => AbortSignal.timeout(leader.options.queryTimeout);

  /** Claims `slot` of `log`'s job in a transaction fenced by the current tenure. */
  const claim = async (log: FireLog, slot: Date): Promise<{ result: 'claimed' | 'taken' | 'early'; term: number } | undefined> => {
    try {
      return await leader.withLeadership(
        async (connection: Queryable, tenure) => {
          // The fenced transaction's connection (the driver's promise API), as the statements of fires.ts take it.
          const session: Session = {
            raw: connection,
            query: async (sql, values) => toQueryResult(await connection.query(sql, values)),
            release() {},
            destroy() {},
          };
          const fire = { nodeName: leader.nodeName, term: tenure.term, outcome: 'running', cron: '(node-cron)', timezone: '' } as const;
          return { result: await log.claim(session, slot, fire), term: tenure.term };
        },
        { db: options.db },
      );
    } catch (error) {
      if (error instanceof NotLeaderError) return undefined; // the tenure ended meanwhile: not this node's slot
      throw error;
    }
  };

  return {
    async shouldRun(key: string, ttlMs: number): Promise<boolean> {
      const match = KEY.exec(key);
      if (!match) throw new TypeError(`node-cron key ${JSON.stringify(key)} is not NAME:ISO-TIME: give the task a name`);
      if (!leader.leading) return false;
      const log = logOf(match[1] as string);
      const slot = new Date(match[2] as string);
      for (let i = 0; i < EARLY_TRIES; i++) {
        const claimed = await claim(log, slot);
        if (claimed === undefined || claimed.result === 'taken') return false;
        if (claimed.result === 'claimed') {
          claims.set(key, { log, slot, term: claimed.term });
          return true;
        }
        // This host's clock is ahead of the database's: wait until the slot is due by the database clock.
        const wait = slot.getTime() - (await log.now(limit())).getTime();
        if (wait > ttlMs) return false;
        await sleep(Math.max(1, wait));
      }
      return false;
    },
    async onComplete(key: string): Promise<void> {
      const claimed = claims.get(key);
      if (!claimed) return;
      claims.delete(key);
      await claimed.log.finish(claimed.slot, claimed.term, 1, 'done', undefined, limit());
    },
  };
}
