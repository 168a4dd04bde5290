/**
 * The stop of one `acquire()` campaign: whether it was asked to stop, why,
 * and what the elector does at once then (`onStop`). Lighter than an
 * `AbortController`, whose signal (an `EventTarget` with its listener maps,
 * about 0.9 KB) every election of an engine would keep for its whole
 * campaign: an `AbortSignal` is made only when a statement needs one (the
 * hand-over lock's wait), and aborts with the stop.
 */
export class CampaignStop {
  readonly #onStop: (reason: unknown) => void;
  #aborted = false;
  #reason: unknown;
  #controller: AbortController | undefined;

  /** A stop that calls `onStop` with the reason, once, when it aborts. */
  constructor(onStop: (reason: unknown) => void) {
    this.#onStop = onStop;
  }

  /** Whether the campaign was asked to stop. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why, once `aborted`. */
  get reason(): unknown {
    return this.#reason;
  }

  /** As an `AbortSignal`, made on first use: aborted (with the same reason) when the stop is. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Stops the campaign with `reason` (an `AbortError` when none is given, as `AbortController.abort()`); later calls do nothing. */
  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    // The elector first, then the statements that listen (the order the signal's listeners had).
    this.#onStop(this.#reason);
    this.#controller?.abort(this.#reason);
  }
}
