/**
 * The engine's batch statements with their values in the text: only for
 * names whose literal is the very text a driver's placeholder would give,
 * and the check before a KILL that still finds such a long statement.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchStatements } from '../../src/mysql/batch-sql.js';
import { runningPattern } from '../../src/mysql/driver.js';

const sql = batchStatements('leader_election');
/** Every character a driver escapes in a string, and the placeholder's mark. */
const UNPLAIN = ["'", '"', '\\', '?', '\0', '\b', '\t', '\n', '\r', '\x1a'];

describe('batch statements with their values in the text', () => {
  it('renews and reads plain names as literals, every value in the text', () => {
    const renew = sql.renewInline('node-1', 5_000_000, [
      { name: 'shard-1', term: 7 },
      { name: 'tenant:ácme 😀', term: 1_000_001 },
    ]);
    assert.equal(
      renew,
      'UPDATE `leader_election` SET renewed_at = GREATEST(UTC_TIMESTAMP(6), renewed_at + INTERVAL 1 MICROSECOND), ' +
        'expires_at = GREATEST(UTC_TIMESTAMP(6), renewed_at + INTERVAL 1 MICROSECOND) + INTERVAL 5000000 MICROSECOND ' +
        "WHERE node_name = 'node-1' AND leader_name IN ('shard-1', 'tenant:ácme 😀') " +
        "AND (leader_name, term) IN (('shard-1', 7), ('tenant:ácme 😀', 1000001)) AND expires_at > renewed_at",
    );
    assert.ok(sql.readInline(['a', 'b'])?.endsWith("LEFT JOIN `leader_election` ON leader_name IN ('a', 'b')"));
  });

  it('leaves to placeholders a batch with any name or node name a driver would escape (a semaphore permit holds U+0000)', () => {
    for (const char of UNPLAIN) {
      const odd = `x${char}y`;
      assert.equal(
        sql.renewInline('node-1', 1, [
          { name: 'plain', term: 1 },
          { name: odd, term: 2 },
        ]),
        undefined,
        JSON.stringify(odd),
      );
      assert.equal(sql.renewInline(odd, 1, [{ name: 'plain', term: 1 }]), undefined, `node ${JSON.stringify(odd)}`);
      assert.equal(sql.readInline(['plain', odd]), undefined, JSON.stringify(odd));
    }
    assert.equal(sql.renewInline('node-1', 1, []), undefined);
  });

  it('matches a running statement by its text before the first value, at most 1,000 characters, wildcards escaped', () => {
    const names = Array.from({ length: 1000 }, (_, i) => ({ name: `0f3c1e9a-6d2b-4c11-9a57-${String(i).padStart(12, '0')}`, term: i + 1 }));
    const renew = sql.renewInline('node_1', 5_000_000, names) as string;
    assert.ok(renew.length > 65_535, 'longer than the server shows of it');
    const pattern = runningPattern(renew);
    assert.ok(pattern.length < 1000 && pattern.endsWith('%'));
    assert.ok(renew.startsWith(pattern.slice(0, -1).replace(/\\(.)/g, '$1')), 'a prefix of the statement');
    assert.ok(!pattern.includes("'") && !pattern.includes('node_1'));
    assert.equal(runningPattern('SELECT a_b FROM t WHERE x = ?'), 'SELECT a\\_b FROM t WHERE x = %');
    assert.equal(runningPattern(`SELECT ${'x'.repeat(5000)}`).length, 1001);
  });
});
