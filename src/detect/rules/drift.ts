/**
 * drift (high): within one grant (task), the environment or the network changed: a token issued to a
 * staging job used from prod, or a workload's traffic now coming from another /24 (/64). Moves inside
 * the prefix (a pod rescheduled on the same subnet) are not drift.
 */
import { grantKeyOf, knownNetwork } from '../baseline.js';
import { ipPrefix } from '../ip-prefix.js';
import { eventEvidence, type Rule } from './rule.js';

export const driftRule: Rule = {
  id: 'drift',
  dedupe: 'grant',
  check({ event: e, baseline, options }) {
    const key = grantKeyOf(e);
    // A refused credential (another key, a revoked token) did no work for the task: replay and
    // after_task judge it, not drift.
    if (key === undefined || e.credentialStage === true) return undefined;
    const g = baseline.grants.get(key);
    if (!g) return undefined;
    const envChanged = e.environment !== undefined && g.environment !== undefined && e.environment !== g.environment;
    let from: string | undefined;
    let to: string | undefined;
    // Exact-match first: prefixes are computed only when the address actually changed.
    if (e.sourceIp !== undefined && g.ip !== undefined && e.sourceIp !== g.ip) {
      const { ipv4PrefixBits: v4, ipv6PrefixBits: v6 } = options.drift;
      from = ipPrefix(g.ip, v4, v6);
      to = ipPrefix(e.sourceIp, v4, v6);
    }
    // A network the identity already works from (another replica's, a NAT pool's) is not drift.
    const netChanged = from !== to && !(e.sourceIp !== undefined && knownNetwork(baseline, e.sourceIp));
    if (!envChanged && !netChanged) return undefined;
    return {
      reason: envChanged ? (netChanged ? 'environment_and_network' : 'environment') : 'network',
      grantId: e.grantId,
      taskId: e.taskId,
      first: { environment: g.environment, sourceIp: g.ip, prefix: from, at: g.firstAt },
      now: { environment: e.environment, sourceIp: e.sourceIp, prefix: to },
      event: eventEvidence(e),
    };
  },
};
