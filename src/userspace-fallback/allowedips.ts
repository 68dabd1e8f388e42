/**
 * Cryptokey routing table (the WireGuard paper §2; the design of the kernel's allowedips.c and wireguard-go's
 * allowedips.go, written afresh): one path-compressed binary radix trie per address family mapping
 * prefixes to peers. Lookup is longest-prefix match and serves both outbound (destination → peer)
 * and inbound (source must map back to the sending peer). A prefix belongs to one peer; inserting it
 * for another peer moves it. Per-peer enumeration is in insertion order. Imports nothing.
 *
 * Nodes without a peer are pure branch points; removal prunes them. Keys are stored as big-endian
 * bytes with host bits masked (so 10.0.0.1/24 reads back as 10.0.0.0/24).
 */

class Node<P> {
  peer: P | null = null;
  readonly child: [Node<P> | null, Node<P> | null] = [null, null];
  parent: Node<P> | null = null;
  /** Byte and shift of the bit right after the prefix: the branch bit. */
  readonly bitAtByte: number;
  readonly bitAtShift: number;
  constructor(
    readonly bits: Uint8Array,
    readonly cidr: number,
  ) {
    this.bitAtByte = cidr >>> 3;
    this.bitAtShift = 7 - (cidr & 7);
  }
  choose(addr: Uint8Array, off: number): 0 | 1 {
    return ((addr[off + this.bitAtByte]! >>> this.bitAtShift) & 1) as 0 | 1;
  }
}

/** Number of equal leading bits of node key `a` and the address at `b[off..off+len)`. */
function commonBits(a: Uint8Array, b: Uint8Array, off: number, len: number): number {
  for (let i = 0; i < len; i++) {
    const x = a[i]! ^ b[off + i]!;
    if (x) return i * 8 + Math.clz32(x) - 24;
  }
  return len * 8;
}

function masked(addr: Uint8Array, cidr: number): Uint8Array {
  const out = new Uint8Array(addr.length);
  const full = cidr >>> 3;
  out.set(addr.subarray(0, full));
  if (cidr & 7 && full < addr.length) out[full] = addr[full]! & (0xff << (8 - (cidr & 7)));
  return out;
}

export interface AllowedIpEntry {
  family: 4 | 6;
  addr: Uint8Array;
  cidr: number;
}

class Trie<P> {
  root: Node<P> | null = null;
  constructor(readonly len: number) {}

  private within(n: Node<P>, addr: Uint8Array, off: number): boolean {
    return commonBits(n.bits, addr, off, this.len) >= n.cidr;
  }

  lookup(addr: Uint8Array, off: number): P | null {
    let found: P | null = null;
    let n = this.root;
    const maxBits = this.len * 8;
    while (n !== null && this.within(n, addr, off)) {
      if (n.peer !== null) found = n.peer;
      if (n.cidr === maxBits) break;
      n = n.child[n.choose(addr, off)];
    }
    return found;
  }

  /** The node holding exactly addr/cidr, or null. */
  find(addr: Uint8Array, cidr: number): Node<P> | null {
    let n = this.root;
    while (n !== null && n.cidr <= cidr && this.within(n, addr, 0)) {
      if (n.cidr === cidr) return n;
      n = n.child[n.choose(addr, 0)];
    }
    return null;
  }

  private replaceLink(old: Node<P>, repl: Node<P> | null): void {
    const p = old.parent;
    if (p === null) this.root = repl;
    else p.child[p.child[0] === old ? 0 : 1] = repl;
    if (repl) repl.parent = p;
  }

  private attach(parent: Node<P> | null, n: Node<P>, addr: Uint8Array): void {
    if (parent === null) this.root = n;
    else parent.child[parent.choose(addr, 0)] = n;
    n.parent = parent;
  }

