/**
 * Prefix-set arithmetic for `wgts allowed-ips`: the minimal list of CIDR prefixes covering one set of
 * prefixes minus another ("everything except the LAN" through a tunnel).
 *
 * Method: each family's prefixes become closed intervals of addresses (bigint), the include set is
 * merged, the exclude set cut out, and every remaining interval is split into the largest aligned
 * blocks from its low end (RFC 4632 §3.1's aggregation read backwards). Merging touching intervals
 * first is what makes the result minimal: an aligned block never straddles two separate intervals,
 * and within one interval the greedy split is the unique minimal one.
 *
 * The core works on any address width, so tests can check it by brute force on 8-bit spaces. The
 * address-as-integer helpers here are also the peer allocator's (src/peer/addresses.ts).
 * Imports only ip.ts.
 */
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip.js';

/** One prefix of a `bits`-wide address space: `base` has no bits set beyond `len`. */
export interface Block {
  base: bigint;
  len: number;
}

/** A closed range of addresses [lo, hi]. */
export interface Interval {
  lo: bigint;
  hi: bigint;
}

/** The addresses of a block, first to last. */
export function blockInterval(b: Block, bits: number): Interval {
  return { lo: b.base, hi: b.base + (1n << BigInt(bits - b.len)) - 1n };
}

/** Sorted, merged intervals (touching ones joined: [0,3] and [4,7] become [0,7]). */
export function mergeIntervals(list: readonly Interval[]): Interval[] {
  const sorted = [...list].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const out: Interval[] = [];
  for (const iv of sorted) {
    const last = out.at(-1);
    if (last && iv.lo <= last.hi + 1n) {
      if (iv.hi > last.hi) last.hi = iv.hi;
    } else out.push({ ...iv });
  }
  return out;
}

/** `keep` minus `cut`, both sorted and merged. */
function cutOut(keep: Interval[], cut: Interval[]): Interval[] {
  const out: Interval[] = [];
  let j = 0;
  for (const k of keep) {
    let lo = k.lo;
    while (j < cut.length && cut[j]!.hi < lo) j++;
    let i = j;
    while (lo <= k.hi && i < cut.length && cut[i]!.lo <= k.hi) {
      const c = cut[i]!;
      if (c.lo > lo) out.push({ lo, hi: c.lo - 1n });
      lo = c.hi + 1n;
      i++;
    }
    if (lo <= k.hi) out.push({ lo, hi: k.hi });
  }
  return out;
}

/** The fewest aligned blocks exactly covering [lo, hi], in address order. */
function split(iv: Interval, bits: number): Block[] {
  const out: Block[] = [];
  let lo = iv.lo;
  while (lo <= iv.hi) {
    // The largest block starting at lo: limited by lo's alignment and by what is left.
    let size = 0;
    while (size < bits && ((lo >> BigInt(size)) & 1n) === 0n && lo + (1n << BigInt(size + 1)) - 1n <= iv.hi) size++;
    out.push({ base: lo, len: bits - size });
    lo += 1n << BigInt(size);
  }
  return out;
}

/** The minimal blocks covering `include` minus `exclude`, in address order. */
export function subtractBlocks(include: readonly Block[], exclude: readonly Block[], bits: number): Block[] {
  const keep = mergeIntervals(include.map((b) => blockInterval(b, bits)));
  const cut = mergeIntervals(exclude.map((b) => blockInterval(b, bits)));
  return cutOut(keep, cut).flatMap((iv) => split(iv, bits));
}

// ---------------------------------------------------------------------------------------------
// Text: `10.0.0.0/8`, `fd00::/8`, a bare address meaning a host.

export interface Prefix {
  family: 4 | 6;
  block: Block;
}

/** A prefix that cannot be used, with the reason and, where there is one, the likely intent. */
export class PrefixError extends Error {
  constructor(
    message: string,
    readonly suggestion?: string,
  ) {
    super(message);
    this.name = 'PrefixError';
  }
}

const WIDTH = { 4: 32, 6: 128 } as const;

/** An address (network byte order) as an integer. */
export function bytesToBigint(addr: Uint8Array): bigint {
  let v = 0n;
  for (const b of addr) v = (v << 8n) | BigInt(b);
  return v;
}

/** An integer as a `len`-byte address (network byte order). */
export function bigintToBytes(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** The canonical text of a prefix (glibc's address spelling, as wg prints allowed IPs). */
export function formatPrefix(p: Prefix): string {
  const addr = bigintToBytes(p.block.base, p.family === 4 ? 4 : 16);
  return `${p.family === 4 ? formatIPv4(addr) : formatIPv6(addr)}/${p.block.len}`;
}

/**
 * Parses one prefix as wg's AllowedIPs accepts it (inet_pton rules, `/len` optional). Host bits set
 * beyond the length are refused, naming the network the user probably meant: silently masking
 * `192.168.1.7/16` could route far more than intended.
 */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const family = addrText.includes(':') ? 6 : 4;
  const addr = family === 6 ? parseIPv6(addrText) : parseIPv4(addrText);
  if (!addr) throw new PrefixError(`\`${text}' is not an IPv4 or IPv6 address`);
  const bits = WIDTH[family];
  let len: number = bits;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > bits) {
      throw new PrefixError(`\`${text}': the prefix length must be 0 to ${bits}`);
    }
    len = Number(lenText);
  }
  const value = bytesToBigint(addr);
  const hostMask = (1n << BigInt(bits - len)) - 1n;
  const base = value & ~hostMask;
  if (base !== value) {
    const network = formatPrefix({ family, block: { base, len } });
    throw new PrefixError(`\`${text}' has host bits set`, network);
  }
  return { family, block: { base, len } };
}

/** `include` minus `exclude`, per family: IPv4 prefixes first, then IPv6, each in address order. */
export function subtractPrefixes(include: readonly Prefix[], exclude: readonly Prefix[]): Prefix[] {
  const out: Prefix[] = [];
  for (const family of [4, 6] as const) {
    const blocks = (list: readonly Prefix[]) => list.filter((p) => p.family === family).map((p) => p.block);
    for (const block of subtractBlocks(blocks(include), blocks(exclude), WIDTH[family])) out.push({ family, block });
  }
  return out;
}
