/**
 * A Cedar schema fragment (Cedar schema text) for one MCP server's tools, from its `tools/list`
 * answer (MCP 2025-06-18 "Tools": each tool's `inputSchema` is a JSON Schema object). It declares
 * what the gateway decides on (README "MCP gateway"): entity types `McpServer` and `Tool in
 * [McpServer]`, and the shared action `tools/call` whose context carries Tether's own members
 * (pdp/own-context.ts) and the call's `arguments`.
 *
 * Cedar has no sum types, so the one action cannot give each tool its own `arguments` type: the
 * action's `arguments` is every tool's attributes merged, each optional (a policy tests `has` before
 * reading one), and each tool's exact argument record is declared as a common type beside it.
 * JSON Schema → Cedar: string → String, integer → Long, boolean → Bool, object with properties →
 * record, array → Set; `required` members are required, the rest optional (`?`). What has no Cedar
 * type (fractional numbers, null, free-form objects, unions, references) is left out with a comment
 * saying why: a policy cannot read it. `Identity` (the principal) is the operator's schema's.
 *
 * cedar-for-agents' generator (@cedar-policy/mcp-schema-generator-wasm) models a server differently
 * (a namespace per server, an action per tool with the arguments as the context), which is not the
 * request Tether's gateway makes, so it cannot be used to describe it.
 */

export interface McpToolDescription {
  name: string;
  description?: string | undefined;
  inputSchema?: unknown;
}

type JsonSchema = Record<string, unknown>;

/** A Cedar type expression, or why the JSON Schema has none. */
type Mapped = { type: string } | { skip: string };

const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has', 'principal', 'action', 'resource', 'context']);
const BUILTIN_TYPES = new Set(['String', 'Long', 'Bool', 'Set', 'Record', 'Entity', 'Extension', 'Boolean', 'ipaddr', 'decimal', 'datetime', 'duration']);

/** Marks a merged attribute that two tools type differently. */
const CONFLICT = 'x-tether-conflict';

const isObject = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Identifiers stay bare; anything else is a quoted string (Cedar schema grammar: `Name | STR`). */
function attrName(n: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(n) && !RESERVED.has(n) && !n.startsWith('__cedar') ? n : JSON.stringify(n);
}

/** A comment line never lets a name or description end the comment early. */
const oneLine = (s: string) => s.replace(/[\r\n\u2028\u2029]+/g, ' ').slice(0, 200);

function typeOf(s: unknown, indent: string, depth: number): Mapped {
  if (!isObject(s)) return { skip: 'no schema' };
  if (depth > 16) return { skip: 'nested too deeply' };
  if (s[CONFLICT] === true) return { skip: 'the tools give it different types' };
  if (s['$ref'] !== undefined) return { skip: 'a $ref (not followed)' };
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) if (s[k] !== undefined) return { skip: `${k} (Cedar has no union types)` };
  let t = s['type'];
  if (Array.isArray(t)) {
    // ["string", "null"]: null cannot be a Cedar value, so the member is simply optional.
    const notNull = t.filter((x) => x !== 'null');
    if (notNull.length !== 1) return { skip: `type ${JSON.stringify(t)} (Cedar has no union types)` };
    t = notNull[0];
  }
  if (t === undefined && isObject(s['properties'])) t = 'object';
  switch (t) {
    case 'string':
      return { type: 'String' };
    case 'integer':
      return { type: 'Long' };
    case 'boolean':
      return { type: 'Bool' };
    case 'number':
      return { skip: 'number: a JSON number may have a fraction and Cedar has no fractions (Tether refuses such a call as invalid params); declare it "integer" upstream to make it a Long' };
    case 'null':
      return { skip: 'null cannot be a Cedar value' };
    case 'array': {
      const item = typeOf(s['items'], indent, depth + 1);
      return 'type' in item ? { type: `Set<${item.type}>` } : { skip: `array of ${item.skip}` };
    }
    case 'object': {
      if (!isObject(s['properties'])) return { skip: 'an object without declared properties (Cedar records have fixed attributes)' };
      return { type: recordOf(s, indent, depth + 1) };
    }
    default:
      return { skip: t === undefined ? 'no type' : `type ${JSON.stringify(t)}` };
  }
}

