/**
 * Revocation-to-dead, measured from the audit log.
 *
 * Definition: for each task end seen in the window — a `revocation.created` (by jti, grant or
 * identity), an RFC 7009 `token.revoked`, or a `grant.ended` — the time from that event to the last
 * `decision` that still *allowed* a credential it covers. When no covered credential was allowed
 * afterwards (the expected case: every instance refused from the first request), the credential was
 * dead the moment the end was recorded and the value is 0. A value above 0 is real exposure: an
 * instance honoured a dead credential that long. Tokens live at most MAX_TOKEN_LIFETIME_SECONDS, so
 * an end older than that is final and leaves memory (bounded by the ends of the last hour, not by
 * the log). An identity revocation covers only tokens issued at or before it (revocation-set.ts);
 * tokens whose issuance predates the analysed stream are assumed to be covered.
 */
import type { AuditRecord } from '../audit/index.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from '../revocation/index.js';
import { CountHistogram } from './percentiles.js';

const HORIZON_MS = MAX_TOKEN_LIFETIME_SECONDS * 1000;

interface Pending {
  at: number;
  lastAllow: number | null;
}

export function createRevocationSpeed() {
  const pending = new Map<string, Pending>();
  const issuedAt = new Map<string, number>(); // jti → ms, for the last HORIZON only
  const hist = new CountHistogram();
  let lastPrune = 0;

  const settle = (key: string, p: Pending) => {
    hist.add(p.lastAllow === null ? 0 : p.lastAllow - p.at);
    pending.delete(key);
  };
  const prune = (now: number) => {
    for (const [k, p] of pending) if (now - p.at > HORIZON_MS) settle(k, p);
    for (const [j, t] of issuedAt) if (now - t > HORIZON_MS) issuedAt.delete(j);
    lastPrune = now;
  };
  const open = (key: string, at: number) => {
    if (!pending.has(key)) pending.set(key, { at, lastAllow: null });
  };

  return {
    add(e: AuditRecord): void {
      const t = Date.parse(e.ts);
      if (t - lastPrune > 60_000) prune(t);
      const d = e.data;
      switch (e.type) {
        case 'revocation.created':
          if (typeof d.kind === 'string' && typeof d.value === 'string' && d.kind !== 'issuer') open(`${d.kind}:${d.value}`, t);
          return;
        case 'token.revoked':
          if (typeof d.jti === 'string') open(`jti:${d.jti}`, t);
          return;
        case 'grant.ended':
          if (typeof d.grant === 'string') open(`grant:${d.grant}`, t);
          return;
        case 'token.issued':
          if (typeof d.jti === 'string') issuedAt.set(d.jti, t);
          return;
        case 'decision': {
          if (d.decision !== 'allow' || pending.size === 0) return;
          const jti = typeof d.jti === 'string' ? d.jti : undefined;
          const hits: Array<Pending | undefined> = [jti ? pending.get(`jti:${jti}`) : undefined, typeof d.grant === 'string' ? pending.get(`grant:${d.grant}`) : undefined];
          const byIdentity = e.identity ? pending.get(`identity:${e.identity}`) : undefined;
          if (byIdentity && (jti === undefined || (issuedAt.get(jti) ?? -Infinity) <= byIdentity.at)) hits.push(byIdentity);
          for (const p of hits) if (p && t >= p.at) p.lastAllow = t;
          return;
        }
        default:
      }
    },
    finish() {
      for (const [k, p] of pending) settle(k, p);
      return hist.summary();
    },
  };
}
