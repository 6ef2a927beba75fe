/**
 * escalation (critical): read secrets → change permissions → call an external destination, in that
 * order, by one identity within a short window: the shape of privilege escalation followed by
 * exfiltration. The stages are tracked in windows.ts (allowed steps only: a denied step is an attempt,
 * not a privilege used); this rule reports a completed chain that is new for the identity.
 */
import { eventEvidence, type Rule } from './rule.js';

export const escalationRule: Rule = {
  id: 'escalation',
  dedupe: 'identity',
  check({ state, options, baseline, mature }) {
    const chain = state.escalation.chain;
    if (!chain) return undefined;
    // Compared with the identity's own history: a pipeline whose routine is read a secret, bind a
    // role, post a webhook (every step already usual for it) is doing its job, not escalating.
    if (mature && chain.every((e) => baseline.actions.has(e.action))) return undefined;
    const o = options.escalation;
    return {
      windowMs: o.windowMs,
      spanMs: chain[2].at - chain[0].at,
      stages: ['secret_read', 'permission_change', 'external_call'],
      chain: chain.map(eventEvidence),
      patterns: {
        secretRead: String(o.secretRead.noun) + (o.secretRead.verb ? ` & ${String(o.secretRead.verb)}` : ''),
        permissionChange: String(o.permissionChange.noun) + (o.permissionChange.verb ? ` & ${String(o.permissionChange.verb)}` : ''),
        externalCall: String(o.externalCall.noun) + (o.externalCall.verb ? ` & ${String(o.externalCall.verb)}` : ''),
      },
    };
  },
};
