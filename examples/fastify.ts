// A Fastify plugin: it decorates the instance with a leader on a small pool of
// its own, campaigns while the server runs, and on `onClose` (app.close(), on
// SIGTERM here) hands over and ends its pool. Fastify's logger (pino) is the
// leader's logger.
// Run: PORT=8080 MYSQL_URL=mysql://… node --import tsx examples/fastify.ts
//   GET /healthz  200, or 503 once the leader has been unable to renew its lease for `age`
//   GET /leader   200 on the leader only
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createPool, type Pool } from 'mysql2/promise';
import { LeaderHealth, MysqlLeader, continueOnError, type MysqlLeaderOptions } from 'mysql-leader';

declare module 'fastify' {
  interface FastifyInstance {
    /** The election this instance takes part in. */
    leader: MysqlLeader<Pool>;
    /** Its health, for the liveness probe. */
    leaderHealth: LeaderHealth;
  }
}

/** Options of {@link leaderPlugin}. */
export interface LeaderPluginOptions {
  /** The database, `mysql://user:password@host:port/database`. */
  url: string;
  /** The election. */
  leaderName: string;
  /** The leader's options (`logger` is Fastify's). */
  leader?: Omit<MysqlLeaderOptions, 'logger'>;
}

export const leaderPlugin = fp<LeaderPluginOptions>(
  async (app: FastifyInstance, { url, leaderName, leader: options = {} }) => {
    const pool = createPool({ uri: url, connectionLimit: 3 }); // the leader's own: see "Install" in the README
    const leader = new MysqlLeader(pool, leaderName, { onError: continueOnError, ...options, logger: app.log });
    const health = new LeaderHealth(leader);
    // Awaited in onClose; a campaign that stops on an error is logged, not an unhandled rejection.
    const campaign = leader.acquire().catch((error: unknown) => app.log.error({ err: error }, 'the election stopped'));
    app.decorate('leader', leader);
    app.decorate('leaderHealth', health);
    app.addHook('onClose', async () => {
      health.close();
      await leader.close(); // steps down and hands over at once
      await campaign;
      await pool.end();
    });
  },
  { name: 'mysql-leader', fastify: '5.x' },
);

const app = Fastify();
await app.register(leaderPlugin, {
  url: process.env['MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test',
  leaderName: 'fastify-jobs',
  leader: { age: 10_000, tick: 2_000 },
});
app.get('/healthz', async (_request, reply) => {
  const status = app.leaderHealth.check();
  return reply.code(status.healthy ? 200 : 503).send(status);
});
app.get('/leader', async (_request, reply) => (app.leader.leading ? reply.send(`leading, term ${app.leader.term}\n`) : reply.code(503).send('following\n')));
const address = await app.listen({ port: Number(process.env['PORT'] ?? 8080), host: '127.0.0.1' });
console.log(`listening on ${address}`);
process.once('SIGTERM', () => {
  void app.close().then(() => console.log('closed')); // runs onClose: the leader hands over
});
