/** The stop of a campaign: a flag and a reason, with an AbortSignal only when one is asked for. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CampaignStop } from '../../src/campaign-stop.js';

describe('CampaignStop', () => {
  it('calls onStop once with the reason, before the listeners of a signal made earlier', () => {
    const seen: string[] = [];
    const stop = new CampaignStop((reason) => seen.push(`stopped: ${String(reason)}`));
    stop.signal.addEventListener('abort', () => seen.push(`signal: ${String(stop.signal.reason)}`));
    assert.equal(stop.aborted, false);
    stop.abort('closing');
    stop.abort('again');
    assert.equal(stop.aborted, true);
    assert.equal(stop.reason, 'closing');
    assert.deepEqual(seen, ['stopped: closing', 'signal: closing']);
  });

  it('gives a signal made after the stop already aborted, with the same reason, and an AbortError when none was given', () => {
    const stop = new CampaignStop(() => {});
    stop.abort();
    assert.ok(stop.reason instanceof DOMException && stop.reason.name === 'AbortError');
    assert.equal(stop.signal.aborted, true);
    assert.equal(stop.signal.reason, stop.reason);
  });
});
