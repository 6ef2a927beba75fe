/**
 * Where a token is used from: the issuance records the address the token endpoint saw, so a copy of
 * a token and its key used beside the holder is caught on the issuing instance too, even from the
 * holder's own /24; replicas, NAT pools and a token endpoint reached by another path are not news.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDetector, responseFor, type DetectionEvent } from '../../src/detect/index.js';
import { fromIssuance } from '../../src/detect/feed.js';
import { DAY, fakeClock, HOUR, makeEvent, MINUTE, T0 } from './streams.js';

const ID = 'ci/nat-job';
const NAT = ['198.51.100.10', '198.51.100.11'];
const POD_NET = '10.8.3.';

/** Eight days of the job exchanging through its NAT pool and calling from pods on 10.8.3.0/24. */
function mature() {
  const det = createDetector({ clock: fakeClock(T0) });
  const history: DetectionEvent[] = [];
  for (let i = 0; i < 48; i++) {
    const at = T0 - 8 * DAY + i * 4 * HOUR;
    history.push(makeEvent({ kind: 'issue', at, identity: ID, identityKind: 'ci_job', allowed: true, action: 'x:read', resource: 'aud', jti: `h${i}`, grantId: `hg${i}`, sourceIp: NAT[i % 2]! }));
    history.push(makeEvent({ kind: 'request', at: at + 1000, identity: ID, identityKind: 'ci_job', allowed: true, action: 'x:read', resource: 'X::1', jti: `h${i}`, grantId: `hg${i}`, sourceIp: NAT[(i + 1) % 2]! }));
    history.push(makeEvent({ kind: 'request', at: at + 2000, identity: ID, identityKind: 'ci_job', allowed: true, action: 'x:read', resource: 'X::1', jti: `h${i}`, grantId: `hg${i}`, sourceIp: `${POD_NET}${10 + (i % 5)}` }));
  }
  det.replay(history);
  return det;
}

const issue = (jti: string, ip: string, at = T0) =>
  fromIssuance({ at: new Date(at), identity: ID, identityKind: 'ci_job', environment: null, jti, grant: `g-${jti}`, audience: 'aud', scopes: ['x:read'], jkt: 'k', sourceIp: ip });
const use = (jti: string, ip: string, at: number) =>
  makeEvent({ kind: 'request', at, identity: ID, identityKind: 'ci_job', allowed: true, action: 'x:read', resource: 'X::1', jti, grantId: `g-${jti}`, issuedJkt: 'k', presentedJkt: 'k', sourceIp: ip });
const rules = (det: ReturnType<typeof createDetector>, events: DetectionEvent[]) => events.flatMap((e) => det.observe(e)).map((f) => `${f.rule}:${String(f.evidence.reason ?? '')}`);

describe('token sources', () => {
  it('the issuance is the first sighting and carries the address the token endpoint saw', () => {
    const det = createDetector({ clock: fakeClock(T0) });
    issue('t1', '198.51.100.10').forEach((e) => det.observe(e));
    const b = det.baseline(ID) as { tokens: [string, { issuedIp?: string; ip?: string }][] };
    assert.deepEqual(b.tokens.map(([j, t]) => [j, t.issuedIp, t.ip]), [['t1', '198.51.100.10', '198.51.100.10']]);
  });

  it('a NAT-ed job alternating between its two addresses, and its pods, raise nothing', () => {
    const det = mature();
    const events = [...issue('t1', NAT[0]!), use('t1', NAT[1]!, T0 + 1000), use('t1', NAT[0]!, T0 + 2000), use('t1', NAT[1]!, T0 + 3000), use('t1', `${POD_NET}12`, T0 + 4000)];
    assert.deepEqual(rules(det, events), []);
  });

  it('the first use through another path, from a new pod on a network the job uses, raises nothing', () => {
    const det = mature();
    assert.deepEqual(rules(det, [...issue('t2', NAT[0]!), use('t2', `${POD_NET}200`, T0 + 1000), use('t2', `${POD_NET}200`, T0 + 2000)]), []);
  });

  it('a copied token and key used beside the holder from the same /24 is source_changed (issuing instance)', () => {
    const det = mature();
    const found = rules(det, [...issue('t3', NAT[0]!), use('t3', `${POD_NET}11`, T0 + 1000), use('t3', `${POD_NET}99`, T0 + MINUTE)]);
    assert.deepEqual(found, ['replay:source_changed']);
  });

  it('the copy used first and the holder after it is caught when the holder shows up', () => {
    const det = mature();
    assert.deepEqual(rules(det, [...issue('t4', NAT[0]!), use('t4', `${POD_NET}99`, T0 + 1000)]), [], 'one place on a known network: another path, maybe');
    assert.deepEqual(rules(det, [use('t4', `${POD_NET}11`, T0 + 2000)]), ['replay:source_changed']);
  });

  // One place alone is one signal (a new replica on a new node network, its exchange by a shared
  // path, looks the same): nothing by itself; contained when a second signal on the token corroborates it.
  it('a token used only from a network the identity never used is not a copy by itself', () => {
    const det = mature();
    assert.deepEqual(rules(det, [...issue('t5', NAT[0]!), use('t5', '203.0.113.50', T0 + 1000)]), []);
  });

  it('... and contained when it also came at an hour the identity is rarely active (corroborated)', () => {
    const det = mature();
    // History every 4 hours from midnight: 02:00 (and its neighbours) holds none of it.
    const at = T0 + 2 * HOUR;
    const found = [...issue('t6', NAT[0]!, at), use('t6', '203.0.113.50', at + 1000)].flatMap((e) => det.observe(e));
    const contained = found.filter((f) => f.evidence.credential !== undefined);
    assert.deepEqual(contained.map((f) => [f.rule, f.evidence.reason, f.jti]), [['off_hours', 'corroborated', 't6']]);
    assert.deepEqual((contained[0]!.evidence.credential as { signals: string[] }).signals, ['off_hours', 'foreign_network']);
    assert.equal(responseFor(contained[0]!), 'revoke_grant');
  });
});
