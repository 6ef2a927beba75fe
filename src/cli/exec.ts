import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { proof } from './token.js';

interface Credential {
  lease_id: string;
  username: string;
  password: string;
  expires_at: string;
  kind: 'postgresql' | 'mariadb' | 'redis';
  host: string;
  port: number;
  database?: string;
}

/** The environment a task's command gets: what each kind's own clients read, plus a URL. */
export function credentialEnv(c: Credential): Record<string, string> {
  const u = encodeURIComponent(c.username);
  const p = encodeURIComponent(c.password);
  const db = c.database ? `/${encodeURIComponent(c.database)}` : '';
  const common = { TETHER_LEASE_ID: c.lease_id, TETHER_CREDENTIAL_USERNAME: c.username, TETHER_CREDENTIAL_PASSWORD: c.password, TETHER_CREDENTIAL_EXPIRES_AT: c.expires_at };
  if (c.kind === 'postgresql') {
    return { ...common, PGHOST: c.host, PGPORT: String(c.port), PGUSER: c.username, PGPASSWORD: c.password, ...(c.database ? { PGDATABASE: c.database } : {}), DATABASE_URL: `postgres://${u}:${p}@${c.host}:${c.port}${db}` };
  }
  if (c.kind === 'mariadb') {
    return { ...common, MYSQL_HOST: c.host, MYSQL_TCP_PORT: String(c.port), MYSQL_PWD: c.password, MYSQL_USER: c.username, ...(c.database ? { MYSQL_DATABASE: c.database } : {}), DATABASE_URL: `mysql://${u}:${p}@${c.host}:${c.port}${db}` };
  }
  return { ...common, REDISCLI_AUTH: c.password, REDIS_USERNAME: c.username, REDIS_URL: `redis://${u}:${p}@${c.host}:${c.port}` };
}

/**
 * `tether exec --credentials CONNECTOR/ROLE -- COMMAND…` (README "Legacy bridge"): a token for the
 * task (an ephemeral DPoP key, in memory only), credentials for it, the command run with them in its
 * environment, and the task ended (RFC 7009) when the command exits, however it exits — the account
 * lives as long as the job.
 */
export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('run a command with per-task credentials for a legacy target; the account is dropped when the command exits')
    .requiredOption('--credentials <connector/role>', 'the connector and role, e.g. orders-pg/reader')
    .option('--url <url>', 'broker base URL (TETHER_URL, default http://127.0.0.1:8080)')
    .option('--subject-token-file <file>', 'file holding the platform token (else TETHER_SUBJECT_TOKEN)')
    .option('--purpose <text>', 'task purpose (authorization_details tether_task)')
    .argument('<command...>', 'the command and its arguments (after --)')
    .action(async (argv: string[], o: { credentials: string; url?: string; subjectTokenFile?: string; purpose?: string }) => {
      const m = /^([a-z0-9][a-z0-9_-]{0,62})\/([a-z0-9][a-z0-9_-]{0,62})$/.exec(o.credentials);
      if (!m) throw new Error('--credentials: expected CONNECTOR/ROLE');
      const [, connector, role] = m as unknown as [string, string, string];
      const url = String(o.url ?? process.env.TETHER_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
      const subject = o.subjectTokenFile ? readFileSync(o.subjectTokenFile, 'utf8').trim() : process.env.TETHER_SUBJECT_TOKEN;
      if (!subject) throw new Error('no subject token: pass --subject-token-file or set TETHER_SUBJECT_TOKEN');
      const kp = await generateKeyPair('ES256');
      const k = { key: kp.privateKey as CryptoKey, publicJwk: await exportJWK(kp.publicKey) };
      const meta = (await (await fetch(`${url}/.well-known/oauth-authorization-server`)).json()) as { issuer: string; token_endpoint: string; revocation_endpoint: string };
      // Requests go to --url; proofs name the URLs the broker knows itself by (its issuer URL).
      const at = (endpoint: string) => url + new URL(endpoint).pathname;
      const params = new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: 'credentials:issue',
        audience: `tether:connector:${connector}`,
      });
      if (o.purpose) params.set('authorization_details', JSON.stringify([{ type: 'tether_task', purpose: o.purpose }]));
      let nonce: string | undefined;
      let tokenBody: Record<string, unknown> = {};
      for (let i = 0; i < 2; i++) {
        const res = await fetch(at(meta.token_endpoint), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof(k, 'POST', meta.token_endpoint, undefined, nonce) }, body: params.toString() });
        tokenBody = (await res.json()) as Record<string, unknown>;
        if (res.ok) break;
        nonce = res.headers.get('dpop-nonce') ?? undefined;
        if (tokenBody.error !== 'use_dpop_nonce' || !nonce) throw new Error(`token exchange: ${String(tokenBody.error)}: ${String(tokenBody.error_description ?? '')}`);
      }
      const token = String(tokenBody.access_token);

      const endTask = async () => {
        const res = await fetch(at(meta.revocation_endpoint), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof(k, 'POST', meta.revocation_endpoint, token) },
          body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        });
        if (!res.ok) process.stderr.write(`tether exec: ending the task failed (${res.status}); the account ends with its lease\n`);
      };

      const credUrl = `${meta.issuer.replace(/\/+$/, '')}/credentials/v1/${connector}/${role}`;
      const res = await fetch(`${url}/credentials/v1/${connector}/${role}`, { method: 'POST', headers: { authorization: `DPoP ${token}`, dpop: await proof(k, 'POST', credUrl, token) } });
      const body = (await res.json()) as Record<string, unknown>;
      if (res.status !== 201) {
        await endTask();
        throw new Error(`credentials: ${String(body.error)}: ${String(body.error_description ?? '')}`);
      }
      const cred = body as unknown as Credential;
      process.stderr.write(`tether exec: lease ${cred.lease_id} (${cred.username}, until ${cred.expires_at})\n`);

      const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env: { ...process.env, ...credentialEnv(cred) } });
      const forward = (sig: NodeJS.Signals) => child.kill(sig);
      process.on('SIGINT', forward).on('SIGTERM', forward);
      const code = await new Promise<number>((resolve) => {
        child.on('error', (e) => {
          process.stderr.write(`tether exec: ${e.message}\n`);
          resolve(127);
        });
        child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
      });
      process.off('SIGINT', forward).off('SIGTERM', forward);
      await endTask();
      process.exitCode = code;
    });
}
