/**
 * first_seen (medium): an action or resource the identity has never used, outside what its task was
 * granted. Inside the task's actions a new resource is ordinary (a deploy job ships a new build
 * every time), so only novelty the task does not explain counts, and only against a mature baseline;
 * a requested action the identity never used counts when it comes at an hour the identity is rarely
 * active (a 24/7 identity's stolen credential asking for a sensitive scope at 04:00).
 */
import { hourShare, resourceTypeOf, transitionCount } from '../baseline.js';
import { eventEvidence, type Rule } from './rule.js';

export const firstSeenRule: Rule = {
  id: 'first_seen',
  dedupe: 'grant',
  check(ctx) {
    const { event: e, baseline } = ctx;
    if (!ctx.mature) return undefined;
    const newAction = !ctx.actionSeen;
    let requested = false;
    if (e.taskActions !== undefined && e.taskActions.includes(e.action)) {
      // The requester chooses its scopes, so a request does not explain everything: an action the
      // identity never used, performed at an hour it is rarely active, is novel all the same.
      if (!newAction || e.kind !== 'request' || !e.allowed) return undefined;
      if (hourShare(baseline, e.at, ctx.options.offHours.toleranceHours).share >= ctx.options.offHours.rareFraction) return undefined;
      requested = true;
    }
    if (!newAction && !ctx.resourceNew) return undefined;
    const evidence: Record<string, unknown> = {
      requestedInTask: requested,
      action: e.action,
      resource: e.resource,
      newAction,
      newResource: ctx.resourceNew,
      newResourceType: !ctx.resourceTypeSeen,
      resourceType: resourceTypeOf(e.resource),
      taskActions: e.taskActions ? [...e.taskActions] : null,
      knownActions: [...baseline.actions.keys()].slice(0, 50),
      knownResourceCount: baseline.resources.size,
      baselineEvents: baseline.events,
      event: eventEvidence(e),
    };
    // For agents, say whether this step is also off its usual tool order.
    const t = transitionCount(baseline, e);
    if (t !== undefined) evidence.knownTransitionCount = t;
    return evidence;
  },
};
