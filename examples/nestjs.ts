// A NestJS module: `LeaderModule.forRoot()` provides a `MysqlLeader` on a small
// pool of its own, campaigns once the application has started, and hands over
// on shutdown (app.close(), on SIGTERM here); `LeaderHealthIndicator` reports it
// to @nestjs/terminus.
// Run: PORT=8080 MYSQL_URL=mysql://… node --import tsx examples/nestjs.ts
//   GET /health  200 with `info.leader` up, or 503 once the leader has been unable to renew its lease for `age`
// Dependencies are injected with explicit tokens (@Inject), so this file also
// runs without `emitDecoratorMetadata` (tsx and esbuild do not emit it).
import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import { createPool, type Pool } from 'mysql2/promise';
import { LeaderHealth, MysqlLeader, continueOnError, type MysqlLeaderOptions } from 'mysql-leader';

/** Options of {@link LeaderModule.forRoot}. */
export interface LeaderModuleOptions {
  /** The database, `mysql://user:password@host:port/database`. */
  url: string;
  /** The election. */
  leaderName: string;
  /** The leader's options. */
  leader?: MysqlLeaderOptions;
}

const POOL = Symbol('mysql-leader pool');

/** Starts the campaign once the application is up; on shutdown hands over, then ends the pool. */
@Injectable()
class LeaderLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  #campaign: Promise<void> | undefined;

  constructor(
    @Inject(MysqlLeader) private readonly leader: MysqlLeader<Pool>,
    @Inject(LeaderHealth) private readonly health: LeaderHealth,
    @Inject(POOL) private readonly pool: Pool,
  ) {}

  onApplicationBootstrap(): void {
    // Awaited on shutdown; a campaign that stops on an error is logged, not an unhandled rejection.
    this.#campaign = this.leader.acquire().catch((error: unknown) => console.error('the election stopped', error));
  }

  async onApplicationShutdown(): Promise<void> {
    this.health.close();
    await this.leader.close(); // steps down and hands over at once
    await this.#campaign;
    await this.pool.end();
  }
}

/** A Terminus health indicator: `up` with the leader's state, `down` with the reason. */
@Injectable()
export class LeaderHealthIndicator {
  constructor(
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(LeaderHealth) private readonly health: LeaderHealth,
  ) {}

  /** No query: the leader's renewals are the check. */
  check<const Key extends string>(key: Key) {
    const indicator = this.indicators.check(key);
    const { healthy, leading, term, reason } = this.health.check();
    return healthy ? indicator.up({ leading, term: term ?? null }) : indicator.down({ leading, reason: reason ?? null });
  }
}

@Module({})
export class LeaderModule {
  /** The leader, its health and the indicator, for the whole application. */
  static forRoot({ url, leaderName, leader = {} }: LeaderModuleOptions): DynamicModule {
    return {
      module: LeaderModule,
      global: true,
      imports: [TerminusModule],
      providers: [
        { provide: POOL, useFactory: (): Pool => createPool({ uri: url, connectionLimit: 3 }) }, // the leader's own
        { provide: MysqlLeader, inject: [POOL], useFactory: (pool: Pool) => new MysqlLeader(pool, leaderName, { onError: continueOnError, ...leader }) },
        { provide: LeaderHealth, inject: [MysqlLeader], useFactory: (elector: MysqlLeader<Pool>) => new LeaderHealth(elector) },
        LeaderLifecycle,
        LeaderHealthIndicator,
      ],
      exports: [MysqlLeader, LeaderHealthIndicator],
    };
  }
}

@Controller('health')
class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly checks: HealthCheckService,
    @Inject(LeaderHealthIndicator) private readonly leader: LeaderHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.checks.check([() => this.leader.check('leader')]);
  }
}

@Module({
  imports: [
    TerminusModule,
    LeaderModule.forRoot({
      url: process.env['MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test',
      leaderName: 'nest-jobs',
      leader: { age: 10_000, tick: 2_000 },
    }),
  ],
  controllers: [HealthController],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
await app.listen(Number(process.env['PORT'] ?? 8080), '127.0.0.1');
console.log(`listening on http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`);
process.once('SIGTERM', () => {
  void app.close().then(() => console.log('closed')); // runs onApplicationShutdown: the leader hands over
});
