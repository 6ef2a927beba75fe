/**
 * False positives: a week or two of realistic benign traffic from four kinds of NHI must raise no
 * finding at all, whether the detector learns it live or from a replayed history.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDetector, DEFAULT_DETECTION_OPTIONS, isMature, baselineFromJSON } from '../../src/detect/index.js';
import { AGENT, CI, NIGHTLY, SERVICE, benignTraffic, fakeClock } from './streams.js';

describe('benign traffic', () => {
  it('learned live over 14 days raises zero findings, and every baseline is mature by then', () => {
    const clock = fakeClock();
    const det = createDetector({ clock });
    const events = benignTraffic(0, 14);
    const findings = events.flatMap((e) => det.observe(e));
    assert.deepEqual(
      findings.map((f) => `${f.rule} ${f.identity} ${JSON.stringify(f.evidence).slice(0, 200)}`),
      [],
    );
    // The silence must come from judging, not from rules that never armed.
    for (const id of [CI, NIGHTLY, SERVICE, AGENT]) {
      const b = det.baseline(id);
      assert.ok(b, id);
      assert.ok(isMature(baselineFromJSON(b), DEFAULT_DETECTION_OPTIONS.learning), `${id} mature`);
    }
    assert.ok(events.length > 100_000, 'the stream is not trivially small');
  });

  it('replayed 7 days, then observed 7 more days, raises zero findings', () => {
    const det = createDetector({ clock: fakeClock() });
    assert.ok(det.replay(benignTraffic(0, 7)) > 0);
    const findings = benignTraffic(7, 14).flatMap((e) => det.observe(e));
    assert.deepEqual(findings.map((f) => `${f.rule} ${f.identity}`), []);
    for (const id of [CI, NIGHTLY, SERVICE, AGENT]) assert.equal(det.risk(id), 0);
  });
});
