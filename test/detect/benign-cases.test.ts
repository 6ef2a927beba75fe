/**
 * The benign workloads that used to be harmed, against a mature detector: each raises nothing (so
 * no risk, hold or revocation follows). Cluster and broker-level cases live in cluster-sources,
 * task-instance, broker-response and the simulator's tests.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDetector, type DetectionEvent, type Detector } from '../../src/detect/index.js';
import { DAY, fakeClock, HOUR, makeEvent, MINUTE, T0 } from './streams.js';

/** Eight days of a service: hourly, one token per hour per replica, a few reads each. */
function service(id: string, replicas: number, resources: (h: number, k: number) => string): Detector {
  const det = createDetector({ clock: fakeClock(T0) });
  const history: DetectionEvent[] = [];
  for (let h = 8 * 24; h > 0; h--) {
    for (let p = 0; p < replicas; p++) {
      const jti = `h-${h}-${p}`;
      const base = { identity: id, identityKind: 'workload' as const, jti, grantId: `g-${h}-${p}`, sourceIp: `10.${40 + p}.0.5` };
      history.push(makeEvent({ ...base, kind: 'issue', at: T0 - h * HOUR, allowed: true, action: 'x:read', resource: 'aud' }));
      for (let k = 0; k < 3; k++) history.push(makeEvent({ ...base, kind: 'request', at: T0 - h * HOUR + 1000 * (k + 1), allowed: true, action: 'x:read', resource: resources(h, k) }));
    }
  }
  det.replay(history);
  return det;
}
const req = (id: string, jti: string, at: number, resource: string, ip: string, extra: Partial<DetectionEvent> = {}) =>
  makeEvent({ kind: 'request', at, identity: id, identityKind: 'workload', allowed: true, action: 'x:read', resource, jti, grantId: `g-${jti}`, issuedJkt: 'k', presentedJkt: 'k', sourceIp: ip, ...extra });

describe('benign workloads raise nothing', () => {
  it('6 replicas refreshing together after expiry, each getting 401s first, then one retrying a call 19 times', () => {
    const det = service('svc/replicas', 6, (_, k) => `X::${k}`);
    const events: DetectionEvent[] = [];
    for (let p = 0; p < 6; p++) {
      // Their old tokens expired: refused at the credential stage (not probing), a few times each.
      for (let k = 0; k < 3; k++) events.push(req('svc/replicas', `old-${p}`, T0 + p * 50 + k, 'X::1', `10.${40 + p}.0.5`, { allowed: false, credentialStage: true, reason: 'access token expired' }));
      events.push(makeEvent({ kind: 'issue', at: T0 + 500 + p, identity: 'svc/replicas', identityKind: 'workload', allowed: true, action: 'x:read', resource: 'aud', jti: `new-${p}`, grantId: `g-new-${p}`, sourceIp: `10.${40 + p}.0.5` }));
      events.push(req('svc/replicas', `new-${p}`, T0 + 1000 + p, 'X::1', `10.${40 + p}.0.5`));
    }
    // A flaky network: the same call again and again (the same DPoP proof refused as a replay of the proof, then fresh ones).
    for (let k = 0; k < 19; k++) events.push(req('svc/replicas', 'new-0', T0 + 2000 + k * 100, 'X::2', '10.40.0.5', k % 2 ? {} : { allowed: false, credentialStage: true, reason: 'DPoP proof replayed' }));
    assert.deepEqual(events.flatMap((e) => det.observe(e)).map((f) => f.rule), []);
  });

  it('a nightly batch reading 20 % more rows than usual', () => {
    const det = service('svc/batch', 1, (h, k) => `Row::${h * 3 + k}`);
    const events = Array.from({ length: 4 }, (_, k) => req('svc/batch', 'tonight', T0 + k * 1000, `Row::new-${k}`, '10.40.0.5'));
    assert.deepEqual(events.flatMap((e) => det.observe(e)).map((f) => f.rule), []);
  });

  it('a Deployment on 6 networks, a replica rescheduled (a new pod, new address, its own token) onto another known network', () => {
    const det = service('svc/deploy', 6, (_, k) => `X::${k}`);
    const issued = (jti: string, at: number) => makeEvent({ kind: 'issue', at, identity: 'svc/deploy', identityKind: 'workload', allowed: true, action: 'x:read', resource: 'aud', jti, grantId: `g-${jti}`, sourceIp: '192.0.2.200' });
    const events = [issued('pod-a', T0), req('svc/deploy', 'pod-a', T0 + 1, 'X::1', '10.40.0.5'), issued('pod-c', T0 + MINUTE), req('svc/deploy', 'pod-c', T0 + MINUTE + 1, 'X::1', '10.41.0.77'), req('svc/deploy', 'pod-c', T0 + 2 * MINUTE, 'X::2', '10.41.0.77')];
    assert.deepEqual(events.flatMap((e) => det.observe(e)).map((f) => f.rule), []);
  });

  it('eight days later the detector still knows these networks after a JSON round-trip', () => {
    const det = service('svc/rt', 2, (_, k) => `X::${k}`);
    const copy = createDetector({ clock: fakeClock(T0) });
    copy.importBaselines(JSON.parse(JSON.stringify(det.baselines())));
    assert.deepEqual(copy.observe(req('svc/rt', 'x', T0 + DAY, 'X::1', '10.41.0.5')), []);
  });
});
