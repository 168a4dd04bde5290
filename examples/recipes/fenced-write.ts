// A fenced write to the same database: the row is share-locked for the
// length of the transaction, so no other node can take over before it commits.
import { createPool } from 'mysql2/promise';
import { CommitUnknownError, MysqlLeader, NotLeaderError, createMysqlLeaderTable } from 'mysql-leader';

const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const electionPool = createPool({ uri: url, connectionLimit: 3 }); // small, the leader's own
const appPool = createPool({ uri: url, connectionLimit: 10 }); // the application's
await createMysqlLeaderTable(electionPool);
await appPool.query('CREATE TABLE IF NOT EXISTS invoices (id INT PRIMARY KEY, sent_by_term BIGINT NULL)');
await appPool.query('INSERT IGNORE INTO invoices (id) VALUES (1), (2), (3)');

const leader = new MysqlLeader(electionPool, 'invoice-sender', { age: 10_000, tick: 2_000 });
const campaign = leader.acquire();
await new Promise((resolve) => leader.once('elected', resolve));

try {
  const sent = await leader.withLeadership(
    async (conn, { term }) => {
      const [result] = await conn.query('UPDATE invoices SET sent_by_term = ? WHERE sent_by_term IS NULL', [term]);
      return (result as { affectedRows: number }).affectedRows;
    },
    { db: appPool }, // the transaction runs where the data lives
  );
  console.log(`marked ${sent} invoices as sent under term ${leader.term}`);
} catch (error) {
  if (error instanceof NotLeaderError) console.log('not the leader any more: nothing was written');
  // COMMIT was sent but not answered: it may have landed. This UPDATE only
  // marks invoices not marked yet, so running it again is safe.
  else if (error instanceof CommitUnknownError) console.log(`term ${error.term}: outcome unknown; the next run marks what is left`);
  else throw error;
}

await leader.close();
await campaign;
await Promise.all([electionPool.end(), appPool.end()]);
