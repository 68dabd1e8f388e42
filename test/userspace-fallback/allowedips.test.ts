import { describe, expect, it } from 'vitest';
import { AllowedIps } from '../../src/userspace-fallback/allowedips.js';

const v4 = (s: string) => Uint8Array.from(s.split('.').map(Number));
function v6(s: string): Uint8Array {
  const [h, t] = s.split('::');
  const hg = h ? h.split(':') : [], tg = t ? t.split(':') : [];
  const groups = t === undefined ? hg : [...hg, ...Array(8 - hg.length - tg.length).fill('0'), ...tg];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => { const n = parseInt(g, 16); out[i * 2] = n >> 8; out[i * 2 + 1] = n & 0xff; });
  return out;
}

describe('allowed ips: fixed cases (in the spirit of the kernel selftest)', () => {
  it('longest prefix wins, moves, removal, masking, enumeration order', () => {
    const t = new AllowedIps<string>();
    t.insert(4, v4('192.168.4.0'), 24, 'a');
    t.insert(4, v4('192.168.4.4'), 32, 'b');
    t.insert(4, v4('192.168.0.0'), 16, 'c');
    t.insert(4, v4('192.95.5.64'), 27, 'c');
    t.insert(4, v4('192.95.5.65'), 27, 'c'); // same prefix after masking
    t.insert(4, v4('0.0.0.0'), 0, 'd');
    t.insert(6, v6('2607:5300:60:6b00::'), 56, 'd');
    t.insert(6, v6('2607:5300:60:6b00::c05f:543'), 128, 'e');
    t.insert(6, v6('2001:db8::'), 98, 'f');
    t.insert(6, v6('2001:db8::'), 83, 'g');
    t.insert(6, v6('2001:db8::'), 21, 'h');
    expect(t.lookup(4, v4('192.168.4.20'))).toBe('a');
    expect(t.lookup(4, v4('192.168.4.4'))).toBe('b');
    expect(t.lookup(4, v4('192.168.200.182'))).toBe('c');
    expect(t.lookup(4, v4('192.95.5.68'))).toBe('c');
    expect(t.lookup(4, v4('192.95.5.96'))).toBe('d');
    expect(t.lookup(4, v4('8.8.8.8'))).toBe('d');
    expect(t.lookup(6, v6('2607:5300:60:6b00::c05f:543'))).toBe('e');
    expect(t.lookup(6, v6('2607:5300:60:6b00::c02e:1ee'))).toBe('d');
    expect(t.lookup(6, v6('2607:5300:60:6c00::1'))).toBeNull();
    expect(t.lookup(6, v6('2001:db8::1'))).toBe('f');
    expect(t.lookup(6, v6('2001:db8::1:0:0'))).toBe('g');
    expect(t.lookup(6, v6('2001:dbf::1'))).toBe('h');
    expect(t.lookup(6, v6('2001:1000::1'))).toBeNull();
    expect(t.entriesForPeer('c').map((e) => [e.addr.join('.'), e.cidr])).toEqual([['192.168.0.0', 16], ['192.95.5.64', 27]]);
    // Moving a prefix to another peer.
    t.insert(4, v4('192.168.0.0'), 16, 'a');
    expect(t.lookup(4, v4('192.168.200.182'))).toBe('a');
    expect(t.entriesForPeer('c').length).toBe(1);
    expect(t.entriesForPeer('a').map((e) => e.cidr)).toEqual([24, 16]);
    // Removal only by the owner of the exact prefix.
    expect(t.remove(4, v4('192.168.4.0'), 24, 'b')).toBe(false);
    expect(t.remove(4, v4('192.168.4.0'), 23, 'a')).toBe(false);
    expect(t.remove(4, v4('192.168.4.7'), 24, 'a')).toBe(true);
    expect(t.lookup(4, v4('192.168.4.20'))).toBe('a'); // now via /16
    t.removeByPeer('a');
    expect(t.lookup(4, v4('192.168.4.20'))).toBe('d');
    expect(t.lookup(4, v4('192.168.4.4'))).toBe('b');
    expect(t.entriesForPeer('a')).toEqual([]);
    expect(() => t.insert(4, v4('1.2.3.4'), 33, 'x')).toThrow(RangeError);
  });
  it('lookup at an offset inside a packet', () => {
    const t = new AllowedIps<string>();
    t.insert(4, v4('10.0.0.0'), 8, 'p');
    const pkt = new Uint8Array(20);
    pkt.set(v4('10.1.2.3'), 12);
    expect(t.lookup(4, pkt, 12)).toBe('p');
  });
});

