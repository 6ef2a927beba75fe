/**
 * RFC 8785 JSON Canonicalization Scheme. Object members sorted by UTF-16 code units (what
 * Array.prototype.sort does for strings), numbers and strings serialised as ECMAScript's
 * JSON.stringify does (RFC 8785 §3.2.2 adopts exactly that), no whitespace.
 * Undefined members are dropped like JSON.stringify does; non-finite numbers are refused.
 *
 * Built by appending to one string rather than mapping and joining arrays: every audit event is
 * canonicalised once, on the request path (DESIGN.md "Performance budget").
 */
/** RFC 8785 §3.2.3 order: UTF-16 code units, as `<` compares strings (the default sort's order, without its ToString per comparison). */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const v: unknown = value[i];
          out += v === undefined ? 'null' : canonicalJson(v);
        }
        return out + ']';
      }
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort(byCodeUnits);
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += JSON.stringify(k) + ':' + canonicalJson(v);
      }
      return out + '}';
    }
    default:
      throw new TypeError(`canonicalJson: cannot encode ${typeof value}`);
  }
}
