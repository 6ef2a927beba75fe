import type { Command } from 'commander';
import { adminCall, adminTarget } from './http-client.js';

const print = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');
const urlOption = (c: Command) => c.option('--url <url>', 'broker base URL (TETHER_URL, default http://127.0.0.1:8080)');

/** Operator commands over the admin API (token from TETHER_ADMIN_TOKEN). */
export function registerAdminCommands(program: Command): void {
  urlOption(program.command('grants'))
    .description('list grants (just-in-time, task-scoped entitlements) with their state')
    .option('--state <state>', 'pending | active | ended | expired | revoked | denied')
    .option('--identity <id>', 'only this identity')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o: { url?: string; state?: string; identity?: string; limit: string }) => {
      const q = new URLSearchParams({ limit: o.limit });
      if (o.state) q.set('state', o.state);
      if (o.identity) q.set('identity', o.identity);
      print(await adminCall(adminTarget(o), 'GET', `/admin/v1/grants?${q}`));
    });

  for (const [name, verb] of [['approve', 'approve'], ['deny', 'deny']] as const) {
    urlOption(program.command(`${name} <grant-id>`))
      .description(`${verb} a pending grant; the workload's same token exchange then ${verb === 'approve' ? 'succeeds' : 'is refused'}`)
      .requiredOption('--reason <text>', 'why (audited)')
      .action(async (id: string, o: { url?: string; reason: string }) => {
        print(await adminCall(adminTarget(o), 'POST', `/admin/v1/grants/${encodeURIComponent(id)}/${verb}`, { reason: o.reason }));
      });
  }

  urlOption(program.command('confirm <grant-id>'))
    .description('confirm a break-glass grant after the fact, as a second operator (never the one who asked)')
    .requiredOption('--reason <text>', 'why it was justified (audited)')
    .action(async (id: string, o: { url?: string; reason: string }) => {
      print(await adminCall(adminTarget(o), 'POST', `/admin/v1/grants/${encodeURIComponent(id)}/confirm`, { reason: o.reason }));
    });

  const operators = program.command('operators').description('named operator accounts with roles (admin, approver, policy-author, auditor); admin only');
  urlOption(operators.command('add <name>'))
    .description('create an operator; prints its API token once (stored only as a hash)')
    .requiredOption('--role <role>', 'admin | approver | policy-author | auditor')
    .option('--expires <duration>', 'ISO-8601 duration after which the token stops working, e.g. P90D')
    .option('--slack-user <id>', 'Slack user id (U…) mapped to this operator for interactive approvals')
    .action(async (name: string, o: { url?: string; role: string; expires?: string; slackUser?: string }) => {
      print(await adminCall(adminTarget(o), 'POST', '/admin/v1/operators', { name, role: o.role, ...(o.expires ? { expires_in: o.expires } : {}), ...(o.slackUser ? { slack_user_id: o.slackUser } : {}) }));
    });
  urlOption(operators.command('list'))
    .description('operators with role, expiry and state (never tokens)')
    .action(async (o: { url?: string }) => {
      print(await adminCall(adminTarget(o), 'GET', '/admin/v1/operators'));
    });
  urlOption(operators.command('revoke <name>'))
    .description("revoke an operator's token at once")
    .requiredOption('--reason <text>', 'why (audited)')
    .action(async (name: string, o: { url?: string; reason: string }) => {
      print(await adminCall(adminTarget(o), 'POST', `/admin/v1/operators/${encodeURIComponent(name)}/revoke`, { reason: o.reason }));
    });

  urlOption(program.command('revoke'))
    .description('revoke cluster-wide: one token, a grant (task), an identity (all its tokens; suspends it) or an issuer (its tokens and grants; refused until `tether issuers restore`)')
    .option('--jti <jti>')
    .option('--grant <id>')
    .option('--identity <id>')
    .option('--issuer <name>')
    .requiredOption('--reason <text>', 'why (audited)')
    .action(async (o: { url?: string; jti?: string; grant?: string; identity?: string; issuer?: string; reason: string }) => {
      const given = (['jti', 'grant', 'identity', 'issuer'] as const).filter((k) => o[k]);
      if (given.length !== 1) throw new Error('give exactly one of --jti, --grant, --identity, --issuer');
      const kind = given[0]!;
      print(await adminCall(adminTarget(o), 'POST', '/admin/v1/revocations', { kind, value: o[kind], reason: o.reason }));
    });

  const issuers = program.command('issuers').description('trusted issuers');
  urlOption(issuers.command('restore <name>'))
    .description('lift the stop a revocation put on an issuer: its subject tokens are accepted again (tokens revoked with it stay revoked)')
    .requiredOption('--reason <text>', 'why (audited)')
    .action(async (name: string, o: { url?: string; reason: string }) => {
      print(await adminCall(adminTarget(o), 'POST', `/admin/v1/issuers/${encodeURIComponent(name)}/restore`, { reason: o.reason }));
    });

  const keys = program.command('keys').description('token signing keys');
  urlOption(keys.command('rotate'))
    .description('start signing with a new key; old public keys stay in the JWKS until their tokens expire')
    .option('--alg <alg>', 'EdDSA | ES256')
    .action(async (o: { url?: string; alg?: string }) => {
      print(await adminCall(adminTarget(o), 'POST', '/admin/v1/keys/rotate', o.alg ? { alg: o.alg } : {}));
    });
}
