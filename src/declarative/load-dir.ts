import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { IdentityCreate } from '../inventory/identity-schema.js';
import type { ApplyBundle } from './bundle.js';

export class ConfigFileError extends Error {}

/** tether.yaml's top level; later domains validate their sections in detail on the server. */
const TetherYaml = z.strictObject({
  /** The policy set this directory owns: its .cedar files replace that set's, and no other team's. */
  policy_set: z.string().optional(),
  identities: z.array(IdentityCreate).optional(),
  issuers: z.array(z.record(z.string(), z.unknown())).optional(),
  routes: z.array(z.record(z.string(), z.unknown())).optional(),
  mcp_servers: z.array(z.record(z.string(), z.unknown())).optional(),
  connectors: z.array(z.record(z.string(), z.unknown())).optional(),
});

function describe(file: string, issues: z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 10)
    .map((i) => {
      const path = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
      if (i.code === 'unrecognized_keys') return `${file}: ${path ? path + ': ' : ''}unknown field(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      return `${file}: ${path || '(top level)'}: ${i.message}`;
    })
    .join('\n');
}

function walk(dir: string, ext: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || name === 'node_modules') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, ext, out);
    else if (name.endsWith(ext)) out.push(p);
  }
  return out;
}

/** Reads DIR/tether.yaml, DIR/**\/*.cedar, DIR/*.cedarschema and DIR/entities.json. */
export function loadConfigDir(dir: string): ApplyBundle {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigFileError(`${dir}: not a directory`);
  const bundle: ApplyBundle = { identities: [] };
  const yamlPath = join(dir, 'tether.yaml');
  if (existsSync(yamlPath)) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(yamlPath, 'utf8'), { uniqueKeys: true, maxAliasCount: 100 }) ?? {};
    } catch (e) {
      const where = e instanceof YAMLParseError && e.linePos ? ` line ${e.linePos[0].line}` : '';
      throw new ConfigFileError(`${yamlPath}:${where} ${(e as Error).message.split('\n')[0]}`);
    }
    const r = TetherYaml.safeParse(doc);
    if (!r.success) throw new ConfigFileError(describe(yamlPath, r.error.issues));
    bundle.identities = r.data.identities ?? [];
    if (r.data.policy_set !== undefined) bundle.policy_set = r.data.policy_set;
    if (r.data.issuers) bundle.issuers = r.data.issuers;
    if (r.data.routes) bundle.routes = r.data.routes;
    if (r.data.mcp_servers) bundle.mcp_servers = r.data.mcp_servers;
    if (r.data.connectors) bundle.connectors = r.data.connectors;
  }
  const cedarFiles = walk(dir, '.cedar');
  if (cedarFiles.length) {
    bundle.policies = Object.fromEntries(cedarFiles.map((f) => [relative(dir, f), readFileSync(f, 'utf8')]));
  }
  const schemas = readdirSync(dir).filter((f) => f.endsWith('.cedarschema'));
  if (schemas.length > 1) throw new ConfigFileError(`${dir}: more than one .cedarschema file (${schemas.join(', ')})`);
  if (schemas[0]) bundle.schema = readFileSync(join(dir, schemas[0]), 'utf8');
  const entitiesPath = join(dir, 'entities.json');
  if (existsSync(entitiesPath)) {
    let ents: unknown;
    try {
      ents = JSON.parse(readFileSync(entitiesPath, 'utf8'));
    } catch (e) {
      throw new ConfigFileError(`${entitiesPath}: ${(e as Error).message}`);
    }
    if (!Array.isArray(ents)) throw new ConfigFileError(`${entitiesPath}: must be a JSON array of Cedar entities`);
    bundle.entities = ents;
  }
  return bundle;
}
