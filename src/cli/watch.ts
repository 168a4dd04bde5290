/** `mysql-leader watch`: print each change of leader as it happens. */
import { setTimeout as sleep } from 'node:timers/promises';
import { readElection } from '../index.js';
import { electionArgument, milliseconds, write, type Command } from './command.js';
import { DATABASE_OPTIONS, DATABASE_USAGE, explain, openDatabase, target } from './database.js';
import { duration, electionJson, type ElectionJson } from './format.js';
import { scrub } from './url.js';

/** `mysql-leader watch`. */
export const watchCommand: Command = {
  summary: 'print each change of leader of an election as it happens',
  usage: `mysql-leader watch NAME [--interval MS] [--json] [options]

Prints the election's leader, then a line each time it changes (a new leader
or term, or no leader), until interrupted (Ctrl-C). Reads the row every
--interval, and also exactly when the current lease is due to end.

Options:
  --interval MS  how often to read the row (default: 1000)
  --json         print one JSON object per change: { time, name, state, leader,
                 node, term, acquiredAt, renewedAt, expiresInMs }
${DATABASE_USAGE}

Exit codes: 0 when interrupted, 1 error (first read failed), 2 usage error.
Database errors after the first read are printed and retried.`,
  options: { interval: { type: 'string' }, json: { type: 'boolean' }, ...DATABASE_OPTIONS },
  async run(input) {
    const name = electionArgument(input, true);
    const interval = milliseconds(input.values, 'interval', 1000);
    const { url, tableName } = target(input.values);
    const json = input.values['json'] === true;
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const db = openDatabase(url);
    try {
      let shown: string | undefined;
      let lastError: string | undefined;
      let first = true;
      while (!stop.signal.aborted) {
        let election: ElectionJson;
        try {
          election = electionJson(name, await readElection(db, name, { tableName, signal: stop.signal }));
          lastError = undefined;
        } catch (error) {
          if (stop.signal.aborted) break;
          if (first) throw error;
          const message = scrub(explain(error, url), url);
          if (message !== lastError) process.stderr.write(`mysql-leader: ${message}\n`);
          lastError = message;
          await sleep(interval, undefined, { signal: stop.signal }).catch(() => {});
          continue;
        }
        first = false;
        const key = election.state === 'held' ? `${election.node}\u0000${election.term}` : 'vacant';
        if (key !== shown) {
          shown = key;
          write(json ? JSON.stringify({ time: new Date().toISOString(), ...election }) : `${new Date().toISOString()}  ${describe(election)}`);
        }
        // Wake when the lease is due to end, not a whole interval later.
        const wait = election.state === 'held' && election.expiresInMs !== null ? Math.min(interval, election.expiresInMs + 1) : interval;
        await sleep(wait, undefined, { signal: stop.signal }).catch(() => {});
      }
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await db.end();
    }
  },
};

function describe(election: ElectionJson): string {
  if (election.state === 'held')
    return `${election.name}: ${election.leader} leads (term ${election.term}, lease expires in ${duration(election.expiresInMs ?? 0)})`;
  if (election.state === 'expired') return `${election.name}: no leader (the lease of ${election.node}, term ${election.term}, has ended)`;
  return `${election.name}: no leader (never elected)`;
}
