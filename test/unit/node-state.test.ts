/** Which Galera node states a node set uses: the rows of `SHOW GLOBAL STATUS` as each kind of server gives them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeUnready } from '../../src/mysql/cluster.js';

/** The result of the node-state statement with these `[Variable_name, Value]` rows. */
function status(...rows: [string, string][]) {
  return { rows: rows.map(([name, value]) => ({ Variable_name: name, Value: value })), affectedRows: 0, insertId: 0 };
}

describe('node state: which nodes a node set uses', () => {
  it('uses a server without Galera: MySQL (no rows), and MariaDB built with wsrep but without a provider (wsrep_ready OFF, no state)', () => {
    assert.equal(nodeUnready(status()), undefined);
    assert.equal(nodeUnready(status(['wsrep_ready', 'OFF'])), undefined);
  });

  it('uses a Galera node only while it is ready and Synced', () => {
    assert.equal(nodeUnready(status(['wsrep_local_state_comment', 'Synced'], ['wsrep_ready', 'ON'])), undefined);
    assert.equal(
      nodeUnready(status(['wsrep_local_state_comment', 'Donor/Desynced'], ['wsrep_ready', 'ON'])),
      'not ready: wsrep_ready is ON, wsrep_local_state_comment is Donor/Desynced',
    );
    assert.equal(
      nodeUnready(status(['wsrep_local_state_comment', 'Initialized'], ['wsrep_ready', 'OFF'])),
      'not ready: wsrep_ready is OFF, wsrep_local_state_comment is Initialized',
    );
    assert.match(nodeUnready(status(['wsrep_local_state_comment', 'Synced'], ['wsrep_ready', 'OFF'])) ?? '', /wsrep_ready is OFF/);
    assert.match(nodeUnready(status(['wsrep_local_state_comment', 'Joined'], ['wsrep_ready', 'ON'])) ?? '', /Joined/);
  });

  it('reads lower-case column names and binary values too', () => {
    const rows = [
      { variable_name: 'wsrep_local_state_comment', value: Buffer.from('Joining') },
      { variable_name: 'wsrep_ready', value: Buffer.from('OFF') },
    ];
    assert.equal(nodeUnready({ rows, affectedRows: 0, insertId: 0 }), 'not ready: wsrep_ready is OFF, wsrep_local_state_comment is Joining');
  });
});
