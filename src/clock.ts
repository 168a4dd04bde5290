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
  /** Arms the timer `handle` again (pending or fired) for the duration it was set with, from now: no new timer. */
  refresh(handle: unknown): void;
}

/** `performance.now()` and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (callback: () => void, ms: number): unknown => setTimeout(callback, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
  refresh: (handle: unknown) => void (handle as NodeJS.Timeout).refresh(),
});
