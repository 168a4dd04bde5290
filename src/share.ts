/**
 * Shared ownership of keys on a `Leases` engine: M keys spread over the
 * live members of a group, each key owned by one member at a time, which
 * runs the key's task while it owns it.
 *
 * The rows (all in the election table, no other DDL):
 * - member `NODE` of group `G`: `G` + U+0000 + `@` + `NODE`, an election
 *   only that member campaigns in, renewed in the engine's batches like any
 *   lease: its registration, and the candidate registry's row
 *   (`Leases.listCandidates(G)` lists them);
 * - key `K` of group `G`: `G` + U+0000 + `k:` + `K`, an election every
 *   member campaigns in.
 * U+0000 is refused in every election name, and permits of a semaphore
 * have digits after it, so these rows can belong to nothing else.
 *
 * Safety (one owner of a key at a time, terms that only grow) is each key
 * election's own, by the rules of DESIGN section 2: a member claims a key
 * only once its row is vacant (released, or unchanged for a full `age`
 * while this member watched it), by a compare-and-set. Balance only decides
 * *whether* a member may claim: each key's election asks this file, through
 * a gate on its store's `claim`, and a claim it refuses is a lost race to
 * the election (it reads again, and asks again a `tick` later). The gate
 * may hold a claim for up to half its statement's time limit before it
 * decides (waiting for a fresh read of the group, for this member's claims
 * in flight, or for its first choices): the election's deadline is counted
 * from before, so a held claim only shortens the tenure.
 *
 * Balance: every member reads the group's member rows once per `tick`
 * (one statement), counts the live ones (by the database clock), sorts
 * them by node name; the first `M mod N` have a target of ⌈M/N⌉ keys, the
 * others ⌊M/N⌋. A member under its target claims vacant keys, up to its
 * deficit; a member over it gives up its excess gracefully: `resign()` of
 * the key's election ends the tenure (the task's signal aborts), waits for
 * the task to settle (up to `drainTimeout`), and only then releases the
 * row, so the next owner never overlaps it. Which keys: each member ranks
 * the keys by a hash of (key, member) (rendezvous hashing); a member claims
 * a key it ranks first among the live members at once, any other one a
 * quarter of a `tick` later if it is still short, and gives up first the
 * keys another member ranks first. Members that claim at once therefore
 * rarely collide, and a join or a leave moves few keys. A member whose key
 * lease ran out (found vacant, not released, by a claim here) is counted
 * out at once, until a read shows its registration renewed since.
 */
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import type { ClaimGate } from './batched-store.js';
import { ClosedError, OptionRangeError, OptionTypeError, type RevokeReason } from './errors.js';
import type { MysqlLeader } from './mysql-leader.js';
import type { Queryable } from './mysql/driver.js';
import { CANDIDATE_MARK, candidateRowName, type Candidate } from './mysql/candidates.js';
import type { ResolvedOptions } from './options.js';
import type { ObservedLease } from './store.js';
import { remainingUnder, type LockContext } from './tenure.js';

/** The most keys a share has: each is an election on every member (a whole elector each: about 8 KB of heap). */
export const MAX_KEYS = 10_000;

/** Separates a group's name from a key in its key rows' names. */
export const KEY_MARK = '\u0000k:';

/** A read of the group this recent (ms) counts as fresh: a refused claim asks for a new one only past it. */
const FRESH = 100;

/** `VARCHAR(255)` counts characters (code points). */
const MAX_NAME = 255;

const show = (value: unknown): string => inspect(value, { breakLength: Infinity, maxStringLength: 80 });
const length = (text: string): number => [...text].length;

/**
 * What a share's task gets for each tenure of a key: the key, and the
 * tenure's `term`, `signal` and `remainingMs`, as a lock's.
 */
export interface ShareTaskContext extends LockContext {
  /** The key this member now owns. */
  readonly key: string;
}

/**
 * The work of a key, run on its owner at the start of each tenure. Its
 * owner gives the key up only after it settles (up to `drainTimeout`), so
 * it must end soon after `signal` aborts.
 */
export type ShareTask = (context: ShareTaskContext) => unknown;

/** Which key an event of a {@link Share} is about. */
export interface KeyEvent {
  /** The key. */
  readonly key: string;
  /** The key's term (its tenure on this member). */
  readonly term: number;
}

