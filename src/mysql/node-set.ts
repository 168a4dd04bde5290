/**
 * One database handle over several nodes: the nodes of a Galera cluster, or
 * several addresses of one server. Each connection comes from the current
 * node's pool; when a node fails (a connection refused, reset or lost, a
 * Galera node not ready or out of the primary component), the set moves to
 * the next node, and it moves back to the first one once that one has
 * passed its checks for a while. A participant given the set keeps taking
 * part whichever single node it loses.
 *
 * The modes of a node, changed only by a failure (`#markDown`) and by a
 * passed check:
 * - *up, unverified*: usable, but checked (Galera: `wsrep_ready` ON and
 *   Synced) before a connection of it is handed out: at the start, and
 *   after each failure, when the set moves to it;
 * - *up, verified*: its connections are handed out as they come;
 * - *down*: failed; for its back-off (1 s, doubled at each failure in a
 *   row, 30 s at most) it is not checked, and tried only after every node
 *   that is up; then up and unverified again.
 * A check every `checkInterval` looks at the current node and at every
 * node before it in the list; one before it that has passed every check
 * for `moveBackAfter` becomes the current node again.
 */
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import { DatabaseError, OptionRangeError, OptionTypeError } from '../errors.js';
import { checkDuration } from '../options.js';
import { NODE_STATE_SQL, nodeUnready } from './cluster.js';
import { toQueryResult, type Queryable } from './driver.js';
import { isNodeFailure } from './errors.js';
import { watchConnection } from './watched-connection.js';

/** A connection of a node's pool: a `mysql2/promise` or `mariadb` pool connection. */
export interface NodeConnection {
  /** Runs one statement. */
  query(sql: string, values?: unknown[]): unknown;
  /** Gives the connection back to its pool. */
  release(): unknown;
  /** Closes the connection. */
  destroy(): unknown;
}

/** One node of a {@link NodeSet}: a `mysql2/promise` pool (for mysql2's callback pool, `pool.promise()`) or a `mariadb` pool. */
export interface NodePool<C extends NodeConnection = NodeConnection> {
  /** Takes a connection of the pool. */
  getConnection(): Promise<C>;
  /** Closes the pool (called by {@link NodeSet.end} only). */
  end(): Promise<void>;
}

/** Options of {@link nodeSet}. Durations are in milliseconds. */
export interface NodeSetOptions {
  /**
   * How often the current node, and each node before it in the list, is
   * checked: a Galera node that is no longer Synced is left before a
   * statement fails on it, and a node earlier in the list is watched until
   * the set moves back to it. One statement per node checked.
   * @default 1_000
   */
  checkInterval?: number;
  /**
   * Time limit for a node's pool to give a connection and, when the node
   * is checked, for the check: a node that takes longer counts as failed
   * and the next one is tried. (A `mariadb` pool waits `acquireTimeout`,
   * 10 s, before it reports a server it cannot reach.)
   * @default 2_000
   */
  connectTimeout?: number;
  /**
   * How long a failed node is left alone before it is tried again; doubled
   * at each failure in a row, up to `maxBackoff`.
   * @default 1_000
   */
  backoff?: number;
  /**
   * The longest back-off of a failed node.
   * @default 30_000
   */
  maxBackoff?: number;
  /**
   * How long a node earlier in the list than the current one must pass
   * every check before connections come from it again (so that a node that
   * comes and goes does not take the set along each time).
   * @default 30_000
   */
  moveBackAfter?: number;
}

/**
 * A database handle over several nodes, made by {@link nodeSet}: a
 * {@link Queryable} with `getConnection()`, to give to `MysqlLeader`,
 * `createMysqlLeaderTable` and the operators' functions in place of a pool.
 */
