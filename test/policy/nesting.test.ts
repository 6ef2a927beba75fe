/**
 * cedar-wasm recurses without bound: a policy nested deeply enough traps its parser or evaluator
 * ("memory access out of bounds") and leaves the wasm instance broken, so every later decision of
 * the process would throw. Such text is refused (400) before Cedar sees it, by apply and by dry-run,
 * and the broker keeps deciding. Real broker over HTTP, embedded store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { applyOk, evaluate } from '../pdp/http.js';

const permitWhen = (cond: string) => `permit (principal, action == Action::"read", resource) when { ${cond} };`;
const nestedIfs = (n: number) => {
  let body = 'true';
  for (let i = 0; i < n; i++) body = `if context.risk < 90 then ${body} else false`;
  return body;
};
const cases: Array<[string, string, RegExp]> = [
  ['200 nested brackets (traps the parser)', permitWhen(`${'['.repeat(200)}1${']'.repeat(200)} == []`), /brackets nest more than 32 deep \(line 1\)/],
  ['130 nested braces', permitWhen(`${'{a: '.repeat(130)}1${'}'.repeat(130)} == {}`), /brackets nest more than 32 deep/],
  ['500 nested ifs (parse, then trap the evaluator)', permitWhen(nestedIfs(500)), /more than 128 if expressions/],
  ['a chain of 5,000 additions (traps the parser)', permitWhen(`${Array(5000).fill('1').join(' + ')} > 0`), /more than 512 operators/],
  ['brackets after a `//` comment ended by a lone carriage return (code to Cedar)', `permit (principal, action == Action::"read", resource) when { // note\r${'['.repeat(300)}1${']'.repeat(300)} == [] };`, /brackets nest more than 32 deep/],
  ['300 chained member reads (within the text bounds, deep as an expression)', permitWhen(`context${'.a'.repeat(300)} == 1`), /nests too deeply/],
];

describe('policy text nested beyond what cedar-wasm survives is refused; the broker keeps deciding', () => {
  let b: RunningBroker;
  const ask = () => evaluate(b, { subject: { type: 'Service', id: 'svc' }, action: { name: 'read' }, resource: { type: 'Doc', id: '1' } });
  before(async () => {
    b = await startBroker('pglite');
    await applyOk(b, { policies: { 'ok.cedar': permitWhen('context.risk < 90') } });
  });
  after(async () => {
    await b?.stop();
  });

  for (const [name, text, message] of cases) {
    test(name, async () => {
      const applied = await b.admin('POST', '/admin/v1/apply', { identities: [], policies: { 'deep.cedar': text } });
      assert.equal(applied.status, 400, JSON.stringify(applied.body).slice(0, 300));
      assert.match(applied.body.error_description, message);
      assert.match(applied.body.error_description, /deep\.cedar/);
      const dry = await b.admin('POST', '/admin/v1/policies/dry-run', { files: { 'deep.cedar': text } });
      assert.equal(dry.status, 400, JSON.stringify(dry.body).slice(0, 300));
      // Cedar was never handed the text: decisions still work.
      const r = await ask();
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.decision, true);
    });
  }

  test('a schema chaining 10,000 common types (flat text, nested type) is refused; the broker keeps deciding', async () => {
    let schema = 'entity Service; entity Doc;\n';
    for (let i = 0; i < 10000; i++) schema += `type T${i} = {a: T${i + 1}};\n`;
    schema += 'type T10000 = Long;\naction read appliesTo { principal: Service, resource: Doc, context: {t: T0} };\n';
    const files = { 'deep.cedar': permitWhen('context.t == context.t') };
    const dry = await b.admin('POST', '/admin/v1/policies/dry-run', { files, schema });
    assert.equal(dry.status, 400, JSON.stringify(dry.body).slice(0, 300));
    assert.match(dry.body.error_description, /more than 1000 common types/);
    const r = await ask();
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.decision, true);
  });

  test('ordinary nesting is accepted: a dozen brackets and ifs, an allow-list of 100 alternatives', async () => {
    const allowList = Array.from({ length: 100 }, (_, i) => `resource == Doc::"${i + 1}"`).join(' || ');
    const cond = `${'('.repeat(12)}${nestedIfs(12)}${')'.repeat(12)} && [1, [2, [3]]].contains(1) && !(context has a.a.a) && context.risk < 90 && (${allowList})`;
    await applyOk(b, { policies: { 'ok.cedar': permitWhen(cond) } });
    assert.equal((await ask()).body.decision, true);
  });
});