/** Payload of a {@link Share}'s `renewed` event. */
export interface KeyRenewedEvent extends KeyEvent {
  /** From the asking of the renewal to its confirmation, the wait for the engine's batch included (ms). */
  readonly latencyMs: number;
}

/** Payload of a {@link Share}'s `released` event. */
export interface KeyReleasedEvent extends KeyEvent {
  /** Why the tenure ended: `resigned` (given up for the balance), `closed`, or `lost`, `expired`, `error`. */
  readonly reason: RevokeReason;
}

/** Payload of a {@link Share}'s `taskError` event. */
export interface KeyTaskErrorEvent extends KeyEvent {
  /** What the task threw. */
  readonly error: unknown;
}

/** The events of a {@link Share}. */
export interface ShareEvents {
  /** This member now owns `key`: its task starts. */
  acquired: [KeyEvent];
  /** This member's tenure of `key` was renewed: its local deadline moved on (see {@link Share.remainingMs}). */
  renewed: [KeyRenewedEvent];
  /** This member's tenure of `key` ended (its task's signal aborted): given up (`resigned`), `closed`, or lost (`lost`, `expired`, `error`). */
  released: [KeyReleasedEvent];
  /** A task threw (other than by aborting with its signal). */
  taskError: [KeyTaskErrorEvent];
  /** A read of the group's members or a key's statement failed, once per error however many keys its batch had (the share goes on; the engine's `onError` decides for the elections). */
  error: [Error];
}

/**
 * What a {@link Share} needs of its engine.
 * @internal
 */
export interface ShareEngine<DB extends Queryable> {
  /** The engine's options (its `nodeName`, `tick`, `queryTimeout`), with the share's own `drainTimeout`, `onError`, `logger`. */
  readonly options: ResolvedOptions;
  /** An election of the engine under `name`, not campaigning yet, its store's claims through `gate`; `undefined` once the engine closes. */
  open(name: string, gate?: ClaimGate): { readonly election: MysqlLeader<DB> } | undefined;
  /** The live candidates of `name`. */
  candidates(name: string, signal: AbortSignal): Promise<Candidate[]>;
  /** Whether the engine is closing. */
  readonly closing: () => boolean;
  /** The share closed: its group is free in the engine again. */
  closed(): void;
}

/** A key's election on this member. */
interface Key {
  readonly key: string;
  readonly election: MysqlLeader;
  /** The term of its live tenure, if it owns the key. */
  term: number | undefined;
  /** A `resign()` of it is under way (its tenure has ended; the row is released once its task settled). */
  resigning: boolean;
  /** The campaign, until it ends (closed). */
  done: Promise<void>;
}

/**
 * M keys shared by the live members of a group: each key owned by one
 * member at a time, which runs the key's `task`. Made by
 * {@link Leases.share}.
 *
 * ```ts
 * const share = leases.share('orders', 64, async ({ key, term, signal }) => consumePartition(Number(key), term, signal));
 * ```
 *
 * - **Exclusive:** a key has at most one owner at a time, whatever the
 *   members' views of the group, and its term grows with every new owner.
 *   A member gives a key up only after its task settled (up to
 *   `drainTimeout`: a task that outlives it is logged and the key released
 *   anyway).
 * - **Balanced, eventually:** once the members agree on who is alive (they
 *   read the group every `tick`), each holds ⌊M/N⌋ or ⌈M/N⌉ keys; after a
 *   member joins, leaves or crashes, within about `age` + 2 × `tick`.
 * - Every member must pass the same keys: a key only some members have is
 *   owned by one of them, but the counts then differ from member to member.
 */
