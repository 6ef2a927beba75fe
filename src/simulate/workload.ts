/**
 * Simulated workloads, doing what real ones do: prove who they are with a JWT from their platform's
 * issuer (here the simulator's own key pair), exchange it for a DPoP-bound token (RFC 8693 + RFC
 * 9449), call services through the gateway with a fresh proof per request, and revoke the token when
 * the task is done (RFC 7009). An attacker is the same thing with someone else's token.
 */
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { TetherError } from '../errors.js';
import type { BrokerClient } from './broker-client.js';

export interface DpopKey {
  jkt: string;
  proof(htm: string, htu: string, accessToken?: string, nonce?: string): Promise<string>;
}

export async function createDpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = await exportJWK(publicKey);
  return {
    jkt: await calculateJwkThumbprint(jwk),
    proof(htm, htu, accessToken, nonce) {
      const claims: Record<string, unknown> = { htm, htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) };
      if (accessToken) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
      if (nonce) claims.nonce = nonce;
      return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey);
    },
  };
}

/** The simulator's stand-in for a platform OIDC issuer (GitHub Actions, Kubernetes, ...). */
export interface SimIssuer {
  config: Record<string, unknown>;
  /** `claims`: extra verified claims, e.g. a CI run's `run_id` and `run_attempt`. */
  subjectToken(identity: string, claims?: Record<string, unknown>): Promise<string>;
}

export async function createSimIssuer(name: string): Promise<SimIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = `${name}-1`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const iss = `https://issuer.${name}.simulator.invalid`;
  const aud = 'tether-simulator';
  return {
    // Identities under this issuer's own prefix only: templates of different issuers may not overlap.
    // Runs and attempts as GitHub Actions names them: a re-run's exchange ends the earlier attempt.
    config: { name, kind: 'oidc', issuer: iss, audience: aud, jwks: { keys: [jwk] }, identity: `${name}/{sub}`, task_attempt: { run: 'run_id', attempt: 'run_attempt' } },
    subjectToken: (identity, claims = {}) => {
      if (!identity.startsWith(`${name}/`)) throw new TypeError(`simulator identity ${identity} is outside ${name}/`);
      return new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
        .setIssuer(iss)
        .setAudience(aud)
        .setSubject(identity.slice(name.length + 1))
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti(randomUUID())
        .sign(privateKey as CryptoKey);
    },
  };
}

export interface Endpoints {
  /** The token endpoint as clients address it (the DPoP htu); requests go to the same path at --url. */
  tokenEndpoint: string;
  /** The RFC 7009 revocation endpoint as clients address it (the DPoP htu of a revocation). */
  revocationEndpoint: string;
  route: string;
  /** The route's public_url: the htu base of gateway calls. */
  publicUrl: string;
  audience: string;
}

export interface Exchanged {
  status: number;
  token?: string;
  error?: string;
}

/**
 * `brokers`: the instances of one cluster (one, or two with `--peer-url`); calls and exchanges name
 * the instance they go to (0 unless given), as a load balancer would spread them.
 */
export function createWorkload(brokers: readonly BrokerClient[], issuer: SimIssuer, ep: Endpoints, identity: string, key: DpopKey) {
  const tokenPath = new URL(ep.tokenEndpoint).pathname;
  const on = (instance: number) => brokers[instance % brokers.length]!;
  return {
    identity,
    key,
    async exchange(scopes: readonly string[], purpose: string, instance = 0, claims?: Record<string, unknown>): Promise<Exchanged> {
      const broker = on(instance);
      const form = {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await issuer.subjectToken(identity, claims),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: scopes.join(' '),
        audience: ep.audience,
        authorization_details: JSON.stringify([{ type: 'tether_task', purpose }]),
      };
      let r = await broker.form(tokenPath, form, { dpop: await key.proof('POST', ep.tokenEndpoint) });
      const nonce = r.headers.get('dpop-nonce');
      if (r.status === 400 && r.body.error === 'use_dpop_nonce' && nonce) {
        // RFC 9449 §8: retry once with the server's nonce (a fresh subject token: they are single-use).
        r = await broker.form(tokenPath, { ...form, subject_token: await issuer.subjectToken(identity, claims) }, { dpop: await key.proof('POST', ep.tokenEndpoint, undefined, nonce) });
      }
      const out: Exchanged = { status: r.status };
      if (typeof r.body.access_token === 'string') out.token = r.body.access_token;
      if (typeof r.body.error === 'string') out.error = `${r.body.error}: ${String(r.body.error_description ?? '')}`;
      return out;
    },
    async mustExchange(scopes: readonly string[], purpose: string, instance = 0, claims?: Record<string, unknown>): Promise<string> {
      const r = await this.exchange(scopes, purpose, instance, claims);
      if (!r.token) throw new TetherError('invalid_request', `token exchange for ${identity} failed (${r.status}): ${r.error ?? ''}`);
      return r.token;
    },
    /** One gateway call with `token`, proved by `by` (the holder's key unless someone else's). */
    async call(token: string, method: string, path: string, ip: string, by: DpopKey = key, instance = 0): Promise<number> {
      return on(instance).extAuthz(ep.route, method, path, {
        authorization: `DPoP ${token}`,
        dpop: await by.proof(method, ep.publicUrl + path, token),
        // The header the route trusts for the client address (route client_address_header), as an
        // Envoy that sets it with headers_to_add would send it.
        [SIMULATED_CLIENT_ADDRESS_HEADER]: ip,
      });
    },
    /** RFC 7009: the task is over. A DPoP-bound token is revoked with a proof by its key. */
    async revoke(token: string): Promise<void> {
      await on(0).form(new URL(ep.revocationEndpoint).pathname, { token, token_type_hint: 'access_token' }, { dpop: await key.proof('POST', ep.revocationEndpoint, token) });
    },
  };
}

/** The client-address header the simulator's Envoy-style route is configured to read. */
export const SIMULATED_CLIENT_ADDRESS_HEADER = 'x-tether-client-address';

export type Workload = ReturnType<typeof createWorkload>;
