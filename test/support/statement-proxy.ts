/**
 * A TCP proxy between clients and the MySQL server that reads just enough of
 * the client/server protocol to act at one chosen statement: it recognises a
 * client's `COM_QUERY` by its SQL text, then holds the server's reply (to
 * deliver or cut later) or holds the statement itself (it never reaches the
 * server). What a slow, frozen or broken network does to that one statement,
 * made deterministic.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { PacketReader, statementOf } from '../../chaos/mysql-packets.js';
import { listenOnLoopback, portOf } from '../../src/cli/harness/loopback.js';

/** What a trap holds once its statement arrives. */
export type TrapMode =
  /** The statement reaches the server; its reply (and all that follows) waits in the proxy. */
  | 'reply'
  /** The statement (and all that follows it) waits in the proxy: the server never sees it unless released. */
  | 'statement';

/** A trap set for the next statement whose SQL matches a pattern. */
export interface Trap {
  /** Resolves when the statement arrived at the proxy. */
  readonly reached: Promise<void>;
  /** With mode `reply`: resolves when the server's reply arrived (and is held). */
  readonly answered: Promise<void>;
  /** Delivers what was held, in order, and forwards again. */
  release(): void;
  /** Destroys the connection both ways (the client sees a lost connection). */
  cut(): void;
}

/** One proxied connection: client ⇄ server, with what is held on each side. */
class Connection {
  readonly #packets = new PacketReader();
  #heldUp: Buffer[] | undefined;
  #heldDown: Buffer[] | undefined;
  #onServerData: (() => void) | undefined;

  constructor(
    readonly client: Socket,
    readonly server: Socket,
    readonly proxy: StatementProxy,
  ) {
    for (const socket of [client, server]) {
      socket.setNoDelay(true);
      socket.on('error', () => {});
      socket.once('close', () => {
        client.destroy();
        server.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => this.#clientData(chunk));
    server.on('data', (chunk: Buffer) => {
      this.#onServerData?.();
      if (this.#heldDown) this.#heldDown.push(chunk);
      else client.write(chunk);
    });
  }

  /** Splits the client's bytes into packets, so that a statement can be recognised and held. */
  #clientData(chunk: Buffer): void {
    for (const packet of this.#packets.push(chunk)) {
      const sql = statementOf(packet);
      const trap = sql === undefined ? undefined : this.proxy.springTrap(sql, this);
      if (trap === 'statement') this.#heldUp = [];
      if (this.#heldUp) this.#heldUp.push(packet);
      else this.server.write(packet);
      if (trap === 'reply') this.#heldDown = [];
    }
  }

  /** Resolves when the server sends anything next. */
  serverAnswered(): Promise<void> {
    return new Promise((resolve) => {
      this.#onServerData = () => {
        this.#onServerData = undefined;
        resolve();
      };
    });
  }

  release(): void {
    const [up, down] = [this.#heldUp, this.#heldDown];
    this.#heldUp = undefined;
    this.#heldDown = undefined;
    for (const packet of up ?? []) this.server.write(packet);
    for (const chunk of down ?? []) this.client.write(chunk);
  }

  cut(): void {
    this.client.destroy();
    this.server.destroy();
  }
}

/** A statement-aware proxy on a free loopback port, forwarding to `target`. */
export class StatementProxy {
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  readonly #traps: { pattern: RegExp; mode: TrapMode; spring: (connection: Connection) => void }[] = [];

  constructor(readonly target: { readonly host: string; readonly port: number }) {
    this.#server = createServer((client) => {
      const connection = new Connection(client, connect(target.port, target.host), this);
      this.#connections.add(connection);
      client.once('close', () => this.#connections.delete(connection));
    });
  }

  /** Starts listening on a free port of 127.0.0.1; resolves to it. */
  listen(): Promise<number> {
    return listenOnLoopback(this.#server);
  }

  /** The port clients connect to. */
  get port(): number {
    return portOf(this.#server);
  }

  /** `url` (a `mysql://` URL of the target) made to go through this proxy. */
  through(url: string): string {
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(this.port);
    return proxied.toString();
  }

  /** Sets a trap for the next statement, on any connection, whose SQL matches `pattern`. */
  trap(pattern: RegExp, mode: TrapMode = 'reply'): Trap {
    let connection: Connection | undefined;
    let reached: () => void = () => {};
    let answered: () => void = () => {};
    const trap: Trap = {
      reached: new Promise((resolve) => (reached = resolve)),
      answered: new Promise((resolve) => (answered = resolve)),
      release: () => connection?.release(),
      cut: () => connection?.cut(),
    };
    this.#traps.push({
      pattern,
      mode,
      spring: (sprung) => {
        connection = sprung;
        if (mode === 'reply') void sprung.serverAnswered().then(answered);
        reached();
      },
    });
    return trap;
  }

  /** @internal A statement arrived on `connection`: the mode of the first trap it springs, if any. */
  springTrap(sql: string, connection: Connection): TrapMode | undefined {
    const index = this.#traps.findIndex((trap) => trap.pattern.test(sql));
    const [trap] = index < 0 ? [] : this.#traps.splice(index, 1);
    trap?.spring(connection);
    return trap?.mode;
  }

  /** Stops listening and destroys every connection. */
  close(): Promise<void> {
    for (const connection of this.#connections) connection.cut();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
