import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  aeadOpen, aeadOpenInto, aeadSeal, aeadSealInto, clamp, generatePrivateKey, hash, kdf1, kdf2, kdf3, mac,
  publicKeyFromPrivate, randomBytes, tai64n, x25519, xaeadOpen, xaeadSeal,
} from '../../src/crypto/primitives.js';
import { dataCryptoBackend, openData, sealPadded, setDataCryptoBackend, writeNonce } from '../../src/crypto/primitives.js';
import { loadLibcryptoAead } from '../../src/crypto/openssl-ffi.js';
import { blake2s } from '@noble/hashes/blake2.js';
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const vec = (name: string) => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8'));

describe('crypto vectors', () => {
  const kdfv = vec('kdf.json');
  it('KDF1/2/3 vectors', () => {
   for (const v of kdfv.vectors) {
    const k = hex(v.key), inp = hex(v.input);
    expect(toHex(kdf1(k, inp))).toBe(v.t1);
    expect(kdf2(k, inp).map(toHex)).toEqual([v.t1, v.t2]);
    expect(kdf3(k, inp).map(toHex)).toEqual([v.t1, v.t2, v.t3]);
   }
  });

  const p = vec('primitives.json');
  it('x25519 known answers, low-order points give null', () => {
    for (const v of p.x25519) {
      const r = x25519(hex(v.priv), hex(v.pub));
      expect(r === null ? null : toHex(r)).toBe(v.shared);
    }
    for (const v of p.x25519_public) expect(toHex(publicKeyFromPrivate(hex(v.priv)))).toBe(v.pub);
  });
  it('ChaCha20-Poly1305 and XChaCha20-Poly1305 known answers', () => {
    for (const v of p.aead) {
      const out = new Uint8Array(hex(v.plaintext).length + 16);
      aeadSealInto(hex(v.key), hex(v.nonce), hex(v.plaintext), hex(v.aad), out, 0);
      expect(toHex(out)).toBe(v.sealed);
      const back = new Uint8Array(out.length - 16);
      expect(aeadOpenInto(hex(v.key), hex(v.nonce), out, hex(v.aad), back, 0)).toBe(back.length);
      expect(toHex(back)).toBe(v.plaintext);
      out[3]! ^= 1;
      expect(aeadOpenInto(hex(v.key), hex(v.nonce), out, hex(v.aad), back, 0)).toBe(-1);
    }
    for (const v of p.xaead) {
      expect(toHex(xaeadSeal(hex(v.key), hex(v.nonce), hex(v.plaintext), hex(v.aad)))).toBe(v.sealed);
      expect(toHex(xaeadOpen(hex(v.key), hex(v.nonce), hex(v.sealed), hex(v.aad))!)).toBe(v.plaintext);
      expect(xaeadOpen(hex(v.key), hex(v.nonce), hex(v.sealed), new Uint8Array(1))).toBeNull();
    }
  });
  it('BLAKE2s and the initial chaining key / hash', () => {
    for (const v of p.blake2s) expect(toHex(hash(hex(v.input)))).toBe(v.digest);
    const ci = hash(Buffer.from(p.initial.construction));
    expect(toHex(ci)).toBe(p.initial.ci);
    expect(toHex(hash(ci, Buffer.from(p.initial.identifier)))).toBe(p.initial.hi);
  });
});

describe('crypto behaviour', () => {
  it('clamps exactly the bits RFC 7748 decodeScalar25519 sets and clears, in place', () => {
    const ones = new Uint8Array(32).fill(0xff);
    expect(clamp(ones)).toBe(ones);
    expect([...ones]).toEqual([0xf8, ...new Array<number>(30).fill(0xff), 0x7f]);
    const zeros = new Uint8Array(32);
    expect([...clamp(zeros)]).toEqual([...new Array<number>(31).fill(0), 0x40]);
  });
  it('generated keys are clamped and agree on a shared secret', () => {
    const a = generatePrivateKey(), b = generatePrivateKey();
    expect(a[0]! & 7).toBe(0);
    expect(a[31]! & 0xc0).toBe(0x40);
    const s1 = x25519(a, publicKeyFromPrivate(b))!, s2 = x25519(b, publicKeyFromPrivate(a))!;
    expect(toHex(s1)).toBe(toHex(s2));
    expect(toHex(s1)).toBe(toHex(nobleX25519.getSharedSecret(a, publicKeyFromPrivate(b))));
  });
  it('keyed MAC is BLAKE2s with a 16-byte digest in the parameter block, not a truncation', () => {
    const k = randomBytes(32), m = randomBytes(100);
    const t = mac(k, m.subarray(0, 10), m.subarray(10));
    expect(t.length).toBe(16);
    expect(toHex(t)).toBe(toHex(blake2s(m, { key: k, dkLen: 16 })));
    expect(toHex(t)).not.toBe(toHex(blake2s(m, { key: k }).subarray(0, 16)));
  });
  it('handshake AEAD round-trips and rejects a wrong aad', () => {
    const k = randomBytes(32);
    const s = aeadSeal(k, new Uint8Array(0), hex('aa'));
    expect(s.length).toBe(16);
    expect(aeadOpen(k, s, hex('aa'))).toEqual(new Uint8Array(0));
    expect(aeadOpen(k, s, hex('ab'))).toBeNull();
    expect(aeadOpen(k, new Uint8Array(3), hex('ab'))).toBeNull();
  });
  it('TAI64N: base 2^62+10, BE, ns rounded down to 2^24', () => {
    expect(toHex(tai64n(1700000000n, 0))).toBe('400000006553f10a00000000');
    expect(toHex(tai64n(1n, 999_999_999))).toBe('400000000000000b3b000000');
    expect(Buffer.compare(tai64n(5n, 0), tai64n(5n, 20_000_000))).toBe(-1);
  });
});