/** `{ a: T, b?: U }`, one attribute per line, with a comment for each property that has no Cedar type. */
function recordOf(s: JsonSchema, indent: string, depth: number, allOptional = false): string {
  const props = isObject(s['properties']) ? s['properties'] : {};
  const required = new Set(Array.isArray(s['required']) ? s['required'].filter((x): x is string => typeof x === 'string') : []);
  const inner = indent + '  ';
  const lines: string[] = [];
  const attrs: string[] = [];
  for (const [name, sub] of Object.entries(props)) {
    const m = typeOf(sub, inner, depth);
    if ('skip' in m) {
      lines.push(`${inner}// ${oneLine(JSON.stringify(name))} left out: ${oneLine(m.skip)}`);
      continue;
    }
    attrs.push(`${inner}${attrName(name)}${required.has(name) && !allOptional ? '' : '?'}: ${m.type}`);
  }
  if (attrs.length === 0 && lines.length === 0) return '{}';
  // Cedar separates attributes with commas; a trailing comment follows the last one.
  return `{\n${[...attrs.map((a, i) => (i < attrs.length - 1 ? `${a},` : a)), ...lines].join('\n')}\n${indent}}`;
}

/** A common-type name from a tool name: an identifier that is not a built-in type, unique in the fragment. */
function typeNameFor(tool: string, taken: Set<string>): string {
  const base = `${tool.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=[0-9])/, '_')}_arguments`;
  let name = BUILTIN_TYPES.has(base) || RESERVED.has(base) ? `Tool_${base}` : base;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

/** The attributes of every tool, each optional; a name two tools type differently is left out. */
function mergedArguments(tools: readonly McpToolDescription[]): JsonSchema {
  const merged: Record<string, unknown> = {};
  const conflicting = new Set<string>();
  const seen = new Map<string, string>();
  for (const t of tools) {
    const props = isObject(t.inputSchema) && isObject(t.inputSchema['properties']) ? t.inputSchema['properties'] : {};
    for (const [name, sub] of Object.entries(props)) {
      const m = typeOf(sub, '', 0);
      const key = 'type' in m ? m.type : `skip:${m.skip}`;
      const before = seen.get(name);
      if (before === undefined) {
        seen.set(name, key);
        merged[name] = sub;
      } else if (before !== key) conflicting.add(name);
    }
  }
  for (const name of conflicting) merged[name] = { [CONFLICT]: true };
  return { type: 'object', properties: merged };
}

export interface SchemaFragmentInput {
  server: string;
  tools: readonly McpToolDescription[];
}

export function cedarSchemaFragment(input: SchemaFragmentInput): string {
  const taken = new Set<string>(['McpArguments']);
  const out: string[] = [
    `// Cedar schema fragment for the MCP server ${oneLine(JSON.stringify(input.server))} behind Tether's gateway (/mcp/${oneLine(input.server)}),`,
    '// generated by `tether mcp schema` from its tools/list answer. Merge it into your schema (which declares',
    '// the principal type Identity). Every call is decided as Action::"tools/call" on',
    `// Tool::"${oneLine(input.server)}/<tool>" (parent McpServer::"${oneLine(input.server)}") with the call's arguments as context.arguments.`,
    'entity McpServer;',
    'entity Tool in [McpServer];',
    '',
  ];
  for (const t of [...input.tools].sort((a, b) => a.name.localeCompare(b.name))) {
    const name = typeNameFor(t.name, taken);
    out.push(`// Tool::"${oneLine(`${input.server}/${t.name}`)}"${t.description ? `: ${oneLine(t.description)}` : ''}`);
    out.push(`type ${name} = ${isObject(t.inputSchema) ? recordOf(t.inputSchema, '', 0) : '{}'};`);
  }
  out.push(
    '',
    '// Cedar has no union types: the action sees every tool\'s arguments merged, each optional',
    '// (test `context.arguments has path` before reading it); the exact record of each tool is above.',
    `type McpArguments = ${recordOf(mergedArguments(input.tools), '', 0, true)};`,
    '',
    "// Tether's own context members (always set, so no `has` needed), then the arguments.",
    'action "tools/call" appliesTo {',
    '  principal: [Identity],',
    '  resource: [Tool],',
    '  context: {',
    '    phase: String,',
    '    risk: Long,',
    '    now: { epoch: Long, hour: Long, weekday: Long },',
    '    environment: String,',
    '    task: { id: String, purpose: String, ticket: String },',
    '    break_glass: Bool,',
    '    issuer: String,',
    '    token: { scopes: Set<String>, actors: Set<String> },',
    '    request: { method: String, path: String, source_ip: String },',
    '    arguments: McpArguments',
    '  }',
    '};',
    '',
  );
  return out.join('\n');
}
