/**
 * The elections a `Leases` engine runs, by name: at most one at a time per
 * name, since all run under the engine's one `nodeName` (two of them would
 * each take the other's lease for its own). A lock waiting for a name in use
 * in this process is woken the moment it is free.
 */
export class LocalNames {
  /** Names in use, each with the waiters for it, first come first served. */
  readonly #used = new Map<string, (() => void)[]>();

  /** Whether `name` is in use. */
  has(name: string): boolean {
    return this.#used.has(name);
  }

  /** Takes `name`, which must be free. */
  take(name: string): void {
    this.#used.set(name, []);
  }

  /**
   * Takes `name` once it is free: `true` when taken, `false` when it was
   * still in use after `ms` (or when `signal` aborted: the caller checks it).
   */
  async takeWithin(name: string, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
    const waiters = this.#used.get(name);
    if (!waiters) {
      this.take(name);
      return true;
    }
    return new Promise<boolean>((resolve) => {
      const done = (taken: boolean): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const at = waiters.indexOf(wake);
        if (at >= 0) waiters.splice(at, 1);
        resolve(taken);
      };
      // Handed over by free(): the name stays taken, now by this waiter.
      const wake = (): void => done(true);
      const onAbort = (): void => done(false);
      const timer = setTimeout(() => done(false), ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.push(wake);
    });
  }

  /** Frees `name`, handing it to its first waiter if any. */
  free(name: string): void {
    const waiters = this.#used.get(name);
    const next = waiters?.[0];
    if (next) next();
    else this.#used.delete(name);
  }
}
