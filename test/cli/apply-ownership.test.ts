/**
 * `tether apply` against a real broker: a directory owns only the policy set it declares
 * (`policy_set` in tether.yaml), so two teams' directories applied one after the other each keep
 * their policies; `--dry-run` runs the broker's own checks and exits non-zero on what apply would
 * refuse; an unknown annotation (a typo of an obligation) is refused naming it and its position.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCliAsync, spawnServe, type ServeProcess } from '../helpers/process.js';

const TOKEN = 'cli-apply-admin-token-0123456789';

function teamDir(set: string, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), `tether-apply-${set}-`));
  writeFileSync(join(dir, 'tether.yaml'), `policy_set: ${set}\n`);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('tether apply: each directory owns its policy set; --dry-run asks the broker', () => {
  let s: ServeProcess;
  before(async () => {
    s = await spawnServe(['--data-dir', mkdtempSync(join(tmpdir(), 'tether-apply-data-'))], { TETHER_ADMIN_TOKEN: TOKEN }, 120000);
  });
  after(async () => {
    await s.stop();
  });
  const apply = (dir: string, ...flags: string[]) => runCliAsync(['apply', '-f', dir, '--url', s.url, ...flags], { TETHER_ADMIN_TOKEN: TOKEN });
  const active = async () => {
    const res = await fetch(`${s.url}/admin/v1/policies`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return (await res.json()) as { version: number; files: Record<string, string> };
  };

  const payments = teamDir('payments', { 'pay.cedar': '@id("payments-read") permit (principal, action == Action::"payments:read", resource);' });
  const orders = teamDir('orders', {
    'orders.cedar': '@id("orders-read") permit (principal, action == Action::"orders:read", resource);\n@id("no-secret") forbid (principal, action, resource == Order::"secret");',
  });

  test('two directories applied one after the other each keep their policies; re-applying one changes nothing', async () => {
    const a = await apply(payments);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /policies \(policy set payments\): version 1 activated \(1 policies\)/);
    const b = await apply(orders);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /policy set orders\): version 2 activated \(3 policies\)/);
    assert.deepEqual(Object.keys((await active()).files).sort(), ['orders::orders.cedar', 'payments::pay.cedar']);
    const again = await apply(payments);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /no changes/);
    assert.equal((await active()).version, 2);
  });

  test('a directory replaces only its own files: a team that drops a file removes its own policy, nobody else\'s', async () => {
    writeFileSync(join(payments, 'pay.cedar'), '@id("payments-write") permit (principal, action == Action::"payments:write", resource);');
    const r = await apply(payments);
    assert.equal(r.code, 0, r.stderr);
    const files = (await active()).files;
    assert.match(files['payments::pay.cedar']!, /payments-write/);
    assert.match(files['orders::orders.cedar']!, /no-secret/, "the other team's forbid is kept");
  });

  test('--dry-run changes nothing, says what would change, and exits non-zero on a Cedar syntax error', async () => {
    const before = await active();
    writeFileSync(join(orders, 'extra.cedar'), '@id("orders-list") permit (principal, action == Action::"orders:list", resource);');
    const ok = await apply(orders, '--dry-run');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /would apply: policies \(policy set orders\): version 4 activated/);
    assert.deepEqual(await active(), before, 'a dry-run activates nothing');

    writeFileSync(join(orders, 'extra.cedar'), 'permit (principal, action == Action::"orders:list", resource'); // no closing paren
    const bad = await apply(orders, '--dry-run');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid_request/);
    assert.match(bad.stderr, /extra\.cedar/);
    assert.deepEqual(await active(), before);
    // The real apply refuses the same way.
    const real = await apply(orders);
    assert.notEqual(real.code, 0);
    assert.match(real.stderr, /extra\.cedar/);
  });

  test('an unknown annotation is refused at apply, naming the annotation and its position', async () => {
    writeFileSync(join(orders, 'extra.cedar'), '@id("orders-delete")\n@aproval("required")\npermit (principal, action == Action::"orders:delete", resource);');
    for (const flags of [['--dry-run'], []]) {
      const r = await apply(orders, ...flags);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /orders::extra\.cedar: policy "orders-delete": unknown annotation @aproval: .* \(at orders::extra\.cedar:2:1\)/);
    }
    writeFileSync(join(orders, 'extra.cedar'), '@id("orders-delete")\n  @approval("yes")\npermit (principal, action == Action::"orders:delete", resource);');
    const r = await apply(orders);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /extra\.cedar: policy "orders-delete": @approval must be "required" or a number of approvers from "1" to "5", got "yes" \(at orders::extra\.cedar:2:3\)/);
  });

  test('a policy set cannot take another set\'s policy ids: explicit ids are namespaced by their set', async () => {
    rmSync(join(orders, 'extra.cedar'), { force: true }); // left invalid by the test before
    assert.equal((await apply(orders)).code, 0);
    // payments names a permit after orders' forbid: it neither blocks orders nor borrows its name.
    writeFileSync(join(payments, 'squat.cedar'), '@id("no-secret") permit (principal, action == Action::"payments:list", resource);');
    const r = await apply(payments);
    assert.equal(r.code, 0, r.stderr);
    const res = await fetch(`${s.url}/admin/v1/policies`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const ids = ((await res.json()) as { policies: string[] }).policies;
    assert.ok(ids.includes('payments::no-secret'), JSON.stringify(ids));
    assert.ok(ids.includes('orders::no-secret'), JSON.stringify(ids));
    assert.ok(!ids.includes('no-secret'), 'no bare id can be claimed from a named set');
    // orders still applies (no duplicate id across sets), and an id that spells a set is refused.
    writeFileSync(join(orders, 'spoof.cedar'), '@id("payments::payments-write") forbid (principal, action, resource);');
    const spoof = await apply(orders);
    assert.notEqual(spoof.code, 0);
    assert.match(spoof.stderr, /must not contain "::"/);
    rmSync(join(orders, 'spoof.cedar'));
    rmSync(join(payments, 'squat.cedar'));
    const back = await apply(payments);
    assert.equal(back.code, 0, back.stderr);
  });
});
