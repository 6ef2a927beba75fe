/**
 * Bounds on how deeply policy and schema text may nest, checked before cedar-wasm sees it.
 *
 * cedar-wasm parses and evaluates recursively on the wasm stack and does not bound its depth: about
 * 120 nested braces, 200 nested brackets or parentheses, or 1,000 nested `if`s crash the parser, and
 * a policy that parses but nests deeply (500 `if`s, 1,000 chained `+` or `.attr`) crashes the
 * evaluator, with "memory access out of bounds". After that trap the wasm instance is broken: every
 * later Cedar call in the process throws, so one bad policy (applied, or only dry-run) would deny
 * every decision of the instance. Human-written policies nest a few levels; these bounds leave
 * ample room and stay far below the crash.
 */
import { invalidRequest } from '../errors.js';

/** Brackets, parentheses and braces open at once in one text. */
export const MAX_BRACKET_DEPTH = 32;
/** `if` expressions in one policy (nested or not: the parser recurses on `else if` chains). */
export const MAX_IF_EXPRESSIONS = 128;
/**
 * Operators in one policy (each run of `+ - * < > = ! & | .` counts once): a chain of 5,000 `&&`,
 * `+` or `.attr` crashes the parser.
 */
export const MAX_OPERATORS = 512;
/** Depth of a policy's JSON form (two levels per operator, roughly): a chain of 100 `||` alternatives fits, while 400 chained `+` trapped the evaluator. */
export const MAX_POLICY_JSON_DEPTH = 400;

/** Line (1-based) of offset `at` in `text`. */
const lineOf = (text: string, at: number): number => text.slice(0, at).split('\n').length;

const OPERATOR_CHARS = '+-*<>=!&|.';

/**
 * Refuses (400) a text whose brackets nest deeper than MAX_BRACKET_DEPTH, or with a policy (text up
 * to a `;` outside brackets) holding more than MAX_IF_EXPRESSIONS `if`s or MAX_OPERATORS operators.
 * String literals ("…", with backslash escapes) and `//` comments are skipped, as Cedar's lexer
 * skips them.
 */
export function refuseDeepText(text: string, what: string): void {
  let depth = 0;
  let ifs = 0;
  let operators = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ';' && depth === 0) {
      ifs = 0;
      operators = 0;
      continue;
    }
    if (OPERATOR_CHARS.includes(c)) {
      if (++operators > MAX_OPERATORS) throw invalidRequest(`${what}: a policy with more than ${MAX_OPERATORS} operators (line ${lineOf(text, i)})`);
      while (i + 1 < text.length && OPERATOR_CHARS.includes(text[i + 1]!)) i++;
      continue;
    }
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      // Cedar's lexer ends a comment at a carriage return as well as a line feed: text after a lone
      // `\r` is code to Cedar, so it must be counted here too.
      while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') {
      if (++depth > MAX_BRACKET_DEPTH) throw invalidRequest(`${what}: brackets nest more than ${MAX_BRACKET_DEPTH} deep (line ${lineOf(text, i)})`);
    } else if (c === ')' || c === ']' || c === '}') {
      depth = Math.max(0, depth - 1);
    } else if (c === 'i' && text[i + 1] === 'f' && !/[\w]/.test(text[i - 1] ?? ' ') && !/[\w]/.test(text[i + 2] ?? ' ')) {
      if (++ifs > MAX_IF_EXPRESSIONS) throw invalidRequest(`${what}: more than ${MAX_IF_EXPRESSIONS} if expressions (line ${lineOf(text, i)})`);
    }
  }
}

/** Refuses (400) a policy whose JSON form nests deeper than MAX_POLICY_JSON_DEPTH. */
export function refuseDeepPolicyJson(json: unknown, what: string): void {
  // Iterative: the form being measured may be deeper than is safe to recurse over.
  const stack: Array<{ v: unknown; d: number }> = [{ v: json, d: 0 }];
  while (stack.length > 0) {
    const { v, d } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > MAX_POLICY_JSON_DEPTH) throw invalidRequest(`${what}: the expression nests too deeply (more than about ${MAX_POLICY_JSON_DEPTH / 2} operators inside one another)`);
    for (const x of Object.values(v)) stack.push({ v: x, d: d + 1 });
  }
}

/**
 * Common types in one schema. A common type may name another, so a chain of them nests a type as
 * deeply as it has links while the text stays flat: 10,000 linked record types trapped cedar-wasm's
 * validator and 6,000 overflowed the stack, while 3,000 validated. Real schemas declare a few dozen.
 */
export const MAX_COMMON_TYPES = 1000;

/** Refuses (400) a schema (Cedar or JSON syntax) declaring more than MAX_COMMON_TYPES common types. */
export function refuseManyCommonTypes(schema: string, what: string): void {
  let count = 0;
  const trimmed = schema.trimStart();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      return; // Cedar reports the syntax error; nothing nests.
    }
    if (parsed === null || typeof parsed !== 'object') return;
    for (const ns of Object.values(parsed)) {
      const common = (ns as { commonTypes?: unknown } | null)?.commonTypes;
      if (common !== null && typeof common === 'object') count += Object.keys(common).length;
    }
  } else {
    // The `type` keyword outside string literals and comments, as in refuseDeepText.
    for (let i = 0; i < schema.length; i++) {
      const c = schema[i]!;
      if (c === '"') {
        for (i++; i < schema.length && schema[i] !== '"'; i++) if (schema[i] === '\\') i++;
      } else if (c === '/' && schema[i + 1] === '/') {
        while (i < schema.length && schema[i] !== '\n' && schema[i] !== '\r') i++;
      } else if (c === 't' && schema.startsWith('type', i) && !/\w/.test(schema[i - 1] ?? ' ') && !/\w/.test(schema[i + 4] ?? ' ')) {
        count++;
      }
    }
  }
  if (count > MAX_COMMON_TYPES) throw invalidRequest(`${what}: more than ${MAX_COMMON_TYPES} common types`);
}