describe('allowed ips vs a naive list under seeded random inserts, removals and lookups', () => {
  function rng(seed: number) {
    return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  }
  function naiveLookup(list: { addr: Uint8Array; cidr: number; peer: number }[], a: Uint8Array) {
    let best: { cidr: number; peer: number } | null = null;
    for (const e of list) {
      let ok = true;
      for (let bit = 0; bit < e.cidr; bit++) {
        const m = 0x80 >> (bit & 7);
        if ((e.addr[bit >> 3]! & m) !== (a[bit >> 3]! & m)) { ok = false; break; }
      }
      if (ok && (best === null || e.cidr > best.cidr)) best = e;
    }
    return best ? best.peer : null;
  }
  for (const [family, len] of [[4, 4], [6, 16]] as const) {
    it(`IPv${family}`, () => {
      const r = rng(family * 7919);
      const t = new AllowedIps<number>();
      const list: { addr: Uint8Array; cidr: number; peer: number }[] = [];
      // Addresses drawn from a small space so prefixes overlap a lot.
      const addr = () => { const a = new Uint8Array(len); for (let i = 0; i < len; i++) a[i] = i < 2 ? (r() < 0.5 ? 10 : 11) : Math.floor(r() * 256) & (r() < 0.5 ? 0xf0 : 0xff); return a; };
      const mask = (a: Uint8Array, c: number) => { const o = a.slice(); for (let b = c; b < len * 8; b++) o[b >> 3]! &= ~(0x80 >> (b & 7)); return o; };
      const key = (a: Uint8Array, c: number) => `${mask(a, c).join(',')}/${c}`;
      const byKey = new Map<string, { addr: Uint8Array; cidr: number; peer: number }>();
      let mismatches = 0;
      for (let i = 0; i < 2000; i++) {
        const a = addr(), c = Math.floor(r() * (len * 8 + 1)), peer = Math.floor(r() * 20);
        if (r() < 0.25 && list.length) {
          const e = list[Math.floor(r() * list.length)]!;
          expect(t.remove(family, e.addr, e.cidr, e.peer)).toBe(true);
          list.splice(list.indexOf(e), 1);
          byKey.delete(key(e.addr, e.cidr));
        } else if (r() < 0.02) {
          t.removeByPeer(peer);
          for (let j = list.length - 1; j >= 0; j--) if (list[j]!.peer === peer) byKey.delete(key(list[j]!.addr, list[j]!.cidr)), list.splice(j, 1);
        } else {
          t.insert(family, a, c, peer);
          const k = key(a, c);
          const old = byKey.get(k);
          if (old) list.splice(list.indexOf(old), 1);
          const e = { addr: mask(a, c), cidr: c, peer };
          list.push(e);
          byKey.set(k, e);
        }
        for (let j = 0; j < 4; j++) {
          // Half the queries fall inside a known prefix (random host bits), so deep prefixes match.
          let q = addr();
          if (j & 1 && list.length) {
            const e = list[Math.floor(r() * list.length)]!;
            q = e.addr.slice();
            for (let b = e.cidr; b < len * 8; b++) if (r() < 0.5) q[b >> 3]! ^= 0x80 >> (b & 7);
          }
          if (t.lookup(family, q) !== naiveLookup(list, q)) mismatches++;
        }
      }
      expect(mismatches).toBe(0);
      for (let p = 0; p < 20; p++) {
        expect(t.entriesForPeer(p).map((e) => key(e.addr, e.cidr)).sort()).toEqual(list.filter((e) => e.peer === p).map((e) => key(e.addr, e.cidr)).sort());
      }
    });
  }
});