export class Share<DB extends Queryable = Queryable> extends EventEmitter<ShareEvents> implements AsyncDisposable {
  /** The group's name. */
  readonly group: string;
  /** The keys, as given (a count `n` gives `'0'` … `String(n - 1)`). */
  readonly keys: readonly string[];
  readonly #engine: ShareEngine<DB>;
  readonly #task: ShareTask;
  readonly #keys = new Map<string, Key>();
  #member: MysqlLeader<DB> | undefined;
  /** The live members by node name, as last read (this member included once it is registered). */
  #members: readonly string[] = [];
  /** The last read of the group: its live candidates, and when it was sent (monotonic ms). */
  #read: { readonly candidates: readonly Candidate[]; readonly at: number } = { candidates: [], at: -Infinity };
  /**
   * Members that let a key's lease run out (a claim of this member found it
   * unchanged for a full age, not released), by when that was seen
   * (monotonic ms): counted out until a read shows them renewed since.
   */
  readonly #suspects = new Map<string, number>();
  /** Claims let through and not yet settled (their tenure, if won, not yet counted). */
  #pending = 0;
  /** Claims waiting for a claim in flight to settle (see `#mayClaim`). */
  readonly #settled = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  /** The errors emitted already (see `#error`). */
  readonly #reported = new WeakSet<Error>();

  /** @internal Use `Leases.share()`. */
  constructor(group: string, keys: readonly string[], task: ShareTask, engine: ShareEngine<DB>) {
    super();
    this.group = group;
    this.keys = Object.freeze([...keys]);
    this.#task = task;
    this.#engine = engine;
    this.#start();
  }

  /** This member's `nodeName`. */
  get nodeName(): string {
    return this.#engine.options.nodeName;
  }

