/**
 * A name that moves: a TCP proxy on a fixed loopback port that forwards each
 * connection to the server the name points at now, as a virtual IP or a DNS
 * name does in front of a replicated database. Moving it is a failover:
 * every connection it carries is reset (the clients see `ECONNRESET` and
 * reconnect), and the connections that arrive while it points nowhere wait,
 * then go to the new server. Unlike chaos/proxy.ts (one participant's link,
 * with latency and partitions) it has no faults of its own.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { listenOnLoopback, portOf } from './loopback.js';

/** A client's connection and the proxy's connection to the server for it. */
interface Carried {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** A proxy listening on a free loopback port for a name that moves between servers. */
export class MovingProxy {
  readonly #server: Server;
  readonly #carried = new Set<Carried>();
  /** Clients accepted while the name pointed nowhere, paused. */
  readonly #waiting = new Set<Socket>();
  #target: number | undefined;
  #closed = false;

  /** Points at the server on loopback port `target`, or nowhere yet. */
  constructor(target?: number) {
    this.#target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Starts listening; resolves to the port. */
  listen(): Promise<number> {
    return listenOnLoopback(this.#server);
  }

  /** The port clients connect to. */
  get port(): number {
    return portOf(this.#server);
  }

  /** The server port the name points at, or `undefined` while it moves. */
  get target(): number | undefined {
    return this.#target;
  }

  /** How many connections it carries now (not counting those waiting). */
  get connections(): number {
    return this.#carried.size;
  }

  /**
   * The local ports of its connections to the server for the clients whose
   * own ports (as the proxy sees them: their remote ports) are `clientPorts`:
   * the client ports the server sees for those clients' sessions.
   */
  upstreamPortsOf(clientPorts: readonly number[]): number[] {
    const wanted = new Set(clientPorts);
    return [...this.#carried].flatMap(({ client, upstream }) =>
      client.remotePort !== undefined && wanted.has(client.remotePort) && upstream.localPort !== undefined ? [upstream.localPort] : [],
    );
  }

  /**
   * Points the name nowhere: resets every connection it carries, both ways,
   * and holds new ones until {@link pointAt}. Returns how many were reset.
   */
  detach(): number {
    this.#target = undefined;
    const reset = this.#carried.size;
    for (const { client, upstream } of this.#carried) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.#carried.clear();
    return reset;
  }

  /** Points the name at the server on loopback port `target`: the waiting connections and the new ones go there. */
  pointAt(target: number): void {
    this.#target = target;
    for (const client of this.#waiting) this.#forward(client, target);
    this.#waiting.clear();
  }

  /** Stops listening and destroys every connection, waiting ones included. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    this.detach();
    for (const client of this.#waiting) client.destroy();
    this.#waiting.clear();
    if (!this.#server.listening) return Promise.resolve();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    client.on('error', () => {}); // a reset is a close, handled below.
    if (this.#closed) return void client.destroy();
    if (this.#target !== undefined) return this.#forward(client, this.#target);
    // The server speaks first in MySQL's protocol, so a waiting client sends nothing yet.
    client.pause();
    this.#waiting.add(client);
    client.once('close', () => this.#waiting.delete(client));
  }

  /** Connects `client` to the server on `target` and copies bytes both ways; either side's close closes the other. */
  #forward(client: Socket, target: number): void {
    const upstream = connect(target, '127.0.0.1');
    const carried: Carried = { client, upstream };
    this.#carried.add(carried);
    upstream.on('error', () => {}); // refused or reset: the close below passes it on.
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.setNoDelay(true);
      from.pipe(to);
      from.once('close', () => {
        this.#carried.delete(carried);
        to.destroy();
      });
    }
    client.resume();
  }
}
