/** `mysql-leader status`: who leads each election, by the database clock. */
import { listElections, readElection, type ElectionStatus } from '../index.js';
import { electionArgument, write, type Command } from './command.js';
import { DATABASE_OPTIONS, DATABASE_USAGE, openDatabase, target } from './database.js';
import { columns, duration, electionJson, rowLabel, type ElectionJson } from './format.js';

/** `mysql-leader status`. */
export const statusCommand: Command = {
  summary: 'show who leads every election (or one), by the database clock',
  usage: `mysql-leader status [NAME] [--json] [options]

Shows every election of the table, or the election NAME: its state (held: a
live lease; expired: the last lease lapsed or was released; none: never
elected), the node and term of the last lease, when the lease expires (or
expired) by the database clock, and when the tenure began. The lease engine's
own rows show as NAME [permit K] (a semaphore's permit), GROUP [member NODE]
and GROUP [key KEY] (a share's registration and keys).

Options:
  --json         print JSON: an array of elections, or one object for NAME, each
                 { name, state, leader, node, term, acquiredAt, renewedAt, expiresInMs }
${DATABASE_USAGE}

Exit codes: 0 success, 1 error (database unreachable, missing table…), 2 usage error.`,
  options: { json: { type: 'boolean' }, ...DATABASE_OPTIONS },
  async run(input) {
    const name = electionArgument(input, false);
    const { url, tableName } = target(input.values);
    const db = openDatabase(url);
    try {
      if (name !== undefined) {
        const election = electionJson(name, await readElection(db, name, { tableName }));
        write(input.values['json'] ? JSON.stringify(election, null, 2) : table([election]));
        return 0;
      }
      const elections = (await listElections(db, { tableName })).map((status: ElectionStatus) => electionJson(status.leaderName, status));
      if (input.values['json']) write(JSON.stringify(elections, null, 2));
      else write(elections.length > 0 ? table(elections) : `no elections in table ${tableName} yet`);
      return 0;
    } finally {
      await db.end();
    }
  },
};

/** Aligned columns, one row per election. */
function table(elections: readonly ElectionJson[]): string {
  const rows = [
    ['ELECTION', 'STATE', 'NODE', 'TERM', 'EXPIRES', 'ACQUIRED'],
    ...elections.map((e) => [rowLabel(e.name), e.state, e.node ?? '-', e.term === null ? '-' : String(e.term), expires(e.expiresInMs), e.acquiredAt ?? '-']),
  ];
  return columns(rows);
}

function expires(ms: number | null): string {
  if (ms === null) return '-';
  return ms > 0 ? `in ${duration(ms)}` : `${duration(ms)} ago`;
}
