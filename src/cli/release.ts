/** `mysql-leader release --force`: end a stuck leader's lease now. */
import { forceRelease } from '../index.js';
import { UsageError, electionArgument, write, type Command } from './command.js';
import { DATABASE_OPTIONS, DATABASE_USAGE, openDatabase, target } from './database.js';
import { duration } from './format.js';

/** `mysql-leader release`. */
export const releaseCommand: Command = {
  summary: "end an election's lease now, whoever holds it (for a stuck leader)",
  usage: `mysql-leader release NAME --force [options]

Ends the live lease of the election NAME now, so that another node can take
over at once: for a leader that is stuck (hung, cut off from its work, or gone
without releasing). If that leader still runs, it keeps acting as the leader
until its own deadline (at most what was left of its lease) and steps down at
its next renewal: for that long, two nodes may act as leader. Fence writes
with the term. --force is required.

Options:
  --force        confirm
${DATABASE_USAGE}

Exit codes: 0 success (also when there was no live lease), 1 error, 2 usage error.`,
  options: { force: { type: 'boolean' }, ...DATABASE_OPTIONS },
  async run(input) {
    const name = electionArgument(input, true);
    if (input.values['force'] !== true) throw new UsageError(`release ends the lease of a leader that may still be running: add --force to confirm`);
    const { url, tableName } = target(input.values);
    const db = openDatabase(url);
    try {
      const released = await forceRelease(db, name, { tableName });
      if (!released) {
        write(`${name}: no live lease, nothing to release`);
        return 0;
      }
      write(`${name}: released the lease of ${released.nodeName} (term ${released.term}), which had ${duration(released.remainingMs)} left.`);
      write(
        `If ${released.nodeName} still runs, it keeps acting as the leader until its own deadline (within ${duration(released.remainingMs)}) ` +
          `and steps down at its next renewal; another node may take over now, with term ${released.term + 1} or higher.`,
      );
      return 0;
    } finally {
      await db.end();
    }
  },
};