export interface NodeSet<C extends NodeConnection = NodeConnection> extends Queryable {
  /**
   * A connection of the current node: the driver's own connection (its
   * whole API; seen through a Proxy that reports the node's failures to
   * the set). Release it as usual. When the node fails to give one, the
   * next nodes are tried at once, each once; then it rejects with a
   * transient `DatabaseError` that names each node's failure. Other errors
   * (a refused login, an unknown database) reject at once, unchanged.
   */
  getConnection(): Promise<C>;
  /**
   * Runs one statement on a connection of the current node, with the
   * arguments and the result of the driver's own `query()`. A statement
   * that fails once sent is never sent again (a write may have landed): it
   * rejects with the driver's error, and when that error is a failure of
   * the node, the next statement goes to the next node.
   */
  query: C['query'];
  /** The index, in the list given, of the node connections come from now. */
  readonly current: number;
  /** Stops the checks; later calls reject. Leaves every pool open: they are the caller's (see {@link NodeSet.end}). Idempotent. */
  close(): Promise<void>;
  /** `close()`, then ends every node's pool. Idempotent. */
  end(): Promise<void>;
  /** `close()`: `await using set = nodeSet(…)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * One handle over several nodes of a Galera cluster, or several addresses
 * of one server, each given as a pool of its own: connections come from the
 * first node while it serves, from the next when it fails, and from the
 * first again once it has passed its checks for `moveBackAfter`.
 *
 * ```ts
 * const nodes = ['db1', 'db2', 'db3'].map((host) => createPool({ host, user: 'app', database: 'app', connectionLimit: 3 }));
 * const db = nodeSet(nodes); // the same order on every participant: they meet on one node
 * const leader = new MysqlLeader(db, 'nightly-report');
 * // …
 * await db.end(); // or db.close(), and end the pools yourself
 * ```
 *
 * @param nodes The nodes' pools, most preferred first; at least one.
 * @throws {OptionTypeError | OptionRangeError} naming the node or option at fault, before anything is sent.
 */
export function nodeSet<C extends NodeConnection>(nodes: readonly NodePool<C>[], options?: NodeSetOptions): NodeSet<C> {
  return new Nodes(checkNodes(nodes), resolveNodeSetOptions(options));
}

/** What the set knows of one node. */
interface NodeState<C extends NodeConnection> {
  readonly pool: NodePool<C>;
  /** Failures in a row (a passed check ends the row). */
  failures: number;
  /** Left alone until this instant (`performance.now()`). */
  downUntil: number;
  /** Passed a check since it last failed: its connections are handed out unchecked. */
  verified: boolean;
  /** For a node before the current one: since when it has passed every check. */
  healthySince: number | undefined;
}

/** A node that gave no connection in time, or is not ready: a failure of the node, as a lost connection is. */
class UnusableNode extends Error {}

class Nodes<C extends NodeConnection> implements NodeSet<C> {
  readonly #nodes: readonly NodeState<C>[];
  readonly #options: Readonly<Required<NodeSetOptions>>;
  #current = 0;
  #checking = false;
  #timer: NodeJS.Timeout | undefined;
  /** The round of checks in progress (or the last one). */
  #round: Promise<void> = Promise.resolve();
  #closed = false;
  #ended: Promise<void> | undefined;

  constructor(pools: readonly NodePool<C>[], options: Readonly<Required<NodeSetOptions>>) {
    this.#nodes = pools.map((pool) => ({ pool, failures: 0, downUntil: 0, verified: false, healthySince: undefined }));
    this.#options = options;
  }

  get current(): number {
    return this.#current;
  }

