import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RESPONSE_POLICY, RULE_IDS, responseFor, type ResponsePolicy } from '../../src/detect/index.js';

describe('responses', () => {
  it('defaults: replay and after_task revoke the grant, escalation suspends, enumeration needs approval, the rest alert', () => {
    const got = Object.fromEntries(RULE_IDS.map((rule) => [rule, responseFor({ rule, severity: 'high' })]));
    assert.deepEqual(got, {
      replay: 'revoke_grant',
      enumeration: 'require_approval',
      first_seen: 'alert',
      off_hours: 'alert',
      rate_spike: 'alert',
      after_task: 'revoke_grant',
      dormant: 'alert',
      escalation: 'suspend',
      drift: 'alert',
    });
    assert.equal(responseFor({ rule: 'replay', severity: 'critical' }, DEFAULT_RESPONSE_POLICY), 'revoke_grant');
  });

  it('is configurable per rule, per rule and severity, and per severity', () => {
    const policy: ResponsePolicy = {
      rules: { drift: { critical: 'revoke_identity' }, off_hours: 'narrow' },
      severities: { high: 'require_approval' },
      fallback: 'alert',
    };
    assert.equal(responseFor({ rule: 'drift', severity: 'critical' }, policy), 'revoke_identity');
    assert.equal(responseFor({ rule: 'drift', severity: 'high' }, policy), 'require_approval');
    assert.equal(responseFor({ rule: 'off_hours', severity: 'medium' }, policy), 'narrow');
    assert.equal(responseFor({ rule: 'dormant', severity: 'medium' }, policy), 'alert');
  });
});
