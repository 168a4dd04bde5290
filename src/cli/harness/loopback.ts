/** The TCP servers of the harnesses (proxies) listen on a free port of 127.0.0.1, never on another address. */
import type { Server } from 'node:net';

/** Starts `server` listening on a free port of 127.0.0.1; resolves to the port. */
export function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(portOf(server)));
  });
}

/** The port `server` listens on. */
export function portOf(server: Server): number {
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the proxy is not listening');
  return address.port;
}
