/** The library's option errors, said in the flags of `run` and `lock`. */
import type { LeasesOptions, OptionName, OptionRangeError, OptionTypeError } from '../index.js';

/**
 * What the CLI's user knows each option of the leader and of the lease
 * engine (and the election's name, and a lock's wait) as, for messages that
 * name one; `undefined` for an option the CLI never sets, whose name is kept.
 * Keyed by every option, so that a new option fails to compile until it is
 * given a flag or `undefined` here.
 */
const FLAG_OF_OPTION: Readonly<Record<string, string | undefined>> = {
  nodeName: '--node',
  age: '--age',
  tick: '--tick',
  margin: 'the margin (age / 20)',
  queryTimeout: 'the time limit of statements (tick)',
  tableName: '--table',
  onError: undefined,
  handoverLock: undefined,
  drainTimeout: undefined,
  logger: undefined,
  batchWindow: 'the batch window',
  maxBatch: undefined,
  leaderName: '--name',
  wait: '--wait',
  // A semaphore's (run --slots):
  name: '--name',
  permits: '--slots',
} satisfies Record<OptionName | keyof LeasesOptions | 'leaderName' | 'wait' | 'name' | 'permits', string | undefined>;

/** The message of the library's option error, with each option it names said as the flag the user typed. */
export function inFlags(error: OptionTypeError | OptionRangeError): string {
  let message = error.message;
  for (const option of error.options) {
    const flag = FLAG_OF_OPTION[option.startsWith('options.') ? option.slice('options.'.length) : option];
    if (flag !== undefined) message = message.replaceAll(option, flag);
  }
  return message;
}
