import { Elector } from './elector.js';
import { Driver, type Queryable } from './mysql/driver.js';
import { MysqlStore } from './mysql/store.js';
import { checkName, resolveOptions, type MysqlLeaderOptions } from './options.js';

/**
 * Elects one leader among the processes that share a `leaderName`, through
 * a row of the election table in a MySQL or MariaDB database.
 *
 * ```ts
 * const leader = new MysqlLeader(pool, 'nightly-report', { age: 10_000, tick: 2_000 });
 * leader.on('elected', ({ term }) => console.log('leading, term', term));
 * leader.acquire().catch(console.error); // campaigns until close()
 * if (leader.leading) await doLeaderWork(leader.signal);
 * ```
 */
export class MysqlLeader extends Elector {
  /** The election this leader campaigns in (the row's `leader_name`). */
  readonly leaderName: string;

  /**
   * Validates everything before anything is sent: a bad option or name
   * throws a `TypeError`/`RangeError` naming it. Nothing happens until
   * `acquire()` is called.
   *
   * @param db A pool (best: a small one of its own, so that renewals never
   *   queue behind the application's queries) or connection of `mysql2` or
   *   `mariadb`, or any compatible {@link Queryable}.
   * @param leaderName The election, 1 to 255 characters.
   */
  constructor(db: Queryable, leaderName: string, options?: MysqlLeaderOptions) {
    const name = checkName('leaderName', leaderName);
    const resolved = resolveOptions(options);
    super(new MysqlStore(new Driver(db), resolved.tableName, name, resolved.age, resolved.handoverLock), resolved);
    this.leaderName = name;
  }
}
