import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseIsoDurationSeconds } from '../policy/iso-duration.js';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';

/** Loads the workload's DPoP key (a private JWK file), creating it (0600) on first use. */
async function dpopKey(path: string): Promise<{ key: CryptoKey; publicJwk: JWK; jkt: string }> {
  let priv: JWK;
  if (existsSync(path)) {
    priv = JSON.parse(readFileSync(path, 'utf8')) as JWK;
  } else {
    const kp = await generateKeyPair('ES256', { extractable: true });
    priv = { ...(await exportJWK(kp.privateKey)), alg: 'ES256' };
    writeFileSync(path, JSON.stringify(priv) + '\n', { mode: 0o600, flag: 'wx' });
  }
  const { d: _d, ...publicJwk } = priv;
  return { key: (await importJWK(priv, 'ES256')) as CryptoKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
}

export async function proof(k: { key: CryptoKey; publicJwk: JWK }, htm: string, htu: string, accessToken?: string, nonce?: string): Promise<string> {
  const claims: Record<string, unknown> = { htm, htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) };
  if (accessToken) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
  if (nonce) claims.nonce = nonce;
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: k.publicJwk }).sign(k.key);
}

/** `10m`, `90s`, `1h`, or an ISO-8601 duration such as PT10M, in milliseconds. */
function parseWait(text: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(text.trim());
  if (m) return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
  const iso = parseIsoDurationSeconds(text.trim());
  if (iso === undefined) throw new Error(`--timeout: expected a duration such as 10m, 90s or PT10M, got ${JSON.stringify(text)}`);
  return iso * 1000;
}

export function registerToken(program: Command): void {
  program
    .command('token')
    .description('exchange a platform token (GitHub Actions, Kubernetes, SPIFFE, ...) for a short-lived DPoP-bound access token')
    .requiredOption('--scope <actions>', 'space-separated actions the task needs')
    .requiredOption('--audience <aud>', 'the service the token is for')
    .option('--url <url>', 'broker base URL (TETHER_URL, default http://127.0.0.1:8080)')
    .option('--subject-token-file <file>', 'file holding the platform token (else TETHER_SUBJECT_TOKEN)')
    .option('--dpop-key <file>', 'private JWK of the workload DPoP key; created (0600) if missing', './tether-dpop-key.json')
    .option('--purpose <text>', 'task purpose (authorization_details tether_task)')
    .option('--ticket <id>', 'change or incident ticket')
    .option('--max-ttl <duration>', 'how long the task may take, e.g. PT30M')
    .option('--break-glass', 'emergency access: needs --justification, at most 15 minutes, loudly audited')
    .option('--justification <text>', 'why break-glass is needed')
    .option('--wait', 'when the grant needs approval, wait for it (polls at the interval the broker asks for) and print the token once approved')
    .option('--timeout <duration>', 'with --wait: give up after this long, e.g. 10m, 90s, 1h', '10m')
    .addHelpText(
      'after',
      `
Prints the token response as JSON. The access token is bound to the DPoP key: use \`tether proof\` to sign each request.
With --wait, a pending approval is waited for; a denial, an expired approval window or the timeout exits 1 with the reason.
An operator asking on a workload's behalf (e.g. break-glass) sets TETHER_OPERATOR_TOKEN: the grant records who asked,
and that operator cannot approve it.`,
    )
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const url = String(o.url ?? process.env.TETHER_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
      const subject = o.subjectTokenFile ? readFileSync(String(o.subjectTokenFile), 'utf8').trim() : process.env.TETHER_SUBJECT_TOKEN;
      if (!subject) throw new Error('no subject token: pass --subject-token-file or set TETHER_SUBJECT_TOKEN');
      const k = await dpopKey(String(o.dpopKey));
      const meta = (await (await fetch(`${url}/.well-known/oauth-authorization-server`)).json()) as { token_endpoint: string };
      const params = new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: String(o.scope),
        audience: String(o.audience),
      });
      const task: Record<string, unknown> = {};
      if (o.purpose) task.purpose = o.purpose;
      if (o.ticket) task.ticket = o.ticket;
      if (o.maxTtl) task.max_ttl = o.maxTtl;
      if (o.breakGlass) task.break_glass = true;
      if (o.justification) task.justification = o.justification;
      if (Object.keys(task).length) params.set('authorization_details', JSON.stringify([{ type: 'tether_task', ...task }]));
      const operatorToken = process.env.TETHER_OPERATOR_TOKEN;
      const deadline = Date.now() + parseWait(String(o.timeout ?? '10m'));
      let nonce: string | undefined;
      let nonceRetried = false;
      let polls = 0;
      for (;;) {
        const res = await fetch(meta.token_endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            dpop: await proof(k, 'POST', meta.token_endpoint, undefined, nonce),
            ...(operatorToken ? { 'x-tether-operator-token': operatorToken } : {}),
          },
          body: params.toString(),
        });
        const body = (await res.json()) as Record<string, unknown>;
        if (res.ok) {
          process.stdout.write(JSON.stringify({ ...body, dpop_jkt: k.jkt }, null, 2) + '\n');
          return;
        }
        const fresh = res.headers.get('dpop-nonce');
        if (fresh) nonce = fresh;
        if (body.error === 'use_dpop_nonce' && fresh && !nonceRetried) {
          nonceRetried = true;
          continue;
        }
        nonceRetried = false;
        const why = `${String(body.error)}: ${String(body.error_description ?? '')}${body.grant_id ? ` (grant ${String(body.grant_id)})` : ''}`;
        if (body.error !== 'authorization_pending' || !o.wait) throw new Error(why);
        // RFC 8628 §3.5: poll no faster than the interval the server gives, backing off gently.
        const interval = typeof body.interval === 'number' && body.interval > 0 ? body.interval : 5;
        const waitMs = Math.min(interval * 1000 * Math.pow(1.25, Math.min(polls++, 8)), 30_000);
        if (Date.now() + waitMs > deadline) throw new Error(`timed out waiting for approval: ${why}`);
        if (polls === 1) process.stderr.write(`waiting for approval of grant ${String(body.grant_id)}…\n`);
        await new Promise((r) => setTimeout(r, waitMs));
      }
    });

  program
    .command('proof')
    .description('print a DPoP proof for one request with a DPoP-bound access token (for curl and scripts)')
    .requiredOption('--method <m>', 'HTTP method of the request')
    .requiredOption('--url <url>', 'the URL the request goes to')
    .option('--token <access_token>', 'the access token (adds ath); else TETHER_ACCESS_TOKEN')
    .option('--dpop-key <file>', 'private JWK of the workload DPoP key', './tether-dpop-key.json')
    .addHelpText('after', '\nExample:\n  curl -H "Authorization: DPoP $T" -H "DPoP: $(tether proof --method GET --url http://127.0.0.1:8081/orders/42 --token $T)" http://127.0.0.1:8081/orders/42')
    .action(async (o: { method: string; url: string; token?: string; dpopKey: string }) => {
      if (!existsSync(o.dpopKey)) throw new Error(`no DPoP key at ${o.dpopKey} (tether token creates one)`);
      const k = await dpopKey(o.dpopKey);
      const token = o.token ?? process.env.TETHER_ACCESS_TOKEN;
      process.stdout.write((await proof(k, o.method.toUpperCase(), o.url, token)) + '\n');
    });
}
