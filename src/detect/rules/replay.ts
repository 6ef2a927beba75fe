/**
 * replay: a token used with a key it was not bound to, or one token used from places that are not
 * the identity's. A DPoP-bound token is only usable by the key in `cnf.jkt` (RFC 9449 §6), so a
 * proof by another key is a copied token string (critical). A token that shows up at an address the
 * identity never works from, beside its holder's, is a copied token and key (source_changed).
 *
 * Addresses are the server's own view (socket, or the configured trusted proxy; never a header a
 * client sets). Replicas and NAT pools are normal: an address or network the identity already uses
 * is never news, and a token's first use may come through another path than its exchange (mesh,
 * NAT), so a single place is news only from a network the identity has never used.
 */
import { knownAddress, knownNetwork, networkOf, type IdentityBaseline, type TokenSighting } from '../baseline.js';
import type { DetectionEvent } from '../events.js';
import { eventEvidence, type Rule } from './rule.js';

/**
 * The address that does not belong, if the token's places (with this one) show a copy in use:
 * two or more places with one the identity does not use, or one place on a network an identity with
 * stable networks never used, away from where the token was issued. Only an address seen on this instance is
 * named (`local`: `ip` was seen here), so of two instances only the one that saw the copy raises it.
 */
/** Below this many known networks an identity's networks are stable (a service, a NAT-ed job). */
export const STABLE_NETWORKS = 8;

export function strangePlace(b: IdentityBaseline, t: TokenSighting, ip: string, local = true): string | undefined {
  const here = t.ips ?? [];
  const there = t.elsewhere ?? [];
  const mine = local && !here.includes(ip) ? [...here, ip] : here;
  const all = new Set([...mine, ...there]);
  if (!local) all.add(ip);
  if (all.size >= 2) {
    for (const p of mine) if (p !== t.issuedIp && !knownAddress(b, p)) return p;
    return undefined;
  }
  if (!local || t.issuedIp === undefined || ip === t.issuedIp || knownAddress(b, ip) || knownNetwork(b, ip)) return undefined;
  // An identity that works from many networks (CI runners on ephemeral addresses) gets new ones all
  // the time: one place alone says nothing there.
  if (b.prefixes.size >= STABLE_NETWORKS || (b.dropped.prefixes ?? 0) > 0) return undefined;
  return networkOf(ip) === networkOf(t.issuedIp) ? undefined : ip;
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
