/**
 * after_task (high): a token used after its task or grant ended (ended, revoked or expired). The
 * broker refuses it; the finding is about who still holds a credential for finished work.
 */
import { eventEvidence, type Rule } from './rule.js';

export const afterTaskRule: Rule = {
  id: 'after_task',
  dedupe: 'grant',
  check({ event: e }) {
    if (e.taskEnded !== true) return undefined;
    return {
      grantId: e.grantId,
      taskId: e.taskId,
      jti: e.jti,
      action: e.action,
      resource: e.resource,
      allowed: e.allowed,
      event: eventEvidence(e),
    };
  },
};
