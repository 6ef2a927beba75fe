/**
 * escalation (critical): read secrets → change permissions → call an external destination, in that
 * order, by one identity within a short window: the shape of privilege escalation followed by
 * exfiltration. The stages are tracked in windows.ts; this rule reports a completed chain.
 */
import { eventEvidence, type Rule } from './rule.js';

export const escalationRule: Rule = {
  id: 'escalation',
  dedupe: 'identity',
  check({ state, options }) {
    const chain = state.escalation.chain;
    if (!chain) return undefined;
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
