/**
 * The Cedar schema fragment for an MCP server's tools: Cedar's own parser accepts it, Tether's policy
 * compiler validates real gateway policies against it (strict mode), and the JSON Schema → Cedar
 * mapping holds (required vs optional, Long, Bool, Set, records; numbers and unions left out, so a
 * policy reading them does not validate).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { cedarSchemaFragment, type McpToolDescription } from '../../src/mcp/schema-fragment.js';
import { compilePolicySet } from '../../src/policy/index.js';

const TOOLS: McpToolDescription[] = [
  { name: 'read_file', description: 'Read a file', inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } },
  {
    name: 'write_file',
    description: 'Write a file\n*/ // tries to end a comment',
    inputSchema: {
      type: 'object',
      properties: {
        path: { type: 'string' },
        content: { type: 'string' },
        mode: { type: 'integer' },
        append: { type: 'boolean' },
        tags: { type: 'array', items: { type: 'string' } },
        owner: { type: 'object', properties: { team: { type: 'string' }, uid: { type: 'integer' } }, required: ['team'] },
        ratio: { type: 'number' },
        note: { type: ['string', 'null'] },
        either: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
        'content-type': { type: 'string' },
        in: { type: 'boolean' },
        extra: { type: 'object' },
      },
      required: ['path', 'content'],
    },
  },
  { name: 'admin-reset', inputSchema: { type: 'object' } },
  { name: 'count', inputSchema: { type: 'object', properties: { path: { type: 'integer' } } } },
];

const schemaWith = (fragment: string) => `entity Identity;\n${fragment}`;

test("Cedar's parser accepts the fragment; each tool's record mirrors its inputSchema", () => {
  const fragment = cedarSchemaFragment({ server: 'files', tools: TOOLS });
  const parsed = cedar.checkParseSchema(schemaWith(fragment));
  assert.equal(parsed.type, 'success', JSON.stringify(parsed));
  const json = cedar.schemaToJson(schemaWith(fragment));
  assert.equal(json.type, 'success', JSON.stringify(json));
  const ns = (json as { json: Record<string, { commonTypes: Record<string, { attributes: Record<string, { type: string; required?: boolean; element?: { type: string }; name?: string }> }>; entityTypes: Record<string, { memberOfTypes?: string[] }>; actions: Record<string, unknown> }> }).json[''];
  assert.ok(ns);
  assert.deepEqual(ns.entityTypes['Tool']?.memberOfTypes, ['McpServer']);
  assert.ok(ns.actions['tools/call']);
  const write = ns.commonTypes['write_file_arguments']!.attributes;
  assert.equal(write['path']!.type, 'EntityOrCommon');
  assert.equal(write['path']!.name, 'String');
  assert.notEqual(write['path']!.required, false, 'required stays required');
  assert.equal(write['mode']!.required, false, 'not in required: optional');
  assert.equal(write['mode']!.name, 'Long');
  assert.equal(write['append']!.name, 'Bool');
  assert.equal(write['tags']!.type, 'Set');
  assert.equal(write['owner']!.type, 'Record');
  assert.equal(write['note']!.required, false);
  assert.ok(write['content-type'], 'a name that is not an identifier is quoted');
  assert.ok(write['in'], 'a reserved word is quoted');
  for (const left of ['ratio', 'either', 'extra']) assert.equal(write[left], undefined, `${left} has no Cedar type`);
  assert.match(fragment, /"ratio" left out: number: a JSON number may have a fraction and Cedar has no fractions/);
  assert.match(fragment, /"either" left out: anyOf \(Cedar has no union types\)/);
  assert.deepEqual(Object.keys(ns.commonTypes['admin_reset_arguments']!.attributes), []);
  // The merged arguments: every attribute optional; `path` (String in two tools, Long in one) is left out.
  const merged = ns.commonTypes['McpArguments']!.attributes;
  assert.ok(Object.values(merged).every((a) => a.required === false));
  assert.equal(merged['path'], undefined);
  assert.match(fragment, /"path" left out: the tools give it different types/);
  assert.doesNotMatch(fragment, /\n\*\//, 'a description cannot break out of its comment line');
});

test('gateway policies validate against it in strict mode; reading an argument that has no Cedar type does not', () => {
  const tools = TOOLS.filter((t) => t.name !== 'count');
  const schema = schemaWith(cedarSchemaFragment({ server: 'files', tools }));
  const ok = `
@id("read-public")
permit (principal == Identity::"ci/acme/api", action == Action::"tools/call", resource == Tool::"files/read_file")
when { context.phase == "request" && context.arguments has path && context.arguments.path like "/public/*" && context.token.actors.isEmpty() };
@id("writes-stay-small")
forbid (principal, action == Action::"tools/call", resource in McpServer::"files")
when { context.arguments has mode && context.arguments.mode > 420 && context.arguments has owner && context.arguments.owner.team == "ops" };
`;
  assert.doesNotThrow(() => compilePolicySet({ files: { 'mcp.cedar': ok }, schema }));
  const bad = `
@id("ratio")
permit (principal, action == Action::"tools/call", resource) when { context.arguments.ratio == 1 };
`;
  assert.throws(() => compilePolicySet({ files: { 'mcp.cedar': bad }, schema }), /does not validate against the schema/);
  // An optional argument is read after `has` (strict validation refuses the bare read).
  const unguarded = `
@id("unguarded")
permit (principal, action == Action::"tools/call", resource) when { context.arguments.mode == 1 };
`;
  assert.throws(() => compilePolicySet({ files: { 'mcp.cedar': unguarded }, schema }), /does not validate against the schema/);
});

test('no tools and odd names still give a fragment Cedar parses', () => {
  for (const tools of [[], [{ name: '9lives' }, { name: 'String' }, { name: 'a.b', inputSchema: { type: 'object', properties: { x: { type: 'array' } } } }, { name: 'a_b' }]] as McpToolDescription[][]) {
    const parsed = cedar.checkParseSchema(schemaWith(cedarSchemaFragment({ server: 'odd "server"', tools })));
    assert.equal(parsed.type, 'success', JSON.stringify(parsed));
  }
});
