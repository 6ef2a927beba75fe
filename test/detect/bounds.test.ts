/**
 * Per-key detection state fed from outside is bounded: a flood of distinct identity ids keeps at most
 * `baseline.maxIdentities` states (least recently seen forgotten first), and the heap does not grow
 * with the number of ids.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDetector } from '../../src/detect/index.js';
import { fakeClock, makeEvent, T0 } from './streams.js';

describe('detection state bounds', () => {
  it('100k made-up identity ids keep at most maxIdentities states; recent ones are kept', () => {
    const clock = fakeClock(T0);
    const det = createDetector({ clock, options: { baseline: { maxIdentities: 1000 } } });
    det.observe(makeEvent({ kind: 'request', at: T0, identity: 'svc/kept', allowed: true, action: 'x:read', resource: 'X::1' }));
    for (let i = 0; i < 100_000; i++) {
      det.observe(makeEvent({ kind: 'request', at: T0 + i, identity: `made/up/${i}`, allowed: false, action: 'x:read', resource: `X::${i}` }));
      if (i % 500 === 0) det.observe(makeEvent({ kind: 'request', at: T0 + i, identity: 'svc/kept', allowed: true, action: 'x:read', resource: 'X::1' }));
    }
    assert.equal(det.tracked(), 1000);
    assert.ok(det.baseline('svc/kept'), 'an identity seen recently keeps its baseline');
    assert.equal(det.baseline('made/up/0'), undefined, 'the least recently seen is forgotten');
  });

  it('the default cap bounds the heap: 100k ids stay far below the unbounded 650+ MiB', () => {
    const det = createDetector({ clock: fakeClock(T0) });
    globalThis.gc?.();
    const h0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) det.observe(makeEvent({ kind: 'request', at: T0 + i, identity: `made/up/${i}`, allowed: false, action: 'x:read', resource: `X::${i}` }));
    globalThis.gc?.();
    const grown = (process.memoryUsage().heapUsed - h0) / 2 ** 20;
    assert.equal(det.tracked(), 10_000);
    process.stdout.write(`# 100k made-up ids: ${det.tracked()} states kept, heap +${grown.toFixed(1)} MiB\n`);
    // Without --expose-gc uncollected garbage is counted too (40-115 MiB measured); unbounded it was 650+.
    assert.ok(grown < 250, `heap grew ${grown.toFixed(1)} MiB`);
  });
});
