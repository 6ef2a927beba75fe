/** Connector config: read from tether.yaml, its admin secret only from the environment or a 0600 file. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminSecret } from '../../src/connectors/admin-secret.js';
import { ConnectorSchema, roleMaxTtlSeconds } from '../../src/connectors/config.js';
import { loadConfigDir } from '../../src/declarative/load-dir.js';

test('tether.yaml `connectors:` reaches the apply bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-conn-'));
  writeFileSync(
    join(dir, 'tether.yaml'),
    `connectors:
  - name: orders-pg
    kind: postgresql
    url: postgres://tether_admin@127.0.0.1:5432/orders
    password_env: ORDERS_PG_ADMIN_PASSWORD
    roles:
      reader: { in_role: orders_reader, max_ttl: PT15M }
`,
  );
  const b = loadConfigDir(dir);
  assert.equal(b.connectors?.length, 1);
  const c = ConnectorSchema.parse(b.connectors![0]);
  assert.equal(c.max_ttl, 'PT1H');
  assert.equal(roleMaxTtlSeconds(c, 'reader'), 900);
});

test('a connector is refused with a password in its URL, a role of the wrong shape, or an over-long TTL', () => {
  const base = { name: 'x', kind: 'postgresql', url: 'postgres://u@h/db', roles: { r: { in_role: 't' } } };
  assert.ok(ConnectorSchema.safeParse(base).success);
  const bad = [
    { ...base, url: 'postgres://u:pw@h/db' },
    { ...base, url: 'postgres://u@h/db?password=pw' },
    { ...base, kind: 'redis', url: 'redis://h:6379' },
    { ...base, kind: 'mariadb', url: 'mysql://root@h', roles: { r: { grants: ['GRANT SELECT ON *.* TO someone'] } } },
    { ...base, roles: { r: { in_role: 't', max_ttl: 'P2D' } } },
    { ...base, password_env: 'A', password_file: '/f' },
    { ...base, roles: {} },
  ];
  for (const c of bad) assert.equal(ConnectorSchema.safeParse(c).success, false, JSON.stringify(c));
});

test('the admin secret comes from the environment or an owner-only file, never from anywhere else', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-secret-'));
  const f = join(dir, 'pw');
  writeFileSync(f, 's3cret\n', { mode: 0o600 });
  assert.equal(adminSecret({ name: 'c', password_file: f }), 's3cret');
  chmodSync(f, 0o644);
  assert.throws(() => adminSecret({ name: 'c', password_file: f }), /readable by its owner only/);
  assert.equal(adminSecret({ name: 'c', password_env: 'X_PW' }, { X_PW: 'from-env' }), 'from-env');
  assert.throws(() => adminSecret({ name: 'c', password_env: 'X_PW' }, {}), /X_PW is not set/);
  assert.equal(adminSecret({ name: 'c' }), undefined);
});
