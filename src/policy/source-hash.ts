/**
 * Identity of an apply: SHA-256 over the canonical sources, so two applies of the same files, schema
 * and entities give the same hash whatever the key order. It names content; it is not a signature.
 */
import { createHash } from 'node:crypto';
import type { CompileInput } from './types.js';

export function sourceHashOf(input: CompileInput): string {
  const files = Object.keys(input.files)
    .sort()
    .map((name) => [name, input.files[name] ?? '']);
  const canonical = stableStringify({
    files,
    schema: input.schema ?? null,
    entities: input.entities ?? [],
  });
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** JSON with object keys sorted (code-unit order, as RFC 8785 does); enough for these inputs. */
function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const body = Object.keys(obj)
      .sort()
      .filter((k) => obj[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`);
    return `{${body.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
