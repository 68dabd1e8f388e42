import { describe, expect, it } from 'vitest';
import { parseQuickConfig, QuickConfigError, resolveQuickTarget } from '../../src/conf/quick.js';

/** The [Interface] fields wg-quick takes out of a file (wg-quick(8), CONFIGURATION). strip output is tested against wg-quick in test/cli/strip.test.ts. */
describe('parseQuickConfig', () => {
  it('collects every wg-quick key with its value rules', () => {
    const { interface: q, wgText } = parseQuickConfig(
      [
        '[Interface]',
        'PrivateKey = k',
        'Address = 10.0.0.2/24, fd00::2/64',
        'address = 10.0.0.3/32',
        'DNS = 10.0.0.1,fd00::1 example.com, 1.2.3, corp',
        'MTU = 1420',
        'Table = off',
        'PreUp = echo one # kept upstream',
        'PreUp=echo two',
        'PostUp = a=b',
        'PreDown = x',
        'PostDown = y',
        'SaveConfig = TRUE',
        '[Peer]',
        'Address = 1.1.1.1/32',
        '',
      ].join('\n'),
      'wg0.conf',
    );
    expect(q.addresses).toEqual(['10.0.0.2/24', 'fd00::2/64', '10.0.0.3/32']);
    expect(q.dns).toEqual(['10.0.0.1', 'fd00::1', '1.2.3']);
    expect(q.dnsSearch).toEqual(['example.com', 'corp']);
    expect(q.mtu).toBe(1420);
    expect(q.table).toBe('off');
    expect(q.preUp).toEqual(['echo one # kept upstream', 'echo two']);
    expect(q.postUp).toEqual(['a=b']);
    expect(q.preDown).toEqual(['x']);
    expect(q.postDown).toEqual(['y']);
    expect(q.saveConfig).toBe(true);
    expect(wgText).toBe('[Interface]\nPrivateKey = k\n[Peer]\nAddress = 1.1.1.1/32\n');
  });

  it('last MTU/Table wins, an empty value unsets, a non-number MTU is kept as text', () => {
    const q = parseQuickConfig('[Interface]\nMTU = 1400\nMTU = 13x\nTable = 5\nTable =\n', 'f').interface;
    expect(q.mtu).toBeUndefined();
    expect(q.mtuText).toBe('13x');
    expect(q.table).toBeUndefined();
    expect(parseQuickConfig('[Interface]\nMTU = 1400\nMTU =\n', 'f').interface.mtuText).toBeUndefined();
  });

  it('refuses a SaveConfig that is neither true nor false, with wg-quick\'s message', () => {
    expect(() => parseQuickConfig('[Interface]\nSaveConfig = yes\n', 'f')).toThrow(new QuickConfigError("`yes' is neither true nor false"));
  });
});

describe('resolveQuickTarget', () => {
  const fs = (existing: string[]) => ({ exists: (p: string) => existing.includes(p), realpath: (p: string) => `/real${p}` });
  it.each([
    ['wg0', ['/etc/wireguard/wg0.conf'], { configFile: '/real/etc/wireguard/wg0.conf', ifname: 'wg0' }],
    ['a_b=c+d.e-f', ['/etc/wireguard/a_b=c+d.e-f.conf'], { configFile: '/real/etc/wireguard/a_b=c+d.e-f.conf', ifname: 'a_b=c+d.e-f' }],
    ['/x/y/wg1.conf', ['/x/y/wg1.conf'], { configFile: '/real/x/y/wg1.conf', ifname: 'wg1' }],
  ])('%s', (arg, existing, want) => {
    expect(resolveQuickTarget(arg, fs(existing))).toEqual(want);
  });
  it.each([
    ['wg0', [], "`/etc/wireguard/wg0.conf' does not exist"],
    ['wg0.conf', ['wg0.conf'], "`/etc/wireguard/wg0.conf.conf' does not exist"],
    ['/x/sixteen_chars_01.conf', ['/x/sixteen_chars_01.conf'], 'The config file must be a valid interface name, followed by .conf'],
    ['/x/wg0.cfg', ['/x/wg0.cfg'], 'The config file must be a valid interface name, followed by .conf'],
  ])('%s refused', (arg, existing, message) => {
    expect(() => resolveQuickTarget(arg, fs(existing))).toThrow(message);
  });
});

describe('parseQuickConfig: line numbers of the wg part', () => {
  it('maps each line of wgText to its line in the file, past the lines wg-quick takes out', () => {
    const text = '[Interface]\n# comment\nAddress = 10.0.0.1/24\nDNS = 1.1.1.1\nMTU = 1400\nPostUp = true\nTable = off\nBogus = 1\n\n[Peer]\nPublicKey = x\nAddress = kept\n';
    const { wgText, wgLines } = parseQuickConfig(text, 'f');
    const fileLines = text.split('\n');
    const kept = wgText.split('\n').slice(0, -1);
    expect(kept.length).toBe(wgLines.length);
    kept.forEach((line, i) => expect(fileLines[wgLines[i]! - 1]).toBe(line));
    expect(wgLines[kept.indexOf('Bogus = 1')]).toBe(8);
  });
});
