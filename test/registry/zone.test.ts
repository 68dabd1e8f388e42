import { describe, expect, it } from 'vitest';
import { classifyName, instanceName, normalizeZone, serviceName } from '../../src/registry/zone.js';
import { keyFromBase64 } from '../../src/conf/keys.js';

const KEY = keyFromBase64('xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=')!;
const B32 = 'yutrled535igkl7bdlerl6m4vjxsxm3uqqpl4nmsn27mt56ad4ha====';

describe('zone names', () => {
  it('normalises zones and rejects bad ones with the reason', () => {
    expect(normalizeZone('Example.COM.')).toBe('example.com');
    expect(() => normalizeZone('')).toThrow(/expected a domain name/);
    expect(() => normalizeZone('a..b')).toThrow(/not a valid DNS label/);
    expect(() => normalizeZone('-a.b')).toThrow(/not a valid DNS label/);
    expect(() => normalizeZone(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}`)).toThrow(/too long/);
  });

  it('builds the names wgsd serves', () => {
    expect(serviceName('example.com')).toBe('_wireguard._udp.example.com');
    expect(instanceName(KEY, 'example.com')).toBe(`${B32}._wireguard._udp.example.com`);
  });

  it('classifies query names case-insensitively, padded or not', () => {
    expect(classifyName('_WireGuard._UDP.Example.com.', 'example.com')).toEqual({ kind: 'service' });
    for (const label of [B32, B32.toUpperCase(), B32.replace(/=+$/, '')]) {
      expect(classifyName(`${label}._wireguard._udp.example.com`, 'example.com')).toEqual({ kind: 'instance', key: KEY });
    }
    expect(classifyName('example.com', 'example.com')).toEqual({ kind: 'other' });
    expect(classifyName(`x.${B32}._wireguard._udp.example.com`, 'example.com')).toEqual({ kind: 'other' });
    expect(classifyName('my======._wireguard._udp.example.com', 'example.com')).toEqual({ kind: 'other' });
    expect(classifyName('_wireguard._udp.example.org', 'example.com')).toEqual({ kind: 'outside' });
    expect(classifyName('badexample.com', 'example.com')).toEqual({ kind: 'outside' });
  });
});
