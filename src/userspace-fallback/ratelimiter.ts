/**
 * Per-source token bucket for handshake messages under load (kernel ratelimiter.c, wireguard-go
 * ratelimiter/): 20 packets per second, burst 5, keyed by the IPv4 address or the IPv6 /64 (as the
 * kernel does, so one host cannot dodge the limit by walking its /64). Entries idle for more than
 * a second are dropped on the next call after a second has passed (lazy GC: no timer needed).
 * The table is bounded as the kernel's is: a source new to a full table is refused.
 */
import { AF_INET, AF_INET6 } from '../conf/sockaddr.js';
import type { Clock } from './clock.js';

export const PACKETS_PER_SECOND = 20;
export const PACKETS_BURSTABLE = 5;
const PACKET_COST = 1000 / PACKETS_PER_SECOND; // ms of tokens per packet
const TOKEN_MAX = PACKET_COST * PACKETS_BURSTABLE;
const GC_INTERVAL = 1000;
/** The kernel's ceiling on a machine with more than 1 GiB of RAM (ratelimiter.c: 8192 buckets × 8). */
export const MAX_SOURCES = 65536;

interface Entry {
  lastTime: number;
  tokens: number;
}

/** The key a source is limited by: the IPv4 address, or the first four groups of an IPv6 address. */
export function ratelimitKey(family: 4 | 6, host: string): string {
  if (family === 4) return host;
  const h = host.split('%')[0]!.toLowerCase();
  const [head = '', tail] = h.split('::');
  const headGroups = head ? head.split(':') : [];
  if (tail === undefined) return headGroups.slice(0, 4).join(':');
  const tailGroups = tail ? tail.split(':') : [];
  // An embedded IPv4 tail counts as two groups.
  const tailLen = tailGroups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const zeros = Math.max(0, 8 - headGroups.length - tailLen);
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}

/**
 * The key of ratelimitKey() read from a struct sockaddr_in / sockaddr_in6 as the kernel fills it
 * (family in host order at 0, the IPv4 address at 4, the IPv6 one at 8): the IPv4 address as a
 * number, the IPv6 /64 in ratelimitKey()'s notation, so the per-datagram path formats no IPv4
 * address (a number and a string never collide in one Map).
 */
export function sockaddrRatelimitKey(sa: Uint8Array): number | string {
  const family = sa[0]! | (sa[1]! << 8);
  if (family === AF_INET) return ((sa[4]! << 24) | (sa[5]! << 16) | (sa[6]! << 8) | sa[7]!) >>> 0;
  if (family === AF_INET6) {
    let key = '';
    for (let i = 8; i < 16; i += 2) key += `${i > 8 ? ':' : ''}${((sa[i]! << 8) | sa[i + 1]!).toString(16)}`;
    return key;
  }
  return -1; // no family a socket of ours reports: one shared bucket
}

export class RateLimiter {
  private readonly table = new Map<string | number, Entry>();
  private lastGc: number;

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    private readonly maxSources = MAX_SOURCES,
  ) {
    this.lastGc = clock.now();
  }

  /** True if a packet from this source may be processed now (consumes a token). */
  allow(family: 4 | 6, host: string): boolean {
    return this.allowKey(ratelimitKey(family, host));
  }

  /** allow() for a key made by ratelimitKey() or sockaddrRatelimitKey(). */
  allowKey(key: string | number): boolean {
    const now = this.clock.now();
    if (now - this.lastGc > GC_INTERVAL) this.gc(now);
    const e = this.table.get(key);
    if (!e) {
      if (this.table.size >= this.maxSources) return false;
      this.table.set(key, { lastTime: now, tokens: TOKEN_MAX - PACKET_COST });
      return true;
    }
    e.tokens = Math.min(TOKEN_MAX, e.tokens + (now - e.lastTime));
    e.lastTime = now;
    if (e.tokens >= PACKET_COST) {
      e.tokens -= PACKET_COST;
      return true;
    }
    return false;
  }

  /** Number of tracked sources (for tests). */
  get size(): number {
    return this.table.size;
  }

  private gc(now: number): void {
    for (const [k, e] of this.table) if (now - e.lastTime > GC_INTERVAL) this.table.delete(k);
    this.lastGc = now;
  }

  clear(): void {
    this.table.clear();
  }
}
