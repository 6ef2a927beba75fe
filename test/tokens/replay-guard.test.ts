import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryReplayGuard } from '../../src/tokens/index.js';
import { fakeClock } from './helpers.js';

describe('memory replay guard', () => {
  it('answers true once, then false until the entry expires', async () => {
    const t = fakeClock();
    const g = createMemoryReplayGuard({ max: 10, clock: t.clock });
    assert.equal(await g.claim('a', t.now + 60), true);
    assert.equal(await g.claim('a', t.now + 60), false);
    t.advance(61);
    assert.equal(await g.claim('a', t.now + 60), true);
  });

  it('holds at most max entries, evicting the oldest', async () => {
    const t = fakeClock();
    const g = createMemoryReplayGuard({ max: 3, clock: t.clock });
    for (const k of ['a', 'b', 'c', 'd']) assert.equal(await g.claim(k, t.now + 60), true);
    assert.equal(await g.claim('d', t.now + 60), false);
    assert.equal(await g.claim('b', t.now + 60), false);
    assert.equal(await g.claim('a', t.now + 60), true); // evicted: the documented cost of a bound
  });

  it('refuses a nonsensical size', () => {
    assert.throws(() => createMemoryReplayGuard({ max: 0 }), /positive integer/);
  });
});
