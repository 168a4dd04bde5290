/** Participants of unit tests: electors on an in-memory database with a fake clock. */
import { Elector, firstRenewalEarly } from '../../src/elector.js';
import type { RevokeReason } from '../../src/errors.js';
import { continueOnError } from '../../src/on-error.js';
import { resolveOptions, type MysqlLeaderOptions } from '../../src/options.js';
import type { FakeClock } from './fake-clock.js';
import { type MemoryDatabase, MemoryStore } from './memory-store.js';

/** The timing every unit test uses (ms). */
export const AGE = 1000;
export const TICK = 250;
export const MARGIN = 50;

interface Seen {
  readonly type: 'elected' | 'revoked';
  readonly at: number;
  readonly term: number;
  readonly reason?: RevokeReason;
}

const started: { elector: Elector; clock: FakeClock }[] = [];

/** An elector on the in-memory database, recording its events (continueOnError and polling unless told otherwise). */
export function participant(clock: FakeClock, db: MemoryDatabase, nodeName: string, options: MysqlLeaderOptions = {}) {
  const resolved = resolveOptions({
    nodeName,
    age: AGE,
    tick: TICK,
    margin: MARGIN,
    queryTimeout: TICK,
    onError: continueOnError,
    handoverLock: false,
    ...options,
  });
  const store = new MemoryStore(db, nodeName, resolved.age, resolved.handoverLock);
  const elector = new Elector(store, resolved, clock);
  const seen: Seen[] = [];
  const errors: Error[] = [];
  elector.on('elected', ({ term }) => seen.push({ type: 'elected', at: clock.now(), term }));
  elector.on('revoked', ({ term, reason }) => seen.push({ type: 'revoked', at: clock.now(), term, reason }));
  elector.on('error', (error) => errors.push(error));
  started.push({ elector, clock });
  let outcome: { value?: unknown; error?: unknown } | undefined;
  const campaign = (signal?: AbortSignal) => {
    outcome = undefined;
    elector.acquire(signal).then(
      (value) => (outcome = { value }),
      (error: unknown) => (outcome = { error }),
    );
  };
  return { elector, store, seen, errors, campaign, outcome: () => outcome };
}

/** Closes every participant made since the last call, moving fake time on so that statements in flight can time out. */
export async function closeAll(): Promise<void> {
  for (const { elector, clock } of started.splice(0)) {
    let closed = false;
    void elector.close().then(() => (closed = true));
    await clock.until(() => closed, 30 * AGE, TICK);
  }
}

/** When `nodeName`, elected under `term` at `electedAt`, renews for the first time (a little before a tick, see `firstRenewalEarly`). */
export function firstRenewalAt(nodeName: string, term: number, electedAt: number): number {
  return electedAt + TICK - firstRenewalEarly('memory', nodeName, term, TICK);
}
