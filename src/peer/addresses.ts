/**
 * A new peer's tunnel addresses: the next free host in each `Address` subnet of the interface
 * (wg-quick(8): Address is the interface's own address with its prefix length), or the addresses
 * the user chose, checked. Pure: the taken prefixes come from the caller (config file and device).
 *
 * "Taken" means inside a peer's allowed IP that lies within the subnet: WireGuard routes a prefix
 * to exactly one peer (cryptokey routing, the WireGuard paper §2), so giving a host another peer
 * already owns would silently move it away from that peer. An allowed IP wider than the subnet
 * (a site peer with 10.0.0.0/8, a client's 0.0.0.0/0) takes nothing: the new /32 is more specific.
 */
import { formatIP, maskPrefix, parseIP } from '../conf/ip.js';
import type { Family } from '../conf/model.js';
import { bigintToBytes, blockInterval, bytesToBigint, mergeIntervals, type Interval } from '../conf/prefix-set.js';

export interface Prefix {
  family: Family;
  /** 4 or 16 bytes. */
  addr: Uint8Array;
  cidr: number;
}

/** A refusal with the text the user sees. */
export class AddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddressError';
  }
}

/** `ADDR` or `ADDR/LEN` (a missing length is a host prefix); null if either part is not valid. */
export function parsePrefixText(text: string): Prefix | null {
  const slash = text.indexOf('/');
  const addr = parseIP(slash < 0 ? text : text.slice(0, slash));
  if (!addr) return null;
  const max = addr.length * 8;
  const lenText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > max) return null;
  return { family: addr.length === 4 ? 4 : 6, addr, cidr: Number(lenText) };
}

export function formatPrefix(p: Prefix): string {
  return `${formatIP(p.addr)}/${p.cidr}`;
}

/** First and last address of a prefix, as integers. */
function range(p: Prefix): Interval {
  return blockInterval({ base: bytesToBigint(maskPrefix(p.addr, p.cidr)), len: p.cidr }, p.addr.length * 8);
}

/** Is `inner` entirely within `outer`? */
export function within(inner: Prefix, outer: Prefix): boolean {
  if (inner.family !== outer.family || inner.cidr < outer.cidr) return false;
  const { lo, hi } = range(outer);
  const x = bytesToBigint(inner.addr);
  return x >= lo && x <= hi;
}

/** The network of an Address, e.g. 10.8.0.1/24 → 10.8.0.0/24. */
export function subnetOf(address: Prefix): Prefix {
  return { family: address.family, addr: maskPrefix(address.addr, address.cidr), cidr: address.cidr };
}

/**
 * The hosts a peer may get in a subnet: not the network address (for IPv6 the subnet-router
 * anycast address, RFC 4291 §2.6.1) and, for IPv4 below /31, not the broadcast address.
 */
function usableRange(subnet: Prefix): Interval | null {
  const { lo: first, hi: last } = range(subnet);
  const hostBits = subnet.addr.length * 8 - subnet.cidr;
  if (hostBits === 0) return null;
  if (subnet.family === 4 && hostBits === 1) return { lo: first, hi: last }; // RFC 3021 point-to-point
  const end = subnet.family === 4 ? last - 1n : last;
  return first + 1n <= end ? { lo: first + 1n, hi: end } : null;
}

/** The taken prefixes that matter inside `subnet` (see top), as sorted, merged integer ranges. */
function takenRanges(subnet: Prefix, taken: readonly Prefix[]): Interval[] {
  return mergeIntervals(taken.filter((t) => within(t, subnet)).map(range));
}

/**
 * The lowest usable host of `subnet` outside every taken prefix, as a host prefix (/32, /128);
 * null when the subnet is full. Walks the merged taken ranges, so it costs O(taken), not O(subnet).
 */
export function nextFree(subnet: Prefix, taken: readonly Prefix[]): Prefix | null {
  const usable = usableRange(subnet);
  if (!usable) return null;
  let candidate = usable.lo;
  for (const { lo, hi } of takenRanges(subnet, taken)) {
    if (candidate < lo) break;
    if (candidate <= hi) candidate = hi + 1n;
  }
  if (candidate > usable.hi) return null;
  const len = subnet.addr.length;
  return { family: subnet.family, addr: bigintToBytes(candidate, len), cidr: len * 8 };
}

/**
 * The addresses for a new peer. `choice` undefined or `auto`: one per Address subnet (IPv4 and
 * IPv6 alike); otherwise one or two comma-separated addresses (at most one per family), each a
 * usable, free host of one of the subnets. `own` are the interface's Address entries, `taken` the
 * prefixes of every existing peer (the interface's own addresses are added here).
 */
export function allocate(own: readonly Prefix[], taken: readonly Prefix[], choice?: string): Prefix[] {
  const subnets = own.filter((a) => !isLinkLocal(a)).map(subnetOf);
  if (subnets.length === 0) throw new AddressError('the interface has no Address to allocate from (add `Address = 10.8.0.1/24` to its [Interface])');
  const all = [...taken, ...own.map((a) => ({ ...a, cidr: a.addr.length * 8 }))];
  if (choice === undefined || choice === 'auto') {
    const out: Prefix[] = [];
    const seen = new Set<string>();
    for (const s of subnets) {
      const key = formatPrefix(s);
      if (seen.has(key)) continue; // two Address entries in one subnet: one host for the peer
      seen.add(key);
      const free = nextFree(s, [...all, ...out]);
      if (!free) throw new AddressError(`no free address left in ${key}`);
      out.push(free);
    }
    return out;
  }
  const words = choice.split(',').map((w) => w.trim());
  const out: Prefix[] = [];
  for (const w of words) {
    const p = parsePrefixText(w);
    if (!p || p.cidr !== p.addr.length * 8) throw new AddressError(`--ip: \`${w}' is not an IPv4 or IPv6 address`);
    if (out.some((o) => o.family === p.family)) throw new AddressError(`--ip: more than one IPv${p.family} address`);
    const subnet = subnets.find((s) => within(p, s));
    if (!subnet) throw new AddressError(`--ip: ${formatIP(p.addr)} is outside the interface's subnets (${subnets.map(formatPrefix).join(', ')})`);
    const usable = usableRange(subnet);
    const x = bytesToBigint(p.addr);
    if (!usable || x < usable.lo || x > usable.hi) throw new AddressError(`--ip: ${formatIP(p.addr)} is not a host address of ${formatPrefix(subnet)}`);
    if (all.some((t) => within(p, t) && within(t, subnet))) throw new AddressError(`--ip: ${formatIP(p.addr)} is already in use`);
    out.push(p);
  }
  return out;
}

/** fe80::/10: the kernel's own per-link addresses, never a tunnel subnet to hand out. */
function isLinkLocal(p: Prefix): boolean {
  return p.family === 6 && p.addr[0] === 0xfe && (p.addr[1]! & 0xc0) === 0x80;
}
