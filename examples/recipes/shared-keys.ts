// 8 partitions shared by the live members of a group: each owned by one member at a time, ±1 each.
import { createPool } from 'mysql2/promise';
import { Leases, createMysqlLeaderTable } from 'mysql-leader';

const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** One member per process; here a second one, with its own nodeName, engine and pool, plays another replica. */
function member(nodeName: string) {
  const pool = createPool({ uri: url, connectionLimit: 4 });
  const leases = new Leases(pool, { nodeName, age: 5_000, tick: 1_000 });
  const share = leases.share('partitions', 8, async ({ key, term, signal }) => {
    // Runs on the key's owner, once per tenure; the key is given up only after this returns.
    while (!signal.aborted) await consume(key, term);
  });
  return {
    share,
    leave: () =>
      share
        .close()
        .then(() => leases.close())
        .then(() => pool.end()),
  };
}
const consume = (partition: string, term: number) => new Promise((resolve) => setTimeout(resolve, 100, { partition, term }));
const until = async (done: () => boolean) => {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 50));
};

const setup = createPool({ uri: url, connectionLimit: 1 });
await createMysqlLeaderTable(setup);
await setup.end();

const a = member('replica-a');
await until(() => a.share.owned.length === 8);
console.log(`replica-a owns ${a.share.owned.length} partitions`);

const b = member('replica-b'); // a replica joins: replica-a gives 4 up, each once its task has returned
await until(() => a.share.owned.length === 4 && b.share.owned.length === 4);
console.log(`replica-a owns ${a.share.owned.join(',')}; replica-b owns ${b.share.owned.join(',')}`);
console.log(`members: ${a.share.members.join(', ')}`);

await b.leave(); // its tasks stop, its keys are released, and replica-a takes them over
await until(() => a.share.owned.length === 8);
console.log(`replica-b left: replica-a owns ${a.share.owned.length} partitions`);
await a.leave();
