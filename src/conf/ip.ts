/**
 * IP address text <-> bytes, with the exact rules of the two programs wgts imitates:
 * - glibc's inet_pton / inet_ntop, which wg(8) uses for allowed IPs and (through getnameinfo) for
 *   endpoints, so `wgts show` prints addresses byte-for-byte like `wg show`;
 * - Go's net/netip String(), which wireguard-go uses in its UAPI get replies, so our userspace
 *   daemon answers byte-for-byte like wireguard-go.
 * The two differ only for IPv4-compatible IPv6 forms (glibc prints `::1.2.3.4`, Go `::102:304`).
 * Imports nothing.
 */

/** glibc inet_pton(AF_INET): exactly four decimal octets 0-255, no leading zeros, nothing else. */
export function parseIPv4(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let octets = 0;
  let sawDigit = false;
  let cur = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (sawDigit && cur === 0) return null; // leading zero
      cur = cur * 10 + (c - 0x30);
      if (cur > 255) return null;
      if (!sawDigit) {
        if (++octets > 4) return null;
        sawDigit = true;
      }
    } else if (c === 0x2e && sawDigit) {
      if (octets === 4) return null;
      out[octets - 1] = cur;
      cur = 0;
      sawDigit = false;
    } else return null;
  }
  if (octets < 4 || !sawDigit) return null;
  out[3] = cur;
  return out;
}

/** glibc inet_pton(AF_INET6): hex groups of 1-4 digits, one `::`, optional dotted IPv4 tail. */
export function parseIPv6(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  let tp = 0;
  let colonp = -1;
  let i = 0;
  const n = text.length;
  if (n === 0) return null;
  if (text[0] === ':') {
    if (text[1] !== ':') return null;
    i = 1;
  }
  let curtok = i;
  let sawXdigit = false;
  let val = 0;
  let digits = 0;
  for (; i < n; i++) {
    const ch = text[i]!;
    const hex = '0123456789abcdef'.indexOf(ch.toLowerCase());
    if (hex !== -1) {
      if (++digits > 4) return null;
      val = (val << 4) | hex;
      sawXdigit = true;
      continue;
    }
    if (ch === ':') {
      curtok = i + 1;
      if (!sawXdigit) {
        if (colonp !== -1) return null;
        colonp = tp;
        continue;
      }
      if (i + 1 >= n) return null; // trailing single colon
      if (tp + 2 > 16) return null;
      out[tp++] = (val >> 8) & 0xff;
      out[tp++] = val & 0xff;
      sawXdigit = false;
      digits = 0;
      val = 0;
      continue;
    }
    if (ch === '.' && tp + 4 <= 16) {
      const v4 = parseIPv4(text.slice(curtok));
      if (!v4) return null;
      out.set(v4, tp);
      tp += 4;
      sawXdigit = false;
      break;
    }
    return null;
  }
  if (sawXdigit) {
    if (tp + 2 > 16) return null;
    out[tp++] = (val >> 8) & 0xff;
    out[tp++] = val & 0xff;
  }
  if (colonp !== -1) {
    if (tp === 16) return null;
    const moved = tp - colonp;
    for (let k = 1; k <= moved; k++) {
      out[16 - k] = out[colonp + moved - k]!;
      out[colonp + moved - k] = 0;
    }
    tp = 16;
  }
  if (tp !== 16) return null;
  return out;
}

/** Dotted-quad text of 4 bytes. */
export function formatIPv4(addr: Uint8Array): string {
  return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
}

function words(addr: Uint8Array): number[] {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((addr[2 * i]! << 8) | addr[2 * i + 1]!);
  return w;
}

/** The first longest run of at least two zero words, as both glibc and Go choose it. */
function longestZeroRun(w: number[]): { base: number; len: number } {
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (w[i] === 0) {
      if (cur.base === -1) cur = { base: i, len: 1 };
      else cur.len++;
      if (cur.len > best.len) best = { ...cur };
    } else cur = { base: -1, len: 0 };
  }
  return best.len >= 2 ? best : { base: -1, len: 0 };
}

/** glibc inet_ntop(AF_INET6) text, including its `::a.b.c.d` (first 96 bits zero, beyond ::ffff) and `::ffff:a.b.c.d` forms. */
export function formatIPv6(addr: Uint8Array): string {
  const w = words(addr);
  const best = longestZeroRun(w);
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (
      i === 6 &&
      best.base === 0 &&
      (best.len === 6 || (best.len === 5 && w[5] === 0xffff))
    ) {
      out += formatIPv4(addr.subarray(12, 16));
      return out;
    }
    out += w[i]!.toString(16);
  }
  if (best.base !== -1 && best.base + best.len === 8) out += ':';
  return out;
}

/** Go net/netip Addr.String() of a 16-byte address (IPv4-mapped as `::ffff:a.b.c.d`). */
export function formatIPv6Go(addr: Uint8Array): string {
  let mapped = addr[10] === 0xff && addr[11] === 0xff;
  for (let i = 0; i < 10; i++) if (addr[i] !== 0) mapped = false;
  if (mapped) return `::ffff:${formatIPv4(addr.subarray(12, 16))}`;
  const w = words(addr);
  const best = longestZeroRun(w);
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best.base) {
      out += '::';
      i = best.base + best.len - 1;
      continue;
    }
    if (i > 0 && !out.endsWith(':')) out += ':';
    out += w[i]!.toString(16);
  }
  return out;
}

/** Address bytes as glibc prints them (4 or 16 bytes). */
export function formatIP(addr: Uint8Array): string {
  return addr.length === 4 ? formatIPv4(addr) : formatIPv6(addr);
}

/** Parses an address the way wg does: IPv6 if the text contains `:`, else IPv4. */
export function parseIP(text: string): Uint8Array | null {
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
}

/** Zeroes the host bits of a prefix (a copy), as the kernel and wireguard-go store it. */
export function maskPrefix(addr: Uint8Array, cidr: number): Uint8Array {
  const out = Uint8Array.from(addr);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, cidr - i * 8));
    out[i]! &= (0xff << (8 - bits)) & 0xff;
  }
  return out;
}

/**
 * An endpoint as wg prints and sends it (getnameinfo with NI_NUMERICHOST): the address in glibc's
 * canonical text whatever spelling the model carries, `[...]` around IPv6, a `%scope` kept.
 */
export function formatEndpoint(ep: { family: 4 | 6; host: string; port: number }): string {
  if (ep.family === 4) {
    const addr = parseIPv4(ep.host);
    return `${addr ? formatIPv4(addr) : ep.host}:${ep.port}`;
  }
  const pct = ep.host.indexOf('%');
  const base = pct < 0 ? ep.host : ep.host.slice(0, pct);
  const addr = parseIPv6(base);
  return `[${addr ? formatIPv6(addr) : base}${pct < 0 ? '' : ep.host.slice(pct)}]:${ep.port}`;
}
