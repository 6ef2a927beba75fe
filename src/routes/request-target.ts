/**
 * The original request-target, checked before route matching (RFC 9112 §3.2 origin-form).
 *
 * Route rules and the upstream must agree on which resource a target names. Servers disagree on
 * `;` path parameters (Tomcat/Spring strip them), on `%2F` and `\` (some decode them into
 * separators), on dot segments (RFC 3986 §5.2.4 removes them, others do not), on double encoding
 * and on fragments, so a target using any of them could be matched by Tether as one resource and
 * served by the upstream as another. Those targets are refused (the caller answers 403: fail
 * closed); what every server reads the same way is normalised (RFC 3986 §6.2.2: percent-encoded
 * unreserved characters decoded, hex digits uppercased).
 */
export type TargetRefusal =
  | 'not_origin_form'
  | 'too_long'
  | 'fragment'
  | 'control_character'
  | 'illegal_character'
  | 'bad_percent_encoding'
  | 'path_parameter'
  | 'encoded_separator'
  | 'dot_segment'
  | 'empty_segment'
  | 'double_encoding'
  | 'method_override';

export type RequestTarget = { ok: true; path: string; query: string } | { ok: false; refusal: TargetRefusal; description: string };

const MAX_TARGET = 4096;
/** RFC 3986 §3.3 pchar without `;` (refused separately) plus `/`; `%` is checked as pct-encoded. */
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,=:@/%]*$/;
/** RFC 3986 §3.4 query: pchar / "/" / "?". */
const QUERY_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

const refuse = (refusal: TargetRefusal, description: string): RequestTarget => ({ ok: false, refusal, description });

export function parseRequestTarget(raw: string): RequestTarget {
  if (raw.length > MAX_TARGET) return refuse('too_long', `the request target is longer than ${MAX_TARGET} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (/[\u0000-\u001f\u007f]/.test(raw)) return refuse('control_character', 'the request target contains a control character');
  if (raw.includes('#')) return refuse('fragment', 'the request target contains a fragment (#)');
  if (!raw.startsWith('/') || raw.startsWith('//')) return refuse('not_origin_form', 'the request target must be an absolute path (origin-form)');
  const q = raw.indexOf('?');
  const rawPath = q === -1 ? raw : raw.slice(0, q);
  const query = q === -1 ? '' : raw.slice(q + 1);
  if (rawPath.includes(';')) return refuse('path_parameter', 'the path contains a ";" parameter');
  if (rawPath.includes('\\')) return refuse('encoded_separator', 'the path contains a backslash');
  if (!PATH_CHARS.test(rawPath) || !QUERY_CHARS.test(query)) return refuse('illegal_character', 'the request target contains a character RFC 3986 does not allow there');
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) return refuse('bad_percent_encoding', 'the request target has a malformed percent-encoding');
  // Rails, Laravel, Symfony and Express's method-override read the method from `_method` in the
  // query: the upstream would run another method than the one authorized (the shipped nginx config
  // clears the override headers for the same reason).
  if (overridesMethod(query)) return refuse('method_override', 'the query overrides the method (_method)');

  const segments = rawPath.slice(1).split('/');
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    // A trailing slash is common and unambiguous; an empty segment inside the path is not (merged by some servers).
    if (seg === '' && i < segments.length - 1) return refuse('empty_segment', 'the path contains an empty segment (//)');
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      return refuse('bad_percent_encoding', 'the path does not decode to UTF-8');
    }
    // eslint-disable-next-line no-control-regex -- encoded control characters are refused like raw ones
    if (/[\u0000-\u001f\u007f]/.test(decoded)) return refuse('control_character', 'the path encodes a control character');
    if (/[/\\]/.test(decoded)) return refuse('encoded_separator', 'the path encodes "/" or "\\" (%2F, %5C)');
    if (decoded.includes(';')) return refuse('path_parameter', 'the path encodes ";" (%3B)');
    if (decoded === '.' || decoded === '..') return refuse('dot_segment', 'the path contains a "." or ".." segment');
    // What a second decoder would turn into something else (e.g. %252F → %2F → /).
    if (/%[0-9A-Fa-f]{2}/.test(decoded)) return refuse('double_encoding', 'the path is percent-encoded twice');
    out.push(seg.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
      const ch = String.fromCharCode(parseInt(hex, 16));
      return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
    }));
  }
  return { ok: true, path: `/${out.join('/')}`, query };
}

/**
 * Whether a query parameter is named `_method` as an upstream framework reads names, not as they are
 * spelled: the name is form-decoded (WHATWG URL "application/x-www-form-urlencoded" parsing: `+` is
 * a space, escapes decoded, as Node's querystring under Express's method-override does, so
 * `_%6Dethod` is `_method`), then as PHP registers it for Symfony and Laravel (leading spaces
 * dropped, ` `, `.` and an unmatched `[` turned into `_`, a NUL ending it: `.method`, `+method`,
 * `%5Bmethod` and `_method%00x` are all `_method`). Pairs are split on `&` and `;` (older Rack and
 * some CGI parsers split on both). Any name that becomes `_method` or starts with it (`_method[]`) is
 * refused: telling which framework sits upstream is not Tether's to guess.
 */
function overridesMethod(query: string): boolean {
  if (query === '') return false;
  for (const pair of query.split(/[&;]/)) {
    const eq = pair.indexOf('=');
    const raw = (eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, ' ');
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      // Not UTF-8 once decoded: decode byte-wise (latin1), which keeps every ASCII letter a parser could see.
      name = raw.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
    const php = name.split('\u0000')[0]!.replace(/^ +/, '').replace(/[ .[]/g, '_');
    if (php.toLowerCase().startsWith('_method') || name.toLowerCase().startsWith('_method')) return true;
  }
  return false;
}