  /** Inserts addr/cidr (already masked) and returns its node; `peer` is set by the caller. */
  insert(key: Uint8Array, cidr: number): Node<P> {
    let parent: Node<P> | null = null;
    let n = this.root;
    while (n !== null && n.cidr <= cidr && this.within(n, key, 0)) {
      if (n.cidr === cidr) return n;
      parent = n;
      n = n.child[n.choose(key, 0)];
    }
    const fresh = new Node<P>(key, cidr);
    if (n === null) {
      this.attach(parent, fresh, key);
      return fresh;
    }
    // `n` hangs where the new node belongs but does not lie under it: split.
    const common = Math.min(commonBits(n.bits, key, 0, this.len), cidr);
    if (common === cidr) {
      // The new prefix contains n: it becomes n's parent.
      this.replaceLink(n, fresh);
      fresh.child[fresh.choose(n.bits, 0)] = n;
      n.parent = fresh;
      return fresh;
    }
    const branch = new Node<P>(masked(key, common), common);
    this.replaceLink(n, branch);
    branch.child[branch.choose(n.bits, 0)] = n;
    n.parent = branch;
    branch.child[branch.choose(key, 0)] = fresh;
    fresh.parent = branch;
    return fresh;
  }

  /** Clears the node's peer and prunes branch points that no longer carry anything. */
  remove(n: Node<P>): void {
    n.peer = null;
    let cur: Node<P> | null = n;
    while (cur !== null && cur.peer === null) {
      const [a, b] = cur.child;
      if (a !== null && b !== null) return;
      const parent: Node<P> | null = cur.parent;
      this.replaceLink(cur, a ?? b);
      cur.parent = null;
      if (a ?? b) return; // a one-child node collapsed: the parent keeps its two children
      cur = parent;
    }
  }
}

export class AllowedIps<P> {
  private readonly v4 = new Trie<P>(4);
  private readonly v6 = new Trie<P>(16);
  /** Per-peer nodes in insertion order (Set keeps insertion order; a moved prefix goes last). */
  private readonly byPeer = new Map<P, Set<Node<P>>>();

  private trie(family: 4 | 6): Trie<P> {
    return family === 4 ? this.v4 : this.v6;
  }

  private static check(family: 4 | 6, addr: Uint8Array, cidr: number): void {
    const len = family === 4 ? 4 : 16;
    if (addr.length !== len) throw new RangeError(`allowed ip: IPv${family} address must be ${len} bytes, got ${addr.length}`);
    if (!Number.isInteger(cidr) || cidr < 0 || cidr > len * 8) throw new RangeError(`allowed ip: bad cidr ${cidr} for IPv${family}`);
  }

  /** Maps addr/cidr to `peer`, moving it from any other peer. */
  insert(family: 4 | 6, addr: Uint8Array, cidr: number, peer: P): void {
    AllowedIps.check(family, addr, cidr);
    const n = this.trie(family).insert(masked(addr, cidr), cidr);
    if (n.peer !== null) this.byPeer.get(n.peer)?.delete(n);
    n.peer = peer;
    let set = this.byPeer.get(peer);
    if (!set) this.byPeer.set(peer, (set = new Set()));
    set.add(n);
  }

  /** Removes addr/cidr only if `peer` owns exactly that prefix. Returns whether it did. */
  remove(family: 4 | 6, addr: Uint8Array, cidr: number, peer: P): boolean {
    AllowedIps.check(family, addr, cidr);
    const t = this.trie(family);
    const n = t.find(masked(addr, cidr), cidr);
    if (n === null || n.peer !== peer) return false;
    this.byPeer.get(peer)?.delete(n);
    t.remove(n);
    return true;
  }

  removeByPeer(peer: P): void {
    const set = this.byPeer.get(peer);
    if (!set) return;
    for (const n of set) this.trie(n.bits.length === 4 ? 4 : 6).remove(n);
    this.byPeer.delete(peer);
  }

  /** The peer for the address at `addr[off..]` (4 or 16 bytes by family), or null. Hot path. */
  lookup(family: 4 | 6, addr: Uint8Array, off = 0): P | null {
    return (family === 4 ? this.v4 : this.v6).lookup(addr, off);
  }

  /** The peer's prefixes in insertion order (fresh copies). */
  entriesForPeer(peer: P): AllowedIpEntry[] {
    const set = this.byPeer.get(peer);
    if (!set) return [];
    const out: AllowedIpEntry[] = [];
    for (const n of set) out.push({ family: n.bits.length === 4 ? 4 : 6, addr: n.bits.slice(), cidr: n.cidr });
    return out;
  }

  clear(): void {
    this.v4.root = null;
    this.v6.root = null;
    this.byPeer.clear();
  }
}
