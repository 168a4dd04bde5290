/** Participant processes for the tests (src/cli/harness/participant.ts): start them, check what they believed. */
import { after } from 'node:test';
import { ParticipantProcess, type ParticipantConfig } from '../../src/cli/harness/participant-process.js';
import { findViolation, tenuresOf } from '../../src/cli/harness/tenures.js';

export { sharedNow } from '../../src/cli/shared-clock.js';
export type { ParticipantProcess as Participant } from '../../src/cli/harness/participant-process.js';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const started: ParticipantProcess[] = [];
after(async () => {
  await Promise.all(started.map((participant) => participant.kill('SIGKILL')));
});

/** A participant's config, with `skew` for its wall clock (libfaketime, e.g. '+1h'; its monotonic clock is left alone). */
export type TestParticipantConfig = ParticipantConfig & { readonly skew?: string };

/** Starts participants and waits until each is ready. */
export async function startParticipants(configs: TestParticipantConfig[]): Promise<ParticipantProcess[]> {
  const participants = configs.map(({ skew, ...config }) => {
    const env = skew ? { LD_PRELOAD: LIBFAKETIME, FAKETIME: skew, FAKETIME_DONT_FAKE_MONOTONIC: '1' } : {};
    const participant = new ParticipantProcess(config, env);
    participant.start();
    started.push(participant);
    return participant;
  });
  await Promise.all(participants.map((p) => p.waitFor((r) => r.event === 'ready', 20_000, 'ready')));
  return participants;
}

/** Throws if two believed tenures overlap in time, or if terms do not grow from one tenure to the next. */
export function assertOneLeaderAtATime(participants: ParticipantProcess[]): void {
  const violation = findViolation(participants.flatMap((participant) => tenuresOf(participant.reports)));
  if (violation) throw new Error(violation);
}

/** Whether a process `pid` is still there (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
