import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RESPONSE_POLICY, RULE_IDS, responseFor, type ResponsePolicy } from '../../src/detect/index.js';

const keyMismatch = { reason: 'key_mismatch' };

describe('responses', () => {
  it('defaults: a replay with another key revokes; identity-wide responses wait for an opt-in; the rest alert', () => {
    const got = Object.fromEntries(RULE_IDS.map((rule) => [rule, responseFor({ rule, severity: 'high', evidence: rule === 'replay' ? keyMismatch : {}, identityKind: 'workload' })]));
    assert.deepEqual(got, {
      replay: 'revoke_grant',
      enumeration: 'alert',
      first_seen: 'alert',
      off_hours: 'alert',
      rate_spike: 'alert',
      after_task: 'alert',
      dormant: 'alert',
      escalation: 'alert',
      drift: 'alert',
    });
    assert.equal(responseFor({ rule: 'replay', severity: 'critical', evidence: keyMismatch }, DEFAULT_RESPONSE_POLICY), 'revoke_grant');
    // The server's own view of the address (never a client-set header), about one token: contained.
    assert.equal(responseFor({ rule: 'replay', severity: 'high', evidence: { reason: 'source_changed' } }), 'revoke_grant', 'a token used beside its holder from a strange address');
    assert.equal(responseFor({ rule: 'replay', severity: 'high', evidence: { reason: 'workload_changed' } }), 'alert', 'another environment label is a baseline signal');
  });

  it('identity-wide responses are taken for the kinds opted in', () => {
    const policy: ResponsePolicy = { ...DEFAULT_RESPONSE_POLICY, identityWide: ['ai_agent'] };
    assert.equal(responseFor({ rule: 'escalation', severity: 'critical', evidence: {}, identityKind: 'ai_agent' }, policy), 'suspend');
    assert.equal(responseFor({ rule: 'enumeration', severity: 'high', evidence: {}, identityKind: 'ai_agent' }, policy), 'require_approval');
    assert.equal(responseFor({ rule: 'escalation', severity: 'critical', evidence: {}, identityKind: 'workload' }, policy), 'alert');
    assert.equal(responseFor({ rule: 'escalation', severity: 'critical', evidence: {} }, policy), 'alert', 'an unknown kind is not opted in');
  });

  it('is configurable per rule, per rule and severity, and per severity', () => {
    const policy: ResponsePolicy = {
      rules: { drift: { critical: 'revoke_identity' }, off_hours: 'narrow', replay: { high: 'narrow' } },
      severities: { high: 'require_approval' },
      identityWide: ['ci_job'],
      fallback: 'alert',
    };
    assert.equal(responseFor({ rule: 'drift', severity: 'critical', evidence: {}, identityKind: 'ci_job' }, policy), 'revoke_identity');
    assert.equal(responseFor({ rule: 'drift', severity: 'high', evidence: {}, identityKind: 'ci_job' }, policy), 'require_approval');
    assert.equal(responseFor({ rule: 'replay', severity: 'high', evidence: keyMismatch, identityKind: 'ci_job' }, policy), 'narrow');
    // Baseline evidence never contains a credential automatically, whatever the configuration says.
    assert.equal(responseFor({ rule: 'off_hours', severity: 'medium', evidence: {}, identityKind: 'ci_job' }, policy), 'alert');
    assert.equal(responseFor({ rule: 'dormant', severity: 'medium', evidence: {}, identityKind: 'ci_job' }, policy), 'alert');
  });
});
