import { describe, expect, it } from 'vitest';
import { RateLimiter, ratelimitKey, sockaddrRatelimitKey } from '../../src/userspace-fallback/ratelimiter.js';
import { encodeSockaddrIn, encodeSockaddrIn6 } from '../../src/conf/sockaddr.js';
import { parseIPv6 } from '../../src/conf/ip.js';
import { ManualClock } from '../fakes/clock.js';

describe('rate limiter (20/s, burst 5)', () => {
  it('allows the burst, then one packet per 50 ms; sources are independent; idle entries expire', () => {
    const clock = new ManualClock();
    const rl = new RateLimiter(clock);
    for (let i = 0; i < 5; i++) expect(rl.allow(4, '10.0.0.1')).toBe(true);
    expect(rl.allow(4, '10.0.0.1')).toBe(false);
    expect(rl.allow(4, '10.0.0.2')).toBe(true);
    clock.advance(49);
    expect(rl.allow(4, '10.0.0.1')).toBe(false);
    clock.advance(1);
    expect(rl.allow(4, '10.0.0.1')).toBe(true);
    expect(rl.allow(4, '10.0.0.1')).toBe(false);
    clock.advance(10_000);
    for (let i = 0; i < 5; i++) expect(rl.allow(4, '10.0.0.1')).toBe(true);
    expect(rl.allow(4, '10.0.0.1')).toBe(false);
    expect(rl.size).toBe(1); // 10.0.0.2 was idle > 1 s and collected
  });
  it('IPv6 sources share a bucket per /64', () => {
    expect(ratelimitKey(6, '2001:db8:0:1::5')).toBe(ratelimitKey(6, '2001:db8:0:1:ffff::9'));
    expect(ratelimitKey(6, '2001:db8:0:1::5')).not.toBe(ratelimitKey(6, '2001:db8:0:2::5'));
    expect(ratelimitKey(6, '::1')).toBe('0:0:0:0');
    const rl = new RateLimiter(new ManualClock());
    for (let i = 0; i < 5; i++) expect(rl.allow(6, `2001:db8::${i + 1}`)).toBe(true);
    expect(rl.allow(6, '2001:db8::99')).toBe(false);
  });
});

describe('rate limiter bounds and sockaddr keys', () => {
  it('refuses a source new to a full table, and takes new ones again once idle entries expire', () => {
    const clock = new ManualClock();
    const rl = new RateLimiter(clock, 100);
    for (let i = 0; i < 100; i++) expect(rl.allowKey(i)).toBe(true);
    expect(rl.allowKey(100)).toBe(false);
    expect(rl.allowKey(5)).toBe(true); // a known source keeps its bucket
    expect(rl.size).toBe(100);
    clock.advance(1001);
    expect(rl.allowKey(100)).toBe(true);
    expect(rl.size).toBe(1);
  });
  it('keys a sockaddr as ratelimitKey() keys its address: IPv4 per address, IPv6 per /64, the port ignored', () => {
    const v4 = (a: number[], port: number) => sockaddrRatelimitKey(encodeSockaddrIn(new Uint8Array(a), port));
    const v6 = (host: string, port: number) => sockaddrRatelimitKey(encodeSockaddrIn6(parseIPv6(host)!, port, 0));
    expect(v4([10, 0, 0, 1], 1)).toBe(v4([10, 0, 0, 1], 2));
    expect(v4([10, 0, 0, 1], 1)).not.toBe(v4([10, 0, 0, 2], 1));
    expect(v6('2001:db8:0:1::5', 1)).toBe(ratelimitKey(6, '2001:db8:0:1::5'));
    expect(v6('2001:db8:0:1::5', 1)).toBe(v6('2001:db8:0:1:ffff::9', 9));
    expect(v6('2001:db8:0:1::5', 1)).not.toBe(v6('2001:db8:0:2::5', 1));
  });
});

describe('rate limiter vs an independent twin (GCRA) under seeded random arrivals', () => {
  it('agrees packet by packet', () => {
    let seed = 99;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const clock = new ManualClock();
    const rl = new RateLimiter(clock);
    // Generic cell rate algorithm: emission interval T = 50 ms, burst tolerance (5 − 1)·T. A packet
    // conforms if its theoretical arrival time is at most that far in the future.
    const T = 50, tau = 4 * T;
    const tat = new Map<string, number>();
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      clock.advance(Math.floor(rnd() * 10)); // ~20 ms between packets per source: half are over the rate
      const src = `10.0.0.${Math.floor(rnd() * 4)}`;
      const now = clock.now();
      const t = Math.max(tat.get(src) ?? now, now);
      const ok = t - now <= tau;
      if (ok) tat.set(src, t + T);
      expect([i, rl.allow(4, src)]).toEqual([i, ok]);
      if (ok) accepted++;
    }
    expect(accepted).toBeGreaterThan(1000);
    expect(accepted).toBeLessThan(19000);
  });
});
