/**
 * Address families and the sockaddr_in / sockaddr_in6 byte layout of <netinet/in.h>: the kernel
 * takes and gives endpoints this way (WGPEER_A_ENDPOINT, wireguard.h) and the data plane's sockets
 * send to and receive from them. Family in host byte order (little-endian on every target wgts
 * builds for), port in network order, the IPv6 scope id in host order.
 */
export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;

/** The fields of a sockaddr_in or sockaddr_in6; `addr` is a view into the bytes decoded. */
export interface SockaddrFields {
  family: 4 | 6;
  addr: Uint8Array;
  port: number;
  /** sin6_scope_id; 0 for IPv4. */
  scope: number;
}

/** sockaddr_in bytes for a 4-byte address. */
export function encodeSockaddrIn(addr: Uint8Array, port: number): Uint8Array {
  const sa = new Uint8Array(SOCKADDR_IN_LEN);
  const dv = new DataView(sa.buffer);
  dv.setUint16(0, AF_INET, true);
  dv.setUint16(2, port, false);
  sa.set(addr, 4);
  return sa;
}

/** sockaddr_in6 bytes for a 16-byte address (flow info 0). */
export function encodeSockaddrIn6(addr: Uint8Array, port: number, scope: number): Uint8Array {
  const sa = new Uint8Array(SOCKADDR_IN6_LEN);
  const dv = new DataView(sa.buffer);
  dv.setUint16(0, AF_INET6, true);
  dv.setUint16(2, port, false);
  sa.set(addr, 8);
  dv.setUint32(24, scope, true);
  return sa;
}

/**
 * The fields of sockaddr bytes; undefined for another family or too few bytes. `exact` also
 * rejects trailing bytes (a netlink attribute is exactly one sockaddr; a receive buffer is not).
 */
export function parseSockaddr(p: Uint8Array, exact = false): SockaddrFields | undefined {
  if (p.length < 4) return undefined;
  const family = p[0]! | (p[1]! << 8);
  const port = (p[2]! << 8) | p[3]!;
  if (family === AF_INET && (exact ? p.length === SOCKADDR_IN_LEN : p.length >= SOCKADDR_IN_LEN)) {
    return { family: 4, addr: p.subarray(4, 8), port, scope: 0 };
  }
  if (family === AF_INET6 && (exact ? p.length === SOCKADDR_IN6_LEN : p.length >= SOCKADDR_IN6_LEN)) {
    const scope = (p[24]! | (p[25]! << 8) | (p[26]! << 16) | (p[27]! << 24)) >>> 0;
    return { family: 6, addr: p.subarray(8, 24), port, scope };
  }
  return undefined;
}