describe('data-path AEAD back ends agree', () => {
  it('openssl-ffi (when available) and node:crypto: same bytes for every length and pad, same rejections', () => {
    const auto = dataCryptoBackend();
    console.log(`data-path AEAD back end here: ${auto}`);
    const key = randomBytes(32), nonce = new Uint8Array(12);
    for (const len of [0, 1, 15, 16, 17, 100, 1420, 1500, 9000]) {
      const pt = randomBytes(len);
      const pad = len % 16 ? 16 - (len % 16) : 0;
      writeNonce(nonce, len * 1_000_003 + 2 ** 40);
      const outs = (['node:crypto', null] as const).map((b) => {
        setDataCryptoBackend(b);
        const out = new Uint8Array(len + pad + 16 + 7).fill(0xaa);
        expect(sealPadded(key, nonce, pt, pad, out, 7)).toBe(len + pad + 16);
        return out;
      });
      expect(toHex(outs[1]!)).toBe(toHex(outs[0]!));
      for (const b of ['node:crypto', null] as const) {
        setDataCryptoBackend(b);
        const sealed = outs[0]!.subarray(7);
        const back = openData(key, nonce, sealed)!;
        expect(toHex(back.subarray(0, len))).toBe(toHex(pt));
        expect(back.length).toBe(len + pad);
        const bad = sealed.slice();
        bad[bad.length - 1 - (len % 5)]! ^= 0x40;
        expect(openData(key, nonce, bad)).toBeNull();
        expect(openData(key, nonce, sealed.subarray(0, 15))).toBeNull();
      }
    }
    setDataCryptoBackend(null);
  });

  it('openssl-ffi checks lengths before it hands OpenSSL addresses: no seal past the output, no open into a short one', () => {
    const a = loadLibcryptoAead();
    if (a === null) return; // node:crypto only here: nothing of this path to check
    const key = randomBytes(32), nonce = new Uint8Array(12);
    const backing = new Uint8Array(64).fill(0x55);
    const out = backing.subarray(0, 47); // 30 + 2 padding + 16 tag = 48 needed
    expect(() => a.seal(key, nonce, randomBytes(30), 2, out, 0)).toThrow(RangeError);
    expect(() => a.seal(key, nonce, randomBytes(300), 4, new Uint8Array(400), 81)).toThrow(RangeError);
    expect(backing.subarray(47).every((x) => x === 0x55)).toBe(true);
    const sealed = new Uint8Array(48 + 16);
    expect(a.seal(key, nonce, randomBytes(48), 0, sealed, 0)).toBe(64);
    expect(a.open(key, nonce, sealed, new Uint8Array(47))).toBe(false);
    expect(a.open(key, nonce, sealed.subarray(0, 15), new Uint8Array(16))).toBe(false);
    expect(a.open(key, nonce, sealed, new Uint8Array(48))).toBe(true);
  });

  it("node's own OpenSSL and the system's libcrypto.so.3 both load and seal as node:crypto does", () => {
    const key = randomBytes(32), nonce = new Uint8Array(12);
    const pt = randomBytes(1420);
    writeNonce(nonce, 77);
    setDataCryptoBackend('node:crypto');
    const want = new Uint8Array(1420 + 4 + 16);
    sealPadded(key, nonce, pt, 4, want, 0);
    setDataCryptoBackend(null);
    for (const source of [null, 'libcrypto.so.3']) {
      const aead = loadLibcryptoAead([source]);
      expect(aead, `EVP from ${source ?? 'the node binary'}`).not.toBeNull();
      const out = new Uint8Array(want.length);
      expect(aead!.seal(key, nonce, pt, 4, out, 0)).toBe(want.length);
      expect(toHex(out)).toBe(toHex(want));
      const back = new Uint8Array(1424);
      expect(aead!.open(key, nonce, out, back)).toBe(true);
      expect(toHex(back.subarray(0, 1420))).toBe(toHex(pt));
      aead!.wipe();
    }
  });

  it('a key wiped or changed in place between packets is used as it now is, never as the context last held it', () => {
    const key = randomBytes(32), nonce = new Uint8Array(12), pt = randomBytes(64);
    const seal = (b: 'node:crypto' | null): string => {
      setDataCryptoBackend(b);
      const out = new Uint8Array(80);
      sealPadded(key, nonce, pt, 0, out, 0);
      return toHex(out);
    };
    try {
      for (const change of [(k: Uint8Array) => k.fill(0), (k: Uint8Array) => (k[31]! ^= 1)]) {
        writeNonce(nonce, 7);
        const before = seal(null);
        expect(before).toBe(seal('node:crypto'));
        const sealed = Uint8Array.from(Buffer.from(before, 'hex'));
        setDataCryptoBackend(null);
        expect(openData(key, nonce, sealed)).not.toBeNull();
        change(key);
        writeNonce(nonce, 8);
        expect(seal(null)).toBe(seal('node:crypto'));
        setDataCryptoBackend(null);
        writeNonce(nonce, 7);
        expect(openData(key, nonce, sealed)).toBeNull(); // the old key no longer opens it
      }
    } finally {
      setDataCryptoBackend(null);
    }
  });
});
