/**
 * What the chaos harness adds for `--cluster galera`: where each participant
 * connects, and the measure of the cluster's own reconfiguration after a
 * node fault (the time writes through a surviving node wait for a commit).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createConnection, type Connection } from 'mysql2/promise';
import { sharedNow } from '../src/cli/shared-clock.js';

/** The cluster's size: a 3-node cluster survives the loss of one. */
export const GALERA_NODES = 3;

/** The node (1-based) participant `k` (1-based) talks to. */
export const nodeOfParticipant = (k: number): number => ((k - 1) % GALERA_NODES) + 1;

/** The name of Galera node `i` in the records and on the timeline. */
export const galeraNodeName = (i: number): string => `galera-${i}`;

/** The table the stall probe writes to (one row per fault). */
export const PROBE_TABLE_SQL = 'CREATE TABLE IF NOT EXISTS chaos_probe (id INT UNSIGNED PRIMARY KEY, n BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB';

/** The longest a probe write may take before the probe gives up on its connection and opens another (ms). */
const WRITE_TIMEOUT = 1_000;
/** The pause between two probe writes (ms). */
const PAUSE = 20;

/**
 * Writes through one node (a surviving one) every {@link PAUSE} ms from the
 * start of a fault, and keeps the longest wait for a commit: from the start
 * (or the previous commit) to the next commit. It stops at the first commit
 * after the heal, so a stall that outlasts the heal (a rejoin) is counted.
 */
export class StallProbe {
  readonly #port: number;
  readonly #id: number;
  readonly #signal: AbortSignal;
  readonly #abandoned = new AbortController();
  #last: number;
  #longest = 0;
  #longestFrom: number;
  #healedAt: number | undefined;
  #backAt: number | undefined;
  readonly #done: Promise<void>;

  /** `port`: the surviving node's client port; `id`: the fault's, the row it increments; `from`: the fault's start. */
  constructor(port: number, id: number, from: number, signal: AbortSignal) {
    this.#port = port;
    this.#id = id;
    this.#signal = AbortSignal.any([signal, this.#abandoned.signal]);
    this.#last = from;
    this.#longestFrom = from;
    this.#done = this.#loop();
  }

  /** The fault healed at `healedAt`: resolves once a write has committed since, with what was measured. */
  async finish(healedAt: number): Promise<{ readonly reconfigurationMs: number; readonly reconfigurationAt: number; readonly writesBackAt: number }> {
    this.#healedAt = healedAt;
    await this.#done;
    return { reconfigurationMs: Math.round(this.#longest), reconfigurationAt: this.#longestFrom, writesBackAt: this.#backAt ?? sharedNow() };
  }

  /** Stops writing (the fault failed): nothing is measured. */
  abandon(): void {
    this.#abandoned.abort();
  }

  async #loop(): Promise<void> {
    let connection: Connection | undefined;
    try {
      while (!this.#signal.aborted) {
        try {
          connection ??= await createConnection({ host: '127.0.0.1', port: this.#port, user: 'root', database: 'test', connectTimeout: WRITE_TIMEOUT });
          await connection.query({
            sql: 'INSERT INTO chaos_probe (id, n) VALUES (?, 1) ON DUPLICATE KEY UPDATE n = n + 1',
            values: [this.#id],
            timeout: WRITE_TIMEOUT,
          });
          const now = sharedNow();
          if (now - this.#last > this.#longest) {
            this.#longest = now - this.#last;
            this.#longestFrom = this.#last;
          }
          this.#last = now;
          if (this.#healedAt !== undefined && now >= this.#healedAt) {
            this.#backAt = now;
            return;
          }
        } catch {
          // Stalled (timed out), refused, or not in the primary component: a new connection, and again.
          connection?.destroy();
          connection = undefined;
        }
        await delay(PAUSE);
      }
    } finally {
      connection?.destroy();
    }
  }
}
