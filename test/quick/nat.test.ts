import { describe, expect, it } from 'vitest';
import { natNftScript, networkOf } from '../../src/quick/nat.js';

describe('nat', () => {
  it('networkOf masks the host part; a bare address is a host route', () => {
    expect(networkOf('10.8.0.1/24')).toEqual({ family: 4, cidr: '10.8.0.0/24' });
    expect(networkOf('10.8.0.1')).toEqual({ family: 4, cidr: '10.8.0.1/32' });
    expect(networkOf('fd08::1/64')).toEqual({ family: 6, cidr: 'fd08::/64' });
    expect(networkOf('fd08:1:2:3:4::1/56')).toEqual({ family: 6, cidr: 'fd08:1:2::/56' });
    expect(() => networkOf('10.8.0.300/24')).toThrow(/not an IP address/);
  });

  it('the nft script replaces any previous copy in one transaction (a repeated up never duplicates)', () => {
    const s = natNftScript('wg0', 'eth0', [networkOf('10.8.0.1/24'), networkOf('fd08::1/64')]);
    expect(s.split('\n').slice(0, 3)).toEqual(['add table inet wgts-nat-wg0', 'delete table inet wgts-nat-wg0', 'add table inet wgts-nat-wg0']);
    expect(s).toContain('add rule inet wgts-nat-wg0 postrouting oifname "eth0" ip saddr 10.8.0.0/24 masquerade\n');
    expect(s).toContain('add rule inet wgts-nat-wg0 postrouting oifname "eth0" ip6 saddr fd08::/64 masquerade\n');
  });
});
