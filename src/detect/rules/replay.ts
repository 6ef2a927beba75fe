/**
 * replay (critical): a token used with a key it was not bound to, or the same `jti` coming from a
 * second place within its lifetime. A DPoP-bound token is only usable by the key in `cnf.jkt`
 * (RFC 9449 §6), so either is a stolen token or a stolen key, never a legitimate client.
 */
import { eventEvidence, type Rule } from './rule.js';

export const replayRule: Rule = {
  id: 'replay',
  dedupe: 'grant',
  check({ event: e, baseline, options }) {
    if (e.issuedJkt !== undefined && e.presentedJkt !== undefined && e.issuedJkt !== e.presentedJkt) {
      return { reason: 'key_mismatch', jti: e.jti, grantId: e.grantId, issuedJkt: e.issuedJkt, presentedJkt: e.presentedJkt, event: eventEvidence(e) };
    }
    if (e.jti === undefined) return undefined;
    const first = baseline.tokens.get(e.jti);
    // Past its lifetime the token is expired and refused anyway; a reused jti then is not this token.
    if (!first || e.at - first.firstAt > options.replay.tokenLifetimeMs) return undefined;
    let reason: string | undefined;
    if (e.presentedJkt !== undefined && first.jkt !== undefined && e.presentedJkt !== first.jkt) reason = 'key_mismatch';
    else if (e.sourceIp !== undefined && first.ip !== undefined && e.sourceIp !== first.ip) reason = 'source_changed';
    else if (e.environment !== undefined && first.environment !== undefined && e.environment !== first.environment) {
      reason = 'workload_changed';
    }
    if (!reason) return undefined;
    return {
      reason,
      jti: e.jti,
      grantId: e.grantId ?? first.grantId,
      firstSeen: { ...first },
      presented: { jkt: e.presentedJkt, sourceIp: e.sourceIp, environment: e.environment },
      event: eventEvidence(e),
    };
  },
};
