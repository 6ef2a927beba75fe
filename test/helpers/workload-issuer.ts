import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/** A stand-in for a platform's OIDC issuer (GitHub Actions here): real keys, real signed tokens. */
export async function createWorkloadIssuer(opts: { iss?: string; aud?: string; alg?: 'ES256' | 'RS256' } = {}) {
  const alg = opts.alg ?? 'ES256';
  const iss = opts.iss ?? 'https://token.actions.githubusercontent.com';
  const aud = opts.aud ?? 'tether';
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg, use: 'sig' };
  return {
    iss,
    aud,
    publicJwk: jwk,
    privateKey: privateKey as CryptoKey,
    /** The issuer entry for tether.yaml / the apply bundle. */
    config(extra: Record<string, unknown> = {}) {
      return { name: 'github', issuer: iss, audience: aud, jwks: { keys: [jwk] }, identity: 'ci/{repository}', claims: { repository_owner: 'acme' }, ...extra };
    },
    /** A GitHub-Actions-shaped OIDC token. */
    async token(claims: Record<string, unknown> = {}, o: { ttl?: number; iat?: number; kid?: string; key?: CryptoKey } = {}) {
      const now = o.iat ?? Math.floor(Date.now() / 1000);
      return new SignJWT({ repository: 'acme/api', repository_owner: 'acme', workflow: 'deploy', ref: 'refs/heads/main', ...claims })
        .setProtectedHeader({ alg, kid: o.kid ?? 'test-key-1', typ: 'JWT' })
        .setIssuer(iss)
        .setAudience(aud)
        .setSubject('repo:acme/api:ref:refs/heads/main')
        .setIssuedAt(now)
        .setNotBefore(now - 5)
        .setExpirationTime(now + (o.ttl ?? 300))
        .setJti(crypto.randomUUID())
        .sign(o.key ?? privateKey);
    },
  };
}

export const ORDERS_AUD = 'https://orders.example.test';

/** Policies for the token-exchange scenarios: plain, approval, break-glass, bearer. */
export const EXCHANGE_POLICIES = {
  'orders.cedar': `
@id("ci-reads-orders")
permit (principal == Identity::"ci/acme/api", action in [Action::"orders:read", Action::"orders:list"], resource == Audience::"${ORDERS_AUD}");

@id("ci-deletes-with-approval")
@approval("required")
permit (principal == Identity::"ci/acme/api", action == Action::"orders:delete", resource == Audience::"${ORDERS_AUD}");

@id("ci-break-glass-admin")
@break_glass("allowed")
@ttl("PT10M")
permit (principal == Identity::"ci/acme/api", action == Action::"orders:admin", resource == Audience::"${ORDERS_AUD}")
when { context.break_glass };

@id("low-risk-only")
forbid (principal, action, resource) when { context.risk >= 80 };
`,
};

export const EXCHANGE_IDENTITIES = [
  { id: 'ci/acme/api', kind: 'ci_job', owner: 'team-orders', purpose: 'deploy the orders API', environment: 'prod' },
];
