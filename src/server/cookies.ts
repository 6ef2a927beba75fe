/** Reads one cookie from a `Cookie` header (RFC 6265 §5.4: `name=value` pairs joined by "; "). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** A `Set-Cookie` value for the console session (RFC 6265 §4.1; SameSite per RFC 6265bis). */
export function sessionCookie(name: string, value: string, o: { maxAgeSeconds: number; secure: boolean }): string {
  return [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${o.maxAgeSeconds}`, ...(o.secure ? ['Secure'] : [])].join('; ');
}
