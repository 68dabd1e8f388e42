import { describe, expect, it } from 'vitest';
import { formatPrefix, parseAddress, parsePrefix } from '../../src/registry/ip.js';

describe('TXT allowed= prefixes', () => {
  it.each([
    ['10.0.0.0/24', '10.0.0.0/24'],
    ['fd00::/64', 'fd00::/64'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['FD00:0:0:0:0:0:0:1/128', 'fd00::1/128'],
  ])('reads %s and writes it as Go does: %s', (input, output) => {
    expect(formatPrefix(parsePrefix(input)!)).toBe(output);
  });

  it.each(['10.0.0.1', '10.0.0.1/33', 'fd00::/129', 'x/1', '10.0.0.1/-1', 'fe80::1%eth0/64', '010.0.0.1/32'])(
    'rejects %s',
    (bad) => {
      expect(parsePrefix(bad)).toBeNull();
    },
  );

  it('tells the families apart', () => {
    expect(parseAddress('192.0.2.1')?.family).toBe(4);
    expect(parseAddress('2001:db8::1')?.family).toBe(6);
    expect(parseAddress('2001:db8::1%eth0')).toBeNull();
  });
});
