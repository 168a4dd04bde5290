/**
 * The candidate registry for elections of a `Leases` engine: an election
 * opened with `candidate: true` registers its node as a participant (the
 * row `NAME` + U+0000 + `@` + node name, an election of its own that only
 * this node campaigns in, renewed in the engine's batches) for as long as
 * a campaign (`acquire()`) runs; `Leases.listCandidates(NAME)` lists the
 * live ones. The registration decides nothing: who leads is the election
 * row's alone.
 */
import { OptionRangeError, OptionTypeError } from './errors.js';
import type { LeaseOptions } from './leases-options.js';
import type { MysqlLeader } from './mysql-leader.js';
import { CANDIDATE_MARK } from './mysql/candidates.js';

/** Options of `Leases.leader()`. */
export interface LeaderOptions extends LeaseOptions {
  /**
   * Registers this node as a candidate of the election while it campaigns
   * (from `acquire()` until it settles), so that `Leases.listCandidates()`
   * lists it with when it was last seen: one more row, and one more lease
   * renewed in the engine's batches, per election (10,000 elections with it
   * renew 20,000 rows a tick).
   * @default false
   */
  candidate?: boolean;
}

/** Splits `candidate` off the options of `leader()`, validated; `name` must leave room for the registry row's name. */
export function takeCandidate(name: string, nodeName: string, options: LeaderOptions | undefined): { candidate: boolean; rest: LeaseOptions | undefined } {
  if (options === undefined || typeof options !== 'object' || options === null || !('candidate' in options)) return { candidate: false, rest: options };
  const { candidate, ...rest } = options;
  if (candidate !== undefined && typeof candidate !== 'boolean') {
    throw new OptionTypeError(['options.candidate'], `options.candidate must be a boolean, received ${typeof candidate}`);
  }
  if (candidate === true && [...name].length + CANDIDATE_MARK.length + [...nodeName].length > 255) {
    throw new OptionRangeError(
      ['name', 'options.candidate'],
      `name is too long for candidate: true: its registry row (name, U+0000, @, nodeName) must fit in 255 characters`,
    );
  }
  return { candidate: candidate === true, rest };
}

/**
 * Makes each campaign of `election` register its node while it runs:
 * `open()` gives the registration's election (not campaigning yet), or
 * `undefined` when it cannot be opened (a campaign already registered, the
 * engine closing).
 */
export function registerWhileCampaigning(election: MysqlLeader, open: () => MysqlLeader | undefined): void {
  const acquire = election.acquire.bind(election);
  const close = election.close.bind(election);
  /** The last registration's close, once its campaign ended. */
  let deregistered: Promise<void> = Promise.resolve();
  election.acquire = async (signal?: AbortSignal): Promise<void> => {
    const registration = open();
    registration?.acquire().catch(() => {}); // its errors are the election's too: the same database, the same batches.
    const campaign = acquire(signal);
    if (registration)
      deregistered = campaign.then(
        () => registration.close(),
        () => registration.close(),
      );
    try {
      await campaign;
    } finally {
      await deregistered;
    }
  };
  // Resolves once the registration is gone too.
  election.close = () => close().then(() => deregistered);
}
