import { performance } from 'node:perf_hooks';

/**
 * The elector's only view of time: a monotonic `now()` in milliseconds and
 * timers. The system clock is used in production; unit tests drive a fake one.
 */
export interface Clock {
  /** Monotonic milliseconds; never the wall clock. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** `performance.now()` and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (callback: () => void, ms: number): unknown => setTimeout(callback, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
});
