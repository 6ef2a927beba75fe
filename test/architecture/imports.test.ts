/**
 * The import rules of the source tree, checked over the TypeScript sources themselves (no tool, no
 * dependency): domain modules never import the HTTP edge (fastify, `src/server/`, `src/http/`, a
 * domain's routes), and no module imports itself back through others (no cycles). The edge is
 * `src/server/` (composition root, error rendering), `src/http/` (edge helpers), `src/cli/`, and each
 * domain's HTTP files (`routes.ts`, `*-routes.ts`, `ext-authz.ts`) and its wiring of them (`wire.ts`).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/repo.js';

const SRC = join(REPO_ROOT, 'src');

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Module specifiers of static imports and re-exports, and dynamic imports with a literal. */
const IMPORT = /(?:^|[\s;])(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) out.push((m[1] ?? m[2])!);
  return out;
}

const rel = (f: string) => relative(SRC, f).split('\\').join('/');
const isEdge = (r: string) =>
  /^(server|http|cli)\//.test(r) || /(^|\/|-)routes\.ts$/.test(r) || r.endsWith('/ext-authz.ts') || r.endsWith('/wire.ts');

/** Resolves a relative `.js` specifier to its `.ts` source; bare specifiers stay as they are. */
function target(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return rel(resolve(dirname(from), spec.replace(/\.js$/, '.ts')));
}

const files = walk(SRC);
const graph = new Map<string, string[]>(files.map((f) => [rel(f), importsOf(f).map((s) => target(f, s))]));

test('the import scanner sees the tree (sanity: known edges are found)', () => {
  assert.ok(graph.size > 100, `only ${graph.size} files`);
  assert.ok(graph.get('server/app.ts')!.includes('pdp/index.ts'));
  assert.ok(graph.get('pdp/decide.ts')!.includes('policy/index.ts'));
});

test('domain modules never import HTTP or server modules', () => {
  const bad: string[] = [];
  for (const [from, deps] of graph) {
    if (isEdge(from)) continue;
    for (const d of deps) {
      if (d === 'fastify' || d.startsWith('fastify/') || d.startsWith('@fastify/') || (graph.has(d) && isEdge(d))) bad.push(`${from} → ${d}`);
    }
  }
  assert.deepEqual(bad, [], `domain code imports the HTTP edge:\n${bad.join('\n')}`);
});

test('there are no import cycles', () => {
  const state = new Map<string, 1 | 2>(); // 1 on the stack, 2 done
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (n: string) => {
    state.set(n, 1);
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (!graph.has(d)) continue;
      const s = state.get(d);
      if (s === 1) cycles.push([...stack.slice(stack.indexOf(d)), d].join(' → '));
      else if (s === undefined) visit(d);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join('\n')}`);
});
