/**
 * A TCP fault proxy between one participant and the database server: it
 * forwards bytes both ways, and on command delays them (latency), holds
 * them (partition), or cuts one connection at a chosen statement (it reads
 * the client's packets just enough to recognise a `COM_QUERY` by its SQL, as
 * test/support/statement-proxy.ts does).
 *
 * A partition holds everything in both directions, connection closes
 * included, and delivers it in order when it heals: what a network that
 * drops packets does to TCP, which retransmits them once the path is back.
 * That is the harsh case for a lease protocol, because statements the client
 * gave up on long ago still reach the server, late.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { sharedNow } from '../src/cli/shared-clock.js';
import { PacketReader, statementOf } from './mysql-packets.js';
import { listenOnLoopback, portOf } from '../src/cli/harness/loopback.js';

/**
 * Where a cut destroys the connection of the statement it waits for:
 * `unsent`, before the statement reaches the server (it never runs);
 * `replied`, once the server has answered it (the reply is dropped: the
 * statement ran, and the client never learns how).
 */
export type CutMode = 'unsent' | 'replied';

/** A cut armed for the next statement that matches `pattern`, on any connection. */
interface ArmedCut {
  readonly pattern: RegExp;
  readonly mode: CutMode;
  readonly done: (cut: boolean) => void;
}

/** One direction of a proxied connection: chunks (and finally the close) delivered in order. */
class Link {
  /** `null` stands for the end of the stream. */
  readonly #queue: { due: number; chunk: Buffer | null }[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly to: Socket,
    readonly proxy: FaultProxy,
    readonly onEnd: () => void,
  ) {}

  push(chunk: Buffer | null): void {
    this.#queue.push({ due: sharedNow() + this.proxy.latency, chunk });
    this.flush();
  }

  /** Delivers what is due, unless partitioned; arms a timer for the rest. */
  flush(): void {
    clearTimeout(this.#timer);
    if (this.proxy.partitioned) return;
    for (let head = this.#queue[0]; head; head = this.#queue[0]) {
      const wait = head.due - sharedNow();
      if (wait > 0) {
        this.#timer = setTimeout(() => this.flush(), wait);
        return;
      }
      this.#queue.shift();
      if (head.chunk !== null) {
        this.to.write(head.chunk);
        continue;
      }
      this.to.end();
      this.onEnd();
      return;
    }
  }

  /** Drops everything (the proxy is closing). */
  clear(): void {
    clearTimeout(this.#timer);
    this.#queue.length = 0;
  }
}

/** A fault proxy listening on a free loopback port, forwarding to `target`. */
export class FaultProxy {
  /** Delay added to each chunk, each way (ms). */
  latency = 0;
  /** Whether traffic is held both ways. */
  partitioned = false;
  readonly #server: Server;
  readonly #links = new Set<Link>();
  readonly #upstreams = new Set<Socket>();
  readonly #sockets = new Set<Socket>();
  #cut: ArmedCut | undefined;

  constructor(readonly target: { readonly host: string; readonly port: number }) {
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Starts listening; resolves to the port. */
  listen(): Promise<number> {
    return listenOnLoopback(this.#server);
  }

  /** The port participants connect to. */
  get port(): number {
    return portOf(this.#server);
  }

  /** Holds traffic both ways until {@link heal}. */
  partition(): void {
    this.partitioned = true;
  }

  /** Delivers what was held, in order, and forwards again. */
  heal(): void {
    this.partitioned = false;
    for (const link of this.#links) link.flush();
  }

  /**
   * The local ports of its connections to the server: the server shows each
   * session's client as `127.0.0.1:PORT` (the `HOST` of `PROCESSLIST`).
   */
  upstreamPorts(): number[] {
    return [...this.#upstreams].flatMap((socket) => (socket.localPort === undefined ? [] : [socket.localPort]));
  }

  /**
   * Cuts the connection that sends the next statement matching `pattern`
   * (see {@link CutMode}); resolves `true` once it is cut, or `false` if no
   * such statement came within `within` ms (the cut is then disarmed).
   */
  cutAt(pattern: RegExp, mode: CutMode, within: number): Promise<boolean> {
    return new Promise((resolve) => {
      // Once only: by the cut, or by the timer (also when the cut's connection closed before its reply).
      const armed: ArmedCut = {
        pattern,
        mode,
        done: (cut) => {
          clearTimeout(timer);
          if (this.#cut === armed) this.#cut = undefined;
          resolve(cut);
        },
      };
      const timer = setTimeout(() => armed.done(false), within);
      this.#cut = armed;
    });
  }

  /** Stops listening and destroys every connection. */
  close(): Promise<void> {
    this.#cut?.done(false);
    for (const link of this.#links) link.clear();
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    const down: Link = new Link(client, this, () => this.#links.delete(down));
    const up: Link = new Link(upstream, this, () => this.#links.delete(up));
    this.#upstreams.add(upstream);
    const cutBoth = (): void => void [client, upstream].forEach((socket) => socket.destroy());
    const packets = new PacketReader();
    let cutAtReply: ArmedCut | undefined;
    // The client's bytes, split into packets so that a statement can be recognised.
    const clientData = (chunk: Buffer): void => {
      for (const packet of packets.push(chunk)) {
        const cut = this.#cut;
        const sql = statementOf(packet);
        if (cut && sql !== undefined && cut.pattern.test(sql)) {
          this.#cut = undefined;
          if (cut.mode === 'unsent') {
            cutBoth();
            cut.done(true);
            return;
          }
          cutAtReply = cut;
        }
        up.push(packet);
      }
    };
    // The server's bytes; the first after a statement cut at its reply is dropped with the connection.
    const serverData = (chunk: Buffer): void => {
      if (!cutAtReply) return down.push(chunk);
      cutBoth();
      cutAtReply.done(true);
      cutAtReply = undefined;
    };
    for (const [socket, link, onData] of [
      [client, up, clientData],
      [upstream, down, serverData],
    ] as const) {
      this.#sockets.add(socket);
      this.#links.add(link);
      socket.setNoDelay(true);
      socket.on('data', onData);
      // A reset or a refused connection is passed on as a close, in order.
      socket.on('error', () => {});
      socket.once('close', () => {
        link.push(null);
        this.#sockets.delete(socket);
        if (socket === upstream) this.#upstreams.delete(upstream);
      });
    }
  }
}
