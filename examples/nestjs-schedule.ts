// Scheduled jobs in NestJS, built on @nestjs/schedule: methods keep their
// @Cron decorators, declared `disabled` (so that @nestjs/schedule never starts
// them on every replica) with `waitForCompletion`; at bootstrap,
// `LeaderScheduleBridge` hands each cron job of the SchedulerRegistry to
// `leader.schedule()`, which fires it once per slot across replicas, on the
// leader (claimed in the fires table; slots due by the database clock). The
// fire being run (slot, term, signal, attempt) is `currentFire()` inside the
// method. Shutdown (app.close(), on SIGTERM here) ends the fire in progress,
// then hands over.
// Run: MYSQL_URL=mysql://… node --import tsx examples/nestjs-schedule.ts (on each replica)
// Dependencies are injected with explicit tokens (@Inject), so this file also
// runs without `emitDecoratorMetadata` (tsx and esbuild do not emit it).
import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Inject, Injectable, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cron, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { createPool, type Pool } from 'mysql2/promise';
import { MysqlLeader, continueOnError, createMysqlLeaderFiresTable, createMysqlLeaderTable, type FireContext, type ScheduledJob } from 'mysql-leader';

const fires = new AsyncLocalStorage<FireContext>();

/** The fire a @Cron method is running for (inside one run by the bridge). */
export function currentFire(): FireContext {
  const fire = fires.getStore();
  if (!fire) throw new Error('not inside a fire of a scheduled job');
  return fire;
}

const POOL = Symbol('mysql-leader pool');

/** Hands the cron jobs of @nestjs/schedule to the leader, campaigns, and on shutdown stops them and hands over. */
@Injectable()
class LeaderScheduleBridge implements OnApplicationBootstrap, OnApplicationShutdown {
  #jobs: ScheduledJob[] = [];
  #campaign: Promise<void> | undefined;

  constructor(
    @Inject(MysqlLeader) private readonly leader: MysqlLeader<Pool>,
    @Inject(SchedulerRegistry) private readonly registry: SchedulerRegistry,
    @Inject(POOL) private readonly pool: Pool,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await createMysqlLeaderTable(this.pool);
    await createMysqlLeaderFiresTable(this.pool);
    for (const [name, cronJob] of this.registry.getCronJobs()) {
      if (cronJob.isActive) throw new Error(`@Cron job "${name}" must be declared with disabled: true, or every replica runs it`);
      const expression = cronJob.cronTime.source;
      if (typeof expression !== 'string') throw new Error(`@Cron job "${name}" must have a cron expression, not a date`);
      const job = this.leader.schedule(name, expression, (fire) => fires.run(fire, () => cronJob.fireOnTick()), {
        timezone: cronJob.cronTime.timeZone ?? 'UTC',
      });
      job.on('fire', ({ outcome, error }) => outcome === 'failed' && console.error(`${name} failed`, error));
      this.#jobs.push(job);
    }
    // Awaited on shutdown; a campaign that stops on an error is logged, not an unhandled rejection.
    this.#campaign = this.leader.acquire().catch((error: unknown) => console.error('the election stopped', error));
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.#jobs.map((job) => job.stop())); // the fire in progress ends first
    await this.leader.close(); // steps down and hands over at once
    await this.#campaign;
    await this.pool.end();
  }
}

@Module({
  imports: [ScheduleModule.forRoot()],
  providers: [
    { provide: POOL, useFactory: (): Pool => createPool({ uri: process.env['MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test', connectionLimit: 4 }) },
    {
      provide: MysqlLeader,
      inject: [POOL],
      useFactory: (pool: Pool) => new MysqlLeader(pool, 'nest-schedule', { age: 10_000, tick: 2_000, onError: continueOnError }),
    },
    LeaderScheduleBridge,
  ],
})
class LeaderScheduleModule {}

/** The application's jobs: plain @nestjs/schedule methods. */
@Injectable()
class Reports {
  @Cron('* * * * * *', { name: 'report', timeZone: 'UTC', disabled: true, waitForCompletion: true })
  async write(): Promise<void> {
    const { slot, term, signal } = currentFire();
    signal.throwIfAborted(); // check before each side effect; pass `term` to systems that fence
    console.log(`report for ${slot.toISOString()} under term ${term} on ${process.pid}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

@Module({ imports: [LeaderScheduleModule], providers: [Reports] })
class AppModule {}

const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
console.log('started');
process.once('SIGTERM', () => {
  void app.close().then(() => console.log('closed')); // runs onApplicationShutdown: the fire in progress ends, the leader hands over
});
