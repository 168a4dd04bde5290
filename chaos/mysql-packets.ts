/**
 * Just enough of the MySQL client/server protocol for a proxy to act at one
 * statement: the client's byte stream split into packets (3-byte length,
 * 1-byte sequence number, payload), and the SQL of a text-protocol
 * statement (`COM_QUERY`). Used by the chaos fault proxy and by the tests'
 * statement proxy (test/support/statement-proxy.ts).
 */

/** COM_QUERY, the first byte of a text-protocol statement's payload. */
const COM_QUERY = 0x03;

/** Splits a client's bytes into whole packets, keeping a partial one for the next chunk. */
export class PacketReader {
  #pending: Buffer = Buffer.alloc(0);

  /** The whole packets that `chunk` completes, each with its 4-byte header. */
  push(chunk: Buffer): Buffer[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const packets: Buffer[] = [];
    while (this.#pending.length >= 4) {
      const length = this.#pending.readUIntLE(0, 3);
      if (this.#pending.length < 4 + length) break;
      packets.push(this.#pending.subarray(0, 4 + length));
      this.#pending = this.#pending.subarray(4 + length);
    }
    return packets;
  }
}

/** The SQL of `packet` when it starts a text-protocol statement (a command, sequence 0), else `undefined`. */
export function statementOf(packet: Buffer): string | undefined {
  return packet[3] === 0 && packet[4] === COM_QUERY ? packet.subarray(5).toString('utf8') : undefined;
}
