/**
 * DPoP `htu` normalisation (RFC 9449 §4.3 step 9: "the htu claim matches the HTTP URI value for the
 * HTTP request in which the JWT was received, ignoring any query and fragment parts"; comparison
 * after syntax- and scheme-based normalisation, RFC 3986 §6.2.2 and §6.2.3).
 *
 * WHATWG URL parsing already lowercases scheme and host, converts IDNs to punycode, drops the
 * scheme's default port, removes dot-segments and gives an empty path as "/". On top we drop
 * userinfo, query and fragment, and normalise percent-encoding (§6.2.2.1 uppercase hex digits,
 * §6.2.2.2 decode unreserved characters), so `/a%7eb` and `/a~b` compare equal.
 *
 * Used by the DPoP verifier and by the resource side, which must rebuild the request URI the client
 * saw (scheme and host as forwarded by the gateway) before calling it.
 */
export function normalizeHtu(input: string): string | undefined {
  // A pure function of the string, asked twice per proof (the proof's htu, the request URI) with the
  // same few values each time: remembered, in a small bounded map (the proof's htu is the client's).
  const known = normalized.get(input);
  if (known !== undefined || normalized.has(input)) return known;
  const out = normalize(input);
  if (input.length <= MAX_REMEMBERED_CHARS) {
    if (normalized.size >= MAX_REMEMBERED) normalized.delete(normalized.keys().next().value as string);
    normalized.set(input, out);
  }
  return out;
}

const MAX_REMEMBERED = 256;
const MAX_REMEMBERED_CHARS = 2048;
const normalized = new Map<string, string | undefined>();

function normalize(input: string): string | undefined {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.host === '') return undefined;
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return /^[A-Za-z0-9\-._~]$/.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}

/** True when both URIs are valid http(s) URIs that normalise to the same value. */
export function htuMatches(proofHtu: string, requestUri: string): boolean {
  const a = normalizeHtu(proofHtu);
  return a !== undefined && a === normalizeHtu(requestUri);
}