  async getConnection(): Promise<C> {
    if (this.#closed) throw new Error('getConnection() was called on a closed node set');
    this.#startChecks();
    const failures: string[] = [];
    let last: unknown;
    const from = this.#current;
    for (const index of this.#passOrder()) {
      try {
        const connection = await this.#take(index, !this.#node(index).verified);
        // A move: a pass that stayed on its node leaves alone a move back made by the checks meanwhile.
        if (index !== from) this.#current = index;
        return watchConnection(connection, () => this.#markDown(index));
      } catch (error) {
        if (!(error instanceof UnusableNode || isNodeFailure(error))) throw error;
        this.#markDown(index);
        failures.push(`node ${index + 1}: ${error instanceof Error ? error.message : String(error)}`);
        last = error;
      }
    }
    const code = (last as { code?: unknown } | undefined)?.code;
    throw new DatabaseError(`no node of the set gave a usable connection (${failures.join('; ')})`, {
      cause: last,
      sqlCode: typeof code === 'string' ? code : undefined,
      transient: true,
    });
  }

  readonly query = (async (...args: Parameters<NodeConnection['query']>): Promise<unknown> => {
    const connection = await this.getConnection();
    let result: unknown;
    try {
      result = await connection.query(...args);
    } catch (error) {
      if ((error as { fatal?: unknown } | null)?.fatal === true) connection.destroy();
      else release(connection);
      throw error;
    }
    release(connection);
    return result;
  }) as C['query'];

  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    return this.#round;
  }

  end(): Promise<void> {
    this.#ended ??= this.close().then(async () => {
      await Promise.all(this.#nodes.map((node) => node.pool.end()));
    });
    return this.#ended;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #node(index: number): NodeState<C> {
    const node = this.#nodes[index];
    if (!node) throw new RangeError(`no node ${index}`);
    return node;
  }

  /** The order of one pass: the current node if it is up, the other nodes that are up (first ones first), then those that are down. */
  #passOrder(): number[] {
    const now = performance.now();
    const up: number[] = [];
    const down: number[] = [];
    for (const [index, node] of this.#nodes.entries()) {
      if (node.downUntil > now) down.push(index);
      else if (index === this.#current) up.unshift(index);
      else up.push(index);
    }
    return [...up, ...down];
  }

  /** A connection of node `index`, within `connectTimeout`; `check`: only once the node has passed its check on it. */
  async #take(index: number, check: boolean): Promise<C> {
    const node = this.#node(index);
    const { connectTimeout } = this.#options;
    const connection = await within(node.pool.getConnection(), connectTimeout, `gave no connection within ${connectTimeout} ms`, release);
    if (!check) return connection;
    let unready: string | undefined;
    try {
      const state = await within(Promise.resolve(connection.query(NODE_STATE_SQL)), connectTimeout, `did not answer its check within ${connectTimeout} ms`);
      unready = nodeUnready(toQueryResult(state));
    } catch (error) {
      connection.destroy(); // its state is unknown.
      throw error;
    }
    if (unready !== undefined) {
      release(connection);
      throw new UnusableNode(unready);
    }
    node.verified = true;
    node.failures = 0;
    return connection;
  }

  /** Node `index` failed: left alone for its back-off. A node already down is not counted twice (its connections fail together). */
  #markDown(index: number): void {
    const node = this.#node(index);
    const now = performance.now();
    if (node.downUntil > now) return;
    const { backoff, maxBackoff } = this.#options;
    node.failures += 1;
    node.downUntil = now + Math.min(backoff * 2 ** (node.failures - 1), maxBackoff);
    node.verified = false;
    node.healthySince = undefined;
  }

  /** Checks every `checkInterval` from the first connection on, until `close()`. */
  #startChecks(): void {
    if (this.#checking) return;
    this.#checking = true;
    const schedule = (): void => {
      this.#timer = setTimeout(() => {
        this.#round = this.#checkRound().then(() => {
          if (!this.#closed) schedule();
        });
      }, this.#options.checkInterval);
      this.#timer.unref(); // the checks never keep a process alive.
    };
    schedule();
  }

  /** One round: each node before the current one that is not down, then the current one; moves back to the first that has passed for `moveBackAfter`. */
  async #checkRound(): Promise<void> {
    // A node's spell counts only while it is before the current node, watched at every round.
    for (const node of this.#nodes.slice(this.#current)) node.healthySince = undefined;
    for (let index = 0; index <= this.#current && !this.#closed; index++) {
      const node = this.#node(index);
      if (node.downUntil > performance.now()) continue;
      const healthy = await this.#probe(index);
      if (index === this.#current || !healthy) continue;
      node.healthySince ??= performance.now();
      if (performance.now() - node.healthySince >= this.#options.moveBackAfter) {
        this.#current = index;
        return;
      }
    }
  }

  /** Checks node `index` on a connection of its own; never rejects. */
  async #probe(index: number): Promise<boolean> {
    try {
      release(await this.#take(index, true));
      return true;
    } catch (error) {
      if (error instanceof UnusableNode || isNodeFailure(error)) this.#markDown(index);
      this.#node(index).healthySince = undefined;
      return false;
    }
  }
}

