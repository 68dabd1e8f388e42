/**
 * Prefix text for the TXT record's `allowed=` list, in the form wgsd writes (Go's IPNet.String:
 * dotted quad, RFC 5952 IPv6) and read back with wg's address rules (conf/ip.ts). Returns null for
 * anything malformed: these parse what a DNS answer carried.
 */
import type { Family, WgAllowedIp } from '../conf/model.js';
import { formatIPv4, formatIPv6Go, parseIP } from '../conf/ip.js';

/** An address literal (no brackets, no `%scope`) with its family, or null. */
export function parseAddress(text: string): { family: Family; addr: Uint8Array } | null {
  const addr = parseIP(text);
  return addr ? { family: addr.length === 4 ? 4 : 6, addr } : null;
}

/** `addr/cidr` text of an allowed IP. */
export function formatPrefix(ip: WgAllowedIp): string {
  return `${ip.family === 4 ? formatIPv4(ip.addr) : formatIPv6Go(ip.addr)}/${ip.cidr}`;
}

/** Parses `addr/cidr` (the prefix length is required); null if malformed or out of range. */
export function parsePrefix(text: string): WgAllowedIp | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return null;
  const ip = parseAddress(m[1]!);
  const cidr = Number(m[2]);
  if (!ip || cidr > (ip.family === 4 ? 32 : 128)) return null;
  return { family: ip.family, addr: ip.addr, cidr };
}
