/**
 * The workload instance a task belongs to. Grants are keyed by it (with identity, audience, purpose
 * and ticket), so replicas of one Deployment, shards of one CI matrix or attempts of one run each
 * hold their own grant: revoking one instance's token or task (RFC 7009 at shutdown, an operator,
 * a detection response) never ends its siblings'.
 *
 * Only verified inputs name an instance: claims of the verified subject token, chosen per issuer
 * (`instance_claims`), and the thumbprint of the DPoP key whose proof verified (`$dpop`, RFC 9449
 * §6.1), which is the default because every replica generates its own key.
 */
import { createHash } from 'node:crypto';
import { TetherError } from '../errors.js';
import { readClaim } from '../federation/claims.js';

export const DPOP_INSTANCE = '$dpop';
const DEFAULT_INSTANCE_CLAIMS: readonly string[] = Object.freeze([DPOP_INSTANCE]);

/**
 * The instance key, or undefined when nothing names one (a bearer token under the default): such
 * tasks are shared by everyone exchanging for the same identity, audience and task, as before.
 * A configured claim the verified token lacks is refused: a task silently shared across instances
 * is what the configuration exists to prevent.
 */
export function taskInstance(issuer: { name: string; instance_claims?: readonly string[] | undefined }, claims: Record<string, unknown>, jkt: string | undefined): string | undefined {
  const parts: string[] = [];
  for (const path of issuer.instance_claims ?? DEFAULT_INSTANCE_CLAIMS) {
    if (path === DPOP_INSTANCE) {
      if (jkt !== undefined) parts.push(`jkt=${jkt}`);
      continue;
    }
    const v = readClaim(claims, path);
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw new TetherError('invalid_grant', `the subject token lacks the claim ${path} that issuer ${issuer.name} uses to name the workload instance`);
    }
    parts.push(`${path}=${String(v)}`);
  }
  if (parts.length === 0) return undefined;
  // A digest: bounded length whatever the claims, and no claim values copied into grants.
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 22);
}

/**
 * The run a task instance belongs to and its attempt, from the verified claims the issuer's
 * `task_attempt` names (e.g. GitHub `run_id`, `run_attempt`); undefined when not configured or when
 * the token lacks them (then nothing is ever judged superseded: absence is never evidence). The run
 * is a digest, scoped by issuer, so no claim value travels into detection or the change feed.
 */
export function taskAttempt(issuer: { name: string; task_attempt?: { run: string; attempt: string } | undefined }, claims: Record<string, unknown>): { run: string; attempt: number } | undefined {
  const cfg = issuer.task_attempt;
  if (!cfg) return undefined;
  const run = readClaim(claims, cfg.run);
  const raw = readClaim(claims, cfg.attempt);
  const attempt = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if ((typeof run !== 'string' && typeof run !== 'number') || !Number.isSafeInteger(attempt)) return undefined;
  return { run: createHash('sha256').update(JSON.stringify([issuer.name, String(run)])).digest('base64url').slice(0, 22), attempt };
}
