/** The built-in rules, in the order they are evaluated (cheap, decisive ones first). */
import { afterTaskRule } from './after-task.js';
import { dormantRule } from './dormant.js';
import { driftRule } from './drift.js';
import { enumerationRule } from './enumeration.js';
import { escalationRule } from './escalation.js';
import { firstSeenRule } from './first-seen.js';
import { offHoursRule } from './off-hours.js';
import { rateSpikeRule } from './rate-spike.js';
import { replayRule } from './replay.js';
import type { Rule } from './rule.js';

export const BUILTIN_RULES: readonly Rule[] = Object.freeze([
  replayRule,
  afterTaskRule,
  escalationRule,
  enumerationRule,
  driftRule,
  dormantRule,
  rateSpikeRule,
  firstSeenRule,
  offHoursRule,
]);
