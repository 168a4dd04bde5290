/**
 * The clock that processes of one machine share: `mysql-leader run` and its
 * watchdog pass deadlines on it, and participant processes of the demo, the
 * tests, the benchmarks and the chaos harness time their reports by it.
 */

/** CLOCK_MONOTONIC in ms: the same clock in every process of a Linux host, so that times can cross a process boundary. */
export const sharedNow = (): number => Number(process.hrtime.bigint()) / 1e6;