/** Gives a connection back to its pool (mariadb's `release()` returns a promise, mysql2's nothing). */
function release(connection: NodeConnection): void {
  const released = connection.release();
  if (released instanceof Promise) released.catch(() => {}); // a pool that was ended meanwhile: nothing to give back to.
}

/**
 * `promise`, or an {@link UnusableNode} (`node … ${what}`) after `ms`; what
 * it resolves to after that goes to `late` (a connection back to its pool).
 */
function within<T>(promise: Promise<T>, ms: number, what: string, late?: (value: T) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new UnusableNode(what));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (!timedOut) resolve(value);
        else late?.(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(error);
      },
    );
  });
}

const show = (value: unknown): string => inspect(value, { breakLength: Infinity, depth: 0 });

/** Throws unless `nodes` is a non-empty array of distinct pools. */
function checkNodes<C extends NodeConnection>(nodes: readonly NodePool<C>[]): readonly NodePool<C>[] {
  const given: unknown = nodes;
  if (!Array.isArray(given)) throw new OptionTypeError(['nodes'], `nodes must be an array of mysql2 or mariadb pools, received ${show(nodes)}`);
  if (nodes.length === 0) throw new OptionRangeError(['nodes'], 'nodes must hold at least one pool, received an empty array');
  for (const [index, node] of nodes.entries()) {
    const candidate = node as Partial<NodePool<C>> | null | undefined;
    if (typeof candidate?.getConnection !== 'function' || typeof candidate.end !== 'function') {
      throw new OptionTypeError(
        [`nodes[${index}]`],
        `nodes[${index}] must be a mysql2/promise or mariadb pool (with getConnection() and end(); for mysql2's callback pool, pass pool.promise()), received ${show(node)}`,
      );
    }
    const first = nodes.indexOf(node);
    if (first !== index) throw new OptionRangeError([`nodes[${index}]`, `nodes[${first}]`], `nodes[${index}] is the same pool as nodes[${first}]`);
  }
  return [...nodes];
}

/**
 * The name of every option: the keys of a `Record`, so that an option added
 * to the interface fails to compile until it is listed here too.
 */
const NODE_SET_OPTION_NAMES: readonly string[] = Object.keys({
  checkInterval: true,
  connectTimeout: true,
  backoff: true,
  maxBackoff: true,
  moveBackAfter: true,
} satisfies Record<keyof NodeSetOptions, true>);

function resolveNodeSetOptions(options: NodeSetOptions | undefined): Readonly<Required<NodeSetOptions>> {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new OptionTypeError(['options'], `options must be an object, received ${show(options)}`);
  }
  const given: NodeSetOptions = options ?? {};
  for (const key of Object.keys(given)) {
    if (!NODE_SET_OPTION_NAMES.includes(key)) throw new OptionTypeError([`options.${key}`], `options.${key} is not a known option`);
  }
  const backoff = checkDuration('options.backoff', given.backoff ?? 1_000);
  const maxBackoff = checkDuration('options.maxBackoff', given.maxBackoff ?? 30_000);
  if (maxBackoff < backoff) {
    throw new OptionRangeError(
      ['options.maxBackoff', 'options.backoff'],
      `options.maxBackoff (${maxBackoff} ms) must be at least options.backoff (${backoff} ms)`,
    );
  }
  return Object.freeze({
    checkInterval: checkDuration('options.checkInterval', given.checkInterval ?? 1_000),
    connectTimeout: checkDuration('options.connectTimeout', given.connectTimeout ?? 2_000),
    backoff,
    maxBackoff,
    moveBackAfter: checkDuration('options.moveBackAfter', given.moveBackAfter ?? 30_000),
  });
}
