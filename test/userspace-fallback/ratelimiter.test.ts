import { describe, expect, it } from 'vitest';
import { RateLimiter, ratelimitKey } from '../../src/userspace-fallback/ratelimiter.js';
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
