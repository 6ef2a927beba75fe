import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { runCliAsync as runCli } from '../helpers/process.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

describe('CLI: apply issuers + policies, token, proof, grants, approve, revoke, keys rotate', () => {
  let b: RunningBroker;
  let dir: string;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  const env = () => ({ TETHER_ADMIN_TOKEN: ADMIN_TOKEN, TETHER_URL: b.url });

  before(async () => {
    b = await startBroker('pglite');
    gha = await createWorkloadIssuer();
    dir = mkdtempSync(join(tmpdir(), 'tether-cli-token-'));
    writeFileSync(join(dir, 'tether.yaml'), stringify({ identities: EXCHANGE_IDENTITIES, issuers: [gha.config()] }));
    for (const [f, text] of Object.entries(EXCHANGE_POLICIES)) writeFileSync(join(dir, f), text);
    writeFileSync(join(dir, 'subject.jwt'), await gha.token({}, { ttl: 600 }));
  });
  after(async () => {
    await b.stop();
  });

  test('apply loads issuers and policies, idempotently', async () => {
    const a = await runCli(['apply', '-f', dir], env());
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /issuer github applied/);
    assert.match(a.stdout, /polic/i);
    assert.match((await runCli(['apply', '-f', dir], env())).stdout, /no changes/);
  });

  test('token exchanges a subject token for a DPoP-bound token; proof signs a request for it', async () => {
    const keyFile = join(dir, 'dpop.json');
    const t = await runCli(['token', '--subject-token-file', join(dir, 'subject.jwt'), '--scope', 'orders:read', '--audience', ORDERS_AUD, '--dpop-key', keyFile, '--purpose', 'nightly check'], env());
    assert.equal(t.code, 0, t.stderr);
    const body = JSON.parse(t.stdout) as { access_token: string; token_type: string; dpop_jkt: string; expires_in: number };
    assert.equal(body.token_type, 'DPoP');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString()) as { cnf: { jkt: string } };
    assert.equal(claims.cnf.jkt, body.dpop_jkt);
    const p = await runCli(['proof', '--method', 'GET', '--url', 'http://127.0.0.1:8081/orders/42', '--token', body.access_token, '--dpop-key', keyFile]);
    assert.equal(p.code, 0, p.stderr);
    const header = JSON.parse(Buffer.from(p.stdout.trim().split('.')[0]!, 'base64url').toString()) as { typ: string; jwk: { d?: string } };
    assert.equal(header.typ, 'dpop+jwt');
    assert.equal(header.jwk.d, undefined);
    const refused = await runCli(['token', '--subject-token-file', join(dir, 'subject.jwt'), '--scope', 'orders:refund', '--audience', ORDERS_AUD, '--dpop-key', keyFile], env());
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /invalid_scope/);
  });

  test('approval round trip through the CLI, then revoke and rotate', async () => {
    const keyFile = join(dir, 'dpop.json');
    const args = ['token', '--subject-token-file', join(dir, 'subject.jwt'), '--scope', 'orders:delete', '--audience', ORDERS_AUD, '--dpop-key', keyFile, '--ticket', 'OPS-9'];
    const pending = await runCli(args, env());
    assert.equal(pending.code, 2);
    const id = /grant ([0-9a-f-]{36})/.exec(pending.stderr)?.[1];
    assert.ok(id, pending.stderr);
    const list = JSON.parse((await runCli(['grants', '--state', 'pending'], env())).stdout) as { grants: Array<{ id: string }> };
    assert.ok(list.grants.some((g) => g.id === id));
    assert.equal((await runCli(['approve', id!, '--reason', 'change window'], env())).code, 0);
    const ok = await runCli(args, env());
    assert.equal(ok.code, 0, ok.stderr);
    const rev = await runCli(['revoke', '--grant', id!, '--reason', 'done'], env());
    assert.equal(rev.code, 0, rev.stderr);
    assert.equal((JSON.parse(rev.stdout) as { kind: string }).kind, 'grant');
    assert.equal((await runCli(['revoke', '--grant', id!, '--jti', 'x', '--reason', 'two'], env())).code, 2);
    const rot = await runCli(['keys', 'rotate'], env());
    assert.equal(rot.code, 0, rot.stderr);
    assert.equal((JSON.parse(rot.stdout) as { retired: string[] }).retired.length, 1);
  });
});
