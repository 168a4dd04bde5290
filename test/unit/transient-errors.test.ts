/**
 * Which driver errors are transient (`DatabaseError.transient`): they never
 * end a campaign the database has answered. What `onError` must still judge
 * (a missing table, no permission, a read-only server) is not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatabaseError } from '../../src/errors.js';
import { isTransient, translateError } from '../../src/mysql/errors.js';

/** The translated error, which is a DatabaseError for these. */
const translated = (error: Error, what: string): DatabaseError => {
  const result = translateError(error, what, 'leader_election');
  assert.ok(result instanceof DatabaseError);
  return result;
};

/** A driver error as mysql2 and mariadb shape them. */
const driverError = (fields: { code?: string; errno?: number; message?: string }): Error => Object.assign(new Error(fields.message ?? 'x'), fields);

describe('transient errors', () => {
  it('lost, refused or reset connections, Galera not ready or out of the primary component, lock waits, deadlocks, kills', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'PROTOCOL_CONNECTION_LOST', 'ETIMEDOUT', 'EPIPE'])
      assert.equal(isTransient(driverError({ code })), true, code);
    for (const errno of [1047, 1180, 1205, 1213, 1317, 1927, 1053]) assert.equal(isTransient(driverError({ errno })), true, String(errno));
    assert.equal(isTransient(driverError({ message: "Can't add new command when connection is in closed state" })), true);
    // Node's own errno of a refused connection is negative, and no server's: no server answered.
    assert.equal(translated(driverError({ code: 'ECONNREFUSED', errno: -111 }), 'reading the election row').errno, undefined);
    assert.equal(translated(driverError({ code: 'ER_UNKNOWN_COM_ERROR', errno: 1047 }), 'reading the election row').errno, 1047);
    assert.equal(translated(driverError({ code: 'ER_LOCK_DEADLOCK', errno: 1213 }), 'claiming the lease').transient, true);
  });

  it('not a missing table, a denied permission, a read-only server, a syntax error', () => {
    for (const errno of [1146, 1045, 1142, 1290, 1064]) assert.equal(isTransient(driverError({ errno })), false, String(errno));
    assert.equal(translated(driverError({ errno: 1290, message: 'read-only' }), 'renewing the lease').transient, false);
  });
});