  /** The keys this member owns now (a live tenure each), in the order of `keys`. */
  get owned(): string[] {
    const owned: string[] = [];
    for (const key of this.#keys.values()) if (key.term !== undefined && key.election.leading) owned.push(key.key);
    return owned;
  }

  /**
   * How long this member is sure to own `key` without a further renewal, in
   * ms (0 when it does not own it): the local deadline of its tenure, as
   * {@link MysqlLeader.remainingMs} gives it. No query.
   *
   * Throws `OptionRangeError` naming `key` when it is not one of `keys`.
   */
  remainingMs(key: string): number {
    const held = this.#keys.get(key);
    if (held === undefined && !this.keys.includes(key)) {
      throw new OptionRangeError(['key'], `key must be one of the share's keys, received ${show(key)}`);
    }
    return held?.term === undefined ? 0 : remainingUnder(held.election, held.term);
  }

  /** The live members of the group by node name, as this member last read them (itself included once registered). */
  get members(): readonly string[] {
    return this.#members;
  }

  /** Whether this member's registration is live: only then does it claim keys. */
  get registered(): boolean {
    return this.#member?.leading ?? false;
  }

  /** How many keys this member should own, by its last view of the group: ⌊M/N⌋ or ⌈M/N⌉ (0 while not registered). */
  get target(): number {
    if (!this.registered) return 0;
    const members = this.#members;
    const at = members.indexOf(this.nodeName);
    if (at < 0) return 0;
    const m = this.keys.length;
    const n = members.length;
    return Math.floor(m / n) + (at < m % n ? 1 : 0);
  }

  /**
   * Leaves the group: ends every tenure of a key (each task's signal aborts,
   * reason `closed`), waits for each task to settle (up to `drainTimeout`),
   * releases the keys' rows, and deregisters. Idempotent. The other members
   * take the keys over at their next read (within about a `tick`).
   * `Leases.close()` closes the share too.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#timer);
      await this.#reading;
      const member = this.#member;
      await Promise.all([member?.close(), ...[...this.#keys.values()].map((key) => key.election.close().then(() => key.done))]);
      this.#engine.closed();
    })();
    return this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Registers this member and campaigns for every key (gated), then reads the group every tick. */
  #start(): void {
    const opened = this.#engine.open(candidateRowName(this.group, this.nodeName));
    if (!opened) return;
    const member = opened.election;
    this.#member = member;
    member.on('error', (error) => this.#error(error));
    member.on('elected', () => this.#schedule(0)); // registered: read the group again, to count this member at once.
    member.acquire().catch((error: unknown) => this.#error(error));
    for (const key of this.keys) this.#campaign(key);
    this.#schedule(0);
  }

  /** Campaigns for `key`, its claims gated by the balance. */
  #campaign(name: string): void {
    const opened = this.#engine.open(`${this.group}${KEY_MARK}${name}`, (seen, claim) => this.#gatedClaim(name, seen, claim));
    if (!opened) return;
    const election = opened.election;
    const key: Key = { key: name, election, term: undefined, resigning: false, done: Promise.resolve() };
    this.#keys.set(name, key);
    election.on('error', (error) => this.#error(error));
    election.on('elected', ({ term }) => {
      key.term = term;
      this.#emit('acquired', { key: name, term });
      this.#rebalance();
    });
    election.on('renewed', ({ term, latencyMs }) => this.#emit('renewed', { key: name, term, latencyMs }));
    election.on('revoked', ({ term, reason }) => {
      if (key.term === term) key.term = undefined;
      this.#emit('released', { key: name, term, reason });
    });
    election.on('taskError', ({ term, error }) => this.#emit('taskError', { key: name, term, error }));
    election.runWhileLeader(async ({ term, signal }) => {
      await this.#task({
        key: name,
        term,
        signal,
        get remainingMs() {
          return remainingUnder(election, term);
        },
      });
    });
    key.done = election.acquire().then(
      () => undefined,
      (error: unknown) => this.#error(error),
    );
  }

  /** The claims of `name`'s election go out only while this member may take one more key. */
  async #gatedClaim(name: string, seen: ObservedLease | undefined, claim: () => Promise<number | undefined>): Promise<number | undefined> {
    // Vacant by the election's rule, not released: its holder has not renewed it for a full age.
    if (seen && !seen.released && seen.nodeName !== this.nodeName) this.#suspect(seen.nodeName);
    if (!(await this.#mayClaim(name))) return undefined; // to the election, a lost race: it reads again, then asks again a tick later.
    try {
      return await claim();
    } finally {
      // Counted until the election has started its tenure (or not), a few turns of promises later.
      setImmediate(() => {
        this.#pending--;
        const waiters = [...this.#settled];
        this.#settled.clear();
        for (const waiter of waiters) waiter();
      });
    }
  }

  /**
   * Whether this member may claim `name` now: registered, under its target,
   * and the key its first choice, or still under its target a quarter of a
   * tick later. At its target with claims in flight, it waits for them (one
   * may lose its race); at its target without, it reads the group once for
   * the purpose (a member may have gone). Counts the claim as pending when
   * it says yes. Decides within half the statement's time limit (the
   * election times the claim from before this wait: a late claim only
   * shortens the tenure).
   */
  async #mayClaim(name: string): Promise<boolean> {
    const { tick, queryTimeout } = this.#engine.options;
    const started = performance.now();
    const deadline = started + Math.min(tick, queryTimeout) / 2;
    const later = started + tick / 4;
    let read = false;
    for (;;) {
      const now = performance.now();
      const verdict = this.#verdict(name, now < later);
      if (verdict === 'yes') {
        this.#pending++;
        return true;
      }
      if (verdict === 'no' || now >= deadline) return false;
      if (verdict === 'later') await sleep(Math.min(later, deadline) - now);
      else if (this.#pending > 0 && this.#ownedCount() < this.target) await this.#settling(deadline);
      else if (read) return false;
      else {
        read = true;
        await this.#freshView(deadline);
      }
    }
  }

  /** Resolves when a claim in flight settles, or at `deadline`. */
  #settling(deadline: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#settled.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - performance.now()));
      this.#settled.add(done);
    });
  }

  /** `yes`, `no`, `full` (at its target by the last view), or `later` (not its first choice). */
  #verdict(name: string, firstOnly: boolean): 'yes' | 'no' | 'full' | 'later' {
    if (this.#closing || this.#engine.closing() || !this.registered) return 'no';
    const key = this.#keys.get(name);
    if (!key || key.resigning) return 'no';
    if (this.#ownedCount() + this.#pending >= this.target) return 'full';
    return firstOnly && !this.#firstChoice(name) ? 'later' : 'yes';
  }

  /** Waits (until `deadline` at most) for a read of the group sent from now on, unless the last one is a few ms old. */
  async #freshView(deadline: number): Promise<void> {
    if (performance.now() - this.#read.at < FRESH) return;
    const reading = this.#readNow();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([reading, new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - performance.now()))))]);
    clearTimeout(timer);
  }

  /** `node` let a key's lease run out: count it out of the group until it is seen renewing its registration. */
  #suspect(node: string): void {
    if (this.#suspects.has(node) || !this.#members.includes(node)) return;
    this.#suspects.set(node, performance.now());
    this.#view();
  }

  /** Whether this member ranks first for `key` among the live members (rendezvous hashing). */
  #firstChoice(key: string): boolean {
    const mine = score(key, this.nodeName);
    for (const member of this.#members) if (member !== this.nodeName && score(key, member) > mine) return false;
    return true;
  }

  #ownedCount(): number {
    let owned = 0;
    for (const key of this.#keys.values()) if (key.term !== undefined && !key.resigning) owned++;
    return owned;
  }

  /** Reads the group in `ms`, and every tick after. */
  #schedule(ms: number): void {
    if (this.#closing || this.#engine.closing()) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#readNow(), ms);
    this.#timer.unref(); // the elections keep the process alive while they campaign, not this.
  }

  /** Reads the group now, unless a read is under way: resolves when it is over. The next one comes a tick later. */
  #readNow(): Promise<void> {
    clearTimeout(this.#timer);
    this.#reading ??= this.#readGroup().finally(() => {
      this.#reading = undefined;
      this.#schedule(this.#engine.options.tick);
    });
    return this.#reading;
  }

  /** One read of the group's members (one statement), then the give-ups it calls for. */
  async #readGroup(): Promise<void> {
    const { queryTimeout } = this.#engine.options;
    const at = performance.now();
    try {
      const candidates = await this.#engine.candidates(this.group, AbortSignal.timeout(queryTimeout));
      if (this.#closing) return;
      this.#read = { candidates, at };
    } catch (error) {
      this.#error(error);
      return;
    }
    this.#view();
  }

  /** The live members by the last read, less the suspects it does not clear, plus this member while registered. */
  #view(): void {
    const { candidates, at } = this.#read;
    const members = new Set<string>();
    for (const candidate of candidates) {
      const suspected = this.#suspects.get(candidate.nodeName);
      // Renewed after it was suspected (by the database's clock from the read's send time): alive after all.
      if (suspected !== undefined && at - candidate.lastSeenMsAgo > suspected) this.#suspects.delete(candidate.nodeName);
      if (!this.#suspects.has(candidate.nodeName)) members.add(candidate.nodeName);
    }
    for (const node of this.#suspects.keys()) if (!candidates.some((candidate) => candidate.nodeName === node)) this.#suspects.delete(node);
    // This member counts itself while its registration is live, whatever the read saw (it may predate the claim).
    if (this.registered) members.add(this.nodeName);
    else members.delete(this.nodeName);
    this.#members = Object.freeze([...members].sort(byCodePoint));
    this.#rebalance();
  }

  /** Gives up the keys over this member's target, those it ranks lowest first, each gracefully. */
  #rebalance(): void {
    if (this.#closing || !this.registered) return;
    const excess = this.#ownedCount() - this.target;
    if (excess <= 0) return;
    const held = [...this.#keys.values()].filter((key) => key.term !== undefined && !key.resigning);
    // First the keys another member ranks first (most likely the one under its target), then by this member's rank.
    const rank = (key: Key): number => (this.#firstChoice(key.key) ? 2 ** 32 : 0) + score(key.key, this.nodeName);
    held.sort((a, b) => rank(a) - rank(b));
    for (const key of held.slice(0, excess)) {
      key.resigning = true;
      // resign(): the tenure ends (the task's signal aborts), the task drains, then the row is released.
      key.election
        .resign()
        .catch((error: unknown) => {
          if (!(error instanceof ClosedError)) this.#error(error);
        })
        .finally(() => {
          key.resigning = false;
        });
    }
  }

  /**
   * Emits `error` once per error: a failed batch fails the statements of
   * every key in it with the same error, which each key's election reports
   * (1,000 keys, one statement: one event, not 1,000).
   */
  #error(error: unknown): void {
    if (this.listenerCount('error') === 0) return; // each election logs its own errors; the reads are retried at the next tick.
    const reported = error instanceof Error ? error : new Error(String(error));
    if (this.#reported.has(reported)) return;
    this.#reported.add(reported);
    this.#emit('error', reported);
  }

  /** Emits without letting a throwing listener break the share: its error is rethrown on its own. */
  #emit<K extends keyof ShareEvents>(event: K, ...args: ShareEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: ShareEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  }
}

/** A hash of (`key`, `nodeName`) in [0, 2³²): FNV-1a, then a final mix, so that nearby keys spread. */
export function score(key: string, nodeName: string): number {
  let hash = 0x811c9dc5;
  for (const char of `${key}\u0000${nodeName}`) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash ^= hash >>> 16;
  return hash >>> 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The arguments of `Leases.share()`, validated: `group` (no U+0000, no
 * white space at the end, short enough for its rows' names), `keys` (a
 * non-empty list of distinct strings, or a count of numbered shards) and
 * `task` (a function). Throws `OptionTypeError`/`OptionRangeError` naming
 * the argument.
 */
export function checkShare(group: unknown, keys: unknown, task: unknown, nodeName: string): { group: string; keys: string[] } {
  if (typeof group !== 'string') throw new OptionTypeError(['group'], `group must be a string, received ${show(group)}`);
  const groupLength = length(group);
  // The longest row: the member row (group, U+0000, @, nodeName) or a key row (group, U+0000, k:, key).
  const maxGroup = MAX_NAME - CANDIDATE_MARK.length - length(nodeName);
  if (groupLength === 0 || groupLength > Math.min(maxGroup, MAX_NAME - KEY_MARK.length - 1)) {
    throw new OptionRangeError(
      ['group'],
      `group must be 1 to ${Math.min(maxGroup, MAX_NAME - KEY_MARK.length - 1)} characters long (its rows' names, with this engine's nodeName, fit in 255), received ${groupLength} characters: ${show(group)}`,
    );
  }
  if (group.includes('\u0000')) throw new OptionRangeError(['group'], `group must not contain U+0000, received ${show(group)}`);
  if (/\s$/u.test(group)) throw new OptionRangeError(['group'], `group must not end with white space, received ${show(group)}`);
  const maxKey = MAX_NAME - KEY_MARK.length - groupLength;
  let list: string[];
  if (typeof keys === 'number') {
    if (!Number.isInteger(keys)) throw new OptionTypeError(['keys'], `keys must be a whole number of shards or an array of strings, received ${show(keys)}`);
    if (keys < 1 || keys > MAX_KEYS) throw new OptionRangeError(['keys'], `keys must be between 1 and ${MAX_KEYS} shards, received ${show(keys)}`);
    if (String(keys - 1).length > maxKey)
      throw new OptionRangeError(['group'], `group is too long for ${keys} shards: their rows' names must fit in 255 characters`);
    list = Array.from({ length: keys }, (_, shard) => String(shard));
  } else if (Array.isArray(keys)) {
    if (keys.length === 0) throw new OptionRangeError(['keys'], 'keys must not be empty');
    if (keys.length > MAX_KEYS) throw new OptionRangeError(['keys'], `keys must have at most ${MAX_KEYS} keys, received ${keys.length}`);
    const seen = new Set<string>();
    list = keys.map((key: unknown, at) => {
      if (typeof key !== 'string') throw new OptionTypeError([`keys[${at}]`], `keys[${at}] must be a string, received ${show(key)}`);
      const keyLength = length(key);
      if (keyLength === 0 || keyLength > maxKey) {
        throw new OptionRangeError(
          [`keys[${at}]`],
          `keys[${at}] must be 1 to ${maxKey} characters long in group ${show(group)}, received ${keyLength} characters: ${show(key)}`,
        );
      }
      if (key.includes('\u0000')) throw new OptionRangeError([`keys[${at}]`], `keys[${at}] must not contain U+0000, received ${show(key)}`);
      if (/\s$/u.test(key)) throw new OptionRangeError([`keys[${at}]`], `keys[${at}] must not end with white space, received ${show(key)}`);
      if (seen.has(key)) throw new OptionRangeError([`keys[${at}]`], `keys[${at}] is a duplicate: ${show(key)} appears twice`);
      seen.add(key);
      return key;
    });
  } else {
    throw new OptionTypeError(['keys'], `keys must be an array of strings or a whole number of shards, received ${show(keys)}`);
  }
  if (typeof task !== 'function') throw new OptionTypeError(['task'], `task must be a function, received ${show(task)}`);
  return { group, keys: list };
}
