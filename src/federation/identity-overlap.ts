import { TetherError } from '../errors.js';
import { IDENTITY_VALUE_CHARS } from './claims.js';
import type { IssuerConfig } from './issuer-config.js';

/**
 * One issuer's claims must never map onto another issuer's identity: an identity id is owned by
 * the one issuer whose template can render it. Templates are refused at apply when two issuers
 * could render the same id (rather than namespacing ids per issuer, which would rename every
 * identity policies already name).
 *
 * A template is read as a pattern: literal characters, and placeholders that match any non-empty
 * run of identity characters, except where the issuer pins a placeholder's value:
 * - a claim constraint on the placeholder's path (`claims: {repository_owner: acme}`) pins it to that value;
 * - private_key_jwt: `{sub}` and `{iss}` are the configured `issuer` (sub = iss = issuer, RFC 7523 §3);
 * - spiffe: `{sub}` is a SPIFFE ID, `spiffe://<trust domain>/…` when `issuer` names the trust domain.
 * Two patterns overlap when some string matches both (decided exactly on the product automaton).
 */
type Token = { lit: string } | 'any' | 'star';

function pattern(c: IssuerConfig): Token[] {
  const out: Token[] = [];
  const lit = (s: string) => {
    for (const ch of s) out.push({ lit: ch });
  };
  const wild = () => out.push('any', 'star'); // one or more identity characters
  for (const part of c.identity.split(/(\{[^}]+\})/)) {
    if (!part.startsWith('{')) {
      lit(part);
      continue;
    }
    const path = part.slice(1, -1);
    const pinned = c.claims?.[path];
    if (c.kind === 'private_key_jwt' && (path === 'sub' || path === 'iss')) lit(c.issuer);
    else if (typeof pinned === 'string' || (typeof pinned === 'number' && Number.isSafeInteger(pinned))) lit(String(pinned));
    else if (c.kind === 'spiffe' && path === 'sub') {
      lit(c.issuer.startsWith('spiffe://') ? `${c.issuer}/` : 'spiffe://');
      wild();
    } else wild();
  }
  return out;
}

/** Whether some string matches both patterns: breadth-first search over pairs of positions. */
function intersects(a: Token[], b: Token[]): boolean {
  const seen = new Set<number>();
  const width = b.length + 1;
  const queue: Array<[number, number]> = [];
  const push = (i: number, j: number) => {
    const k = i * width + j;
    if (seen.has(k)) return;
    seen.add(k);
    queue.push([i, j]);
  };
  push(0, 0);
  while (queue.length > 0) {
    const [i, j] = queue.pop()!;
    if (i === a.length && j === b.length) return true;
    const x = a[i];
    const y = b[j];
    // A star may also match nothing.
    if (x === 'star') push(i + 1, j);
    if (y === 'star') push(i, j + 1);
    if (x === undefined || y === undefined) continue;
    // Consume one character on both sides.
    const ni = x === 'star' ? i : i + 1;
    const nj = y === 'star' ? j : j + 1;
    if (typeof x === 'object' && typeof y === 'object') {
      if (x.lit === y.lit) push(ni, nj);
    } else if (typeof x === 'object') {
      if (IDENTITY_VALUE_CHARS.test(x.lit)) push(ni, nj);
    } else if (typeof y === 'object') {
      if (IDENTITY_VALUE_CHARS.test(y.lit)) push(ni, nj);
    } else push(ni, nj);
  }
  return false;
}

/** Refuses `config` when its identity template can render an id another issuer's template can. */
export function assertNoIdentityOverlap(config: IssuerConfig, others: readonly IssuerConfig[]): void {
  const mine = pattern(config);
  for (const other of others) {
    if (other.name === config.name) continue;
    if (intersects(mine, pattern(other))) {
      throw new TetherError(
        'invalid_request',
        `invalid issuer config: issuer "${config.name}" identity: template "${config.identity}" can map claims onto the same identity ids as issuer "${other.name}" ("${other.identity}"); give each issuer its own literal prefix (e.g. "${config.name}/…") or pin the shared placeholder with a claim constraint`,
      );
    }
  }
}
