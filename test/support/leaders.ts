/** MysqlLeaders for the integration tests, each election under a fresh name, all closed after the file. */
import { after } from 'node:test';
import { MysqlLeader, type MysqlLeaderOptions } from '../../src/index.js';
import type { TestDatabase } from './database.js';

/** Makes elections on `db` with `defaults`; every leader made is closed after the file's tests. */
export function electionsOn(db: TestDatabase, defaults: MysqlLeaderOptions, connectionLimit: number) {
  let elections = 0;
  const leaders: MysqlLeader[] = [];
  after(async () => {
    await Promise.all(leaders.map((leader) => leader.close()));
  });
  const name = (prefix = 'election'): string => `${prefix}-${++elections}`;
  return {
    /** A name no other election of the file uses. */
    name,
    /** Closes `leader` with the others after the file (for leaders built by hand). */
    track: (leader: MysqlLeader): void => void leaders.push(leader),
    /** `count` participants of a new election, each on a pool of its own (as in separate processes). */
    group: (count: number, options: MysqlLeaderOptions = {}): MysqlLeader[] => {
      const election = name();
      return Array.from({ length: count }, (_, i) => {
        const leader = new MysqlLeader(db.newPool({ connectionLimit }), election, { nodeName: `n${i}`, ...defaults, ...options });
        leaders.push(leader);
        return leader;
      });
    },
  };
}
