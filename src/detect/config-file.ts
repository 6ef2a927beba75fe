import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { RULE_IDS } from './finding.js';
import { resolveDetectionOptions, type DetectionOptionsInput } from './options.js';
import { DEFAULT_RESPONSE_POLICY, type ResponsePolicy } from './responses.js';

const RESPONSE = z.enum(['alert', 'require_approval', 'narrow', 'suspend', 'revoke_grant', 'revoke_identity']);
const SEVERITY = z.enum(['low', 'medium', 'high', 'critical']);
const perSeverity = z.partialRecord(SEVERITY, RESPONSE);

const DetectionConfigSchema = z.strictObject({
  /** Thresholds (see DEFAULT_DETECTION_OPTIONS); anything left out keeps its default. */
  thresholds: z.record(z.string(), z.unknown()).optional(),
  /** Responses per rule (one, or one per severity), per severity, and a fallback. */
  responses: z
    .strictObject({
      rules: z.partialRecord(z.enum(RULE_IDS), z.union([RESPONSE, perSeverity])).optional(),
      severities: perSeverity.optional(),
      /** Identity kinds for which identity-wide responses (suspend, approval holds) are taken. */
      identity_wide: z.array(z.enum(['service_account', 'ci_job', 'workload', 'ai_agent', 'api_client'])).optional(),
      fallback: RESPONSE.default('alert'),
      /** Corroborated credential signals: contain that token (default) or only alert. */
      contain: z.enum(['revoke_grant', 'alert']).optional(),
    })
    .optional(),
});

export class DetectionConfigError extends Error {}

/**
 * `--detection-config FILE` (YAML or JSON): detection thresholds and the response policy per rule
 * and severity. Read once at start and validated whole; a bad file stops the broker with a message
 * naming the field, rather than running with responses nobody chose.
 */
export function loadDetectionConfig(path: string): { options?: DetectionOptionsInput; responses?: ResponsePolicy } {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'), { uniqueKeys: true });
  } catch (e) {
    throw new DetectionConfigError(`${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = DetectionConfigSchema.safeParse(doc ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new DetectionConfigError(`${path}: ${i.path.join('.') || '(top level)'}: ${i.message}`);
  }
  const out: { options?: DetectionOptionsInput; responses?: ResponsePolicy } = {};
  if (r.data.thresholds) {
    const options = r.data.thresholds as DetectionOptionsInput;
    try {
      resolveDetectionOptions(options);
    } catch (e) {
      throw new DetectionConfigError(`${path}: thresholds: ${(e as Error).message}`);
    }
    out.options = options;
  }
  if (r.data.responses) {
    // Left out, `rules` keeps the defaults: opting kinds in must not silently drop the default rules.
    const { identity_wide, rules, ...rest } = r.data.responses;
    out.responses = { ...(rest as ResponsePolicy), rules: (rules as ResponsePolicy['rules']) ?? DEFAULT_RESPONSE_POLICY.rules, ...(identity_wide ? { identityWide: identity_wide } : {}) };
  }
  return out;
}
