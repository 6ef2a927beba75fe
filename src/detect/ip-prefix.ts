/**
 * Network prefix of an address, for the drift rule: a workload that moves inside its subnet (a pod
 * rescheduled, a NAT pool) is the same network; one that moves to another /24 (or /64) is not.
 * Pure string/number work, no allocation beyond the result, no DNS.
 */

/** `v4:<masked>/<bits>` or `v6:<hextets>/<bits>`; an unparsable value is returned as itself. */
export function ipPrefix(ip: string, ipv4Bits = 24, ipv6Bits = 64): string {
  const v4 = parseIpv4(ip);
  if (v4 !== undefined) return `v4:${maskV4(v4, ipv4Bits)}/${ipv4Bits}`;
  const v6 = parseIpv6(ip);
  if (v6 === undefined) return ip;
  // IPv4-mapped (::ffff:a.b.c.d) is an IPv4 peer seen through a dual-stack socket.
  if (v6[0] === 0 && v6[1] === 0 && v6[2] === 0 && v6[3] === 0 && v6[4] === 0 && v6[5] === 0xffff) {
    return `v4:${maskV4(((v6[6]! << 16) | v6[7]!) >>> 0, ipv4Bits)}/${ipv4Bits}`;
  }
  let out = 'v6:';
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, ipv6Bits - i * 16));
    const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
    out += (v6[i]! & mask).toString(16) + (i < 7 ? ':' : '');
  }
  return `${out}/${ipv6Bits}`;
}

function maskV4(n: number, bits: number): number {
  if (bits <= 0) return 0;
  return (n & (bits >= 32 ? 0xffffffff : ~(0xffffffff >>> bits))) >>> 0;
}

function parseIpv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n >>> 0;
}

function parseIpv6(input: string): number[] | undefined {
  let s = input;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%'); // fe80::1%eth0: the zone names an interface, not a network
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(':')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const words: number[] = [];
  const push = (groups: string[]): boolean => {
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (g.includes('.') && i === groups.length - 1) {
        const v4 = parseIpv4(g);
        if (v4 === undefined) return false;
        words.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-f]{1,4}$/i.test(g)) words.push(parseInt(g, 16));
      else return false;
    }
    return true;
  };
  if (!push(head)) return undefined;
  const headLen = words.length;
  if (!push(tail)) return undefined;
  if (halves.length === 1) return words.length === 8 ? words : undefined;
  const fill = 8 - words.length;
  if (fill < 1) return undefined;
  words.splice(headLen, 0, ...new Array<number>(fill).fill(0));
  return words;
}
