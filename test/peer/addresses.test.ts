/** Address allocation for `peer add`: next free host per subnet, what counts as taken, --ip checks. */
import { describe, expect, it } from 'vitest';
import { AddressError, allocate, formatPrefix, nextFree, parsePrefixText, type Prefix } from '../../src/peer/addresses.js';

const p = (text: string): Prefix => parsePrefixText(text)!;
const texts = (list: Prefix[]): string[] => list.map(formatPrefix);

describe('nextFree', () => {
  it('skips the network address and the taken hosts, lowest first', () => {
    expect(formatPrefix(nextFree(p('10.8.0.0/24'), [])!)).toBe('10.8.0.1/32');
    expect(formatPrefix(nextFree(p('10.8.0.0/24'), [p('10.8.0.1/32'), p('10.8.0.2/32'), p('10.8.0.4/32')])!)).toBe('10.8.0.3/32');
  });

  it('a peer prefix inside the subnet takes all its hosts', () => {
    expect(formatPrefix(nextFree(p('10.8.0.0/24'), [p('10.8.0.1/32'), p('10.8.0.0/28')])!)).toBe('10.8.0.16/32');
  });

  it('a peer prefix wider than the subnet takes nothing (a more specific /32 wins)', () => {
    expect(formatPrefix(nextFree(p('10.8.0.0/24'), [p('0.0.0.0/0'), p('10.0.0.0/8')])!)).toBe('10.8.0.1/32');
  });

  it('never hands out the IPv4 broadcast address; a full subnet gives null', () => {
    const taken = Array.from({ length: 254 }, (_, i) => p(`10.8.0.${i + 1}/32`));
    expect(nextFree(p('10.8.0.0/24'), taken)).toBeNull();
    expect(formatPrefix(nextFree(p('10.8.0.0/30'), [p('10.8.0.1/32')])!)).toBe('10.8.0.2/32');
    expect(nextFree(p('10.8.0.0/30'), [p('10.8.0.1/32'), p('10.8.0.2/32')])).toBeNull();
    expect(nextFree(p('10.8.0.1/32'), [])).toBeNull();
  });

  it('IPv6: ::1 upwards, /128 hosts, past a large taken block without walking it', () => {
    expect(formatPrefix(nextFree(p('fd08::/64'), [p('fd08::1/128')])!)).toBe('fd08::2/128');
    expect(formatPrefix(nextFree(p('fd08::/64'), [p('fd08::/80')])!)).toBe('fd08::1:0:0:0/128');
    expect(formatPrefix(nextFree(p('fd08::/64'), [p('fd08::1/128'), p('fd08::2/127'), p('fd08::4/128')])!)).toBe('fd08::5/128');
  });
});

describe('allocate', () => {
  const own = [p('10.8.0.1/24'), p('fd08::1/64')];

  it('auto: one address per Address subnet, both families, skipping the server and every peer', () => {
    expect(texts(allocate(own, []))).toEqual(['10.8.0.2/32', 'fd08::2/128']);
    expect(texts(allocate(own, [p('10.8.0.2/32'), p('fd08::2/128'), p('10.8.0.3/32')], 'auto'))).toEqual(['10.8.0.4/32', 'fd08::3/128']);
  });

  it('two Address lines in one subnet give one host; a link-local Address is ignored', () => {
    expect(texts(allocate([p('10.8.0.1/24'), p('10.8.0.2/24'), p('fe80::1/64')], []))).toEqual(['10.8.0.3/32']);
  });

  it('a full subnet or no Address is refused', () => {
    expect(() => allocate([p('10.8.0.1/30')], [p('10.8.0.2/32')])).toThrow('no free address left in 10.8.0.0/30');
    expect(() => allocate([], [])).toThrow(AddressError);
  });

  it('--ip: the chosen addresses, checked', () => {
    expect(texts(allocate(own, [], '10.8.0.9,fd08::9'))).toEqual(['10.8.0.9/32', 'fd08::9/128']);
    expect(texts(allocate(own, [], '10.8.0.9/32'))).toEqual(['10.8.0.9/32']);
    expect(() => allocate(own, [], '10.9.0.5')).toThrow('outside the interface');
    expect(() => allocate(own, [], '10.8.0.1')).toThrow('already in use');
    expect(() => allocate(own, [p('10.8.0.0/28')], '10.8.0.5')).toThrow('already in use');
    expect(() => allocate(own, [], '10.8.0.0')).toThrow('not a host address');
    expect(() => allocate(own, [], '10.8.0.255')).toThrow('not a host address');
    expect(() => allocate(own, [], '10.8.0.300')).toThrow('not an IPv4 or IPv6 address');
    expect(() => allocate(own, [], '10.8.0.0/24')).toThrow('not an IPv4 or IPv6 address');
    expect(() => allocate(own, [], '10.8.0.5,10.8.0.6')).toThrow('more than one IPv4');
  });
});
