/**
 * replay: a token used with a key it was not bound to, or one token used from places that are not
 * the identity's. A DPoP-bound token is only usable by the key in `cnf.jkt` (RFC 9449 §6), so a
 * proof by another key is a copied token string (critical). A token that shows up at an address the
 * identity never works from, beside its holder's, is a copied token and key (source_changed).
 *
 * Addresses are the server's own view (socket, or the configured trusted proxy; never a header a
 * client sets). Replicas and NAT pools are normal: an address or network the identity already uses
 * is never news, and a token's first use may come through another path than its exchange (mesh,
 * NAT), so a single place is never a copy by itself (see strangePlace).
 */
import { knownAddress, type IdentityBaseline, type TokenSighting } from '../baseline.js';
import type { DetectionEvent } from '../events.js';
import { eventEvidence, type Rule } from './rule.js';

export { STABLE_NETWORKS } from '../baseline.js';

/**
 * The address that does not belong, if the token's places (with this one) show a copy in use: two
 * or more places with one the identity does not use. Only an address seen on this instance is named
 * (`local`: `ip` was seen here), so of two instances only the one that saw the copy raises it.
 *
 * One place alone is not a copy: a new replica on a new node network whose exchange came by a shared
 * path (a load balancer, a NAT, a mesh) looks exactly like it. A token used only from a network the
 * identity never used is one signal, contained only when another corroborates it on the same token
 * (credential-signals.ts).
 */
export function strangePlace(b: IdentityBaseline, t: TokenSighting, ip: string, local = true): string | undefined {
  const here = t.ips ?? [];
  const there = t.elsewhere ?? [];
  const mine = local && !here.includes(ip) ? [...here, ip] : here;
  const all = new Set([...mine, ...there]);
  if (!local) all.add(ip);
  if (all.size < 2) return undefined;
  for (const p of mine) if (p !== t.issuedIp && !knownAddress(b, p)) return p;
  return undefined;
}

export const replayRule: Rule = {
  id: 'replay',
  dedupe: 'grant',
  check({ event: e, baseline, options, mature }) {
    if (e.issuedJkt !== undefined && e.presentedJkt !== undefined && e.issuedJkt !== e.presentedJkt) {
      return { reason: 'key_mismatch', jti: e.jti, grantId: e.grantId, issuedJkt: e.issuedJkt, presentedJkt: e.presentedJkt, event: eventEvidence(e) };
    }
    if (e.jti === undefined) return undefined;
    const first = baseline.tokens.get(e.jti);
    // Past its lifetime the token is expired and refused anyway; a reused jti then is not this token.
    if (!first || e.at - first.firstAt > options.replay.tokenLifetimeMs) return undefined;
    if (e.presentedJkt !== undefined && first.jkt !== undefined && e.presentedJkt !== first.jkt) return evidence('key_mismatch', e, first);
    // Which addresses are the identity's needs a learned baseline: a new identity's are unknown.
    if (mature && e.kind === 'request' && e.sourceIp !== undefined) {
      const strange = strangePlace(baseline, first, e.sourceIp);
      if (strange !== undefined) return { ...evidence('source_changed', e, first), strangeIp: strange };
    }
    if (e.environment !== undefined && first.environment !== undefined && e.environment !== first.environment) return evidence('workload_changed', e, first);
    return undefined;
  },
};

function evidence(reason: string, e: DetectionEvent, first: TokenSighting): Record<string, unknown> {
  return {
    reason,
    jti: e.jti,
    grantId: e.grantId ?? first.grantId,
    firstSeen: { ...first, ...(first.ips ? { ips: [...first.ips] } : {}) },
    presented: { jkt: e.presentedJkt, sourceIp: e.sourceIp, environment: e.environment },
    event: eventEvidence(e),
  };
}
