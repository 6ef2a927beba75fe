import type { z } from 'zod';
import { TetherError } from '../errors.js';
import { idProblem } from '../store/index.js';

/** Parses input at the edge; the error names each offending field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const detail = r.error.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.map(String).join('.');
      if (i.code === 'unrecognized_keys') return `${where}${path ? '.' + path : ''}: unknown field(s) ${i.keys.join(', ')}`;
      return `${where}${path ? '.' + path : ''}: ${i.message}`;
    })
    .join('; ');
  throw new TetherError('invalid_request', detail);
}

/** Ids travel URL-encoded in paths because they contain `/`. */
export function pathId(raw: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new TetherError('invalid_request', 'malformed URL-encoded id');
  }
  const problem = idProblem(id);
  if (problem) throw new TetherError('invalid_request', `the id in the path ${problem}`);
  return id;
}
