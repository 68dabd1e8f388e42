/**
 * The measurements behind crypto/primitives.ts's choices, side by side in one run (`npm run
 * bench:crypto`, vitest's bench mode; not part of `vitest run`): X25519 through OpenSSL
 * (node:crypto) against noble's BigInt ladder, and the data path's ChaCha20-Poly1305 seal of a
 * 1420-byte packet through libcrypto via FFI against node:crypto's per-call cipher objects.
 */
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { bench, describe } from 'vitest';
import {
  AEAD_TAG_LEN,
  dataCryptoBackend,
  generatePrivateKey,
  publicKeyFromPrivate,
  randomBytes,
  sealPadded,
  setDataCryptoBackend,
  x25519,
} from '../../src/crypto/primitives.js';

describe('X25519 shared secret', () => {
  const a = generatePrivateKey();
  const pub = publicKeyFromPrivate(generatePrivateKey());
  bench('node:crypto (OpenSSL, JWK import)', () => {
    x25519(a, pub);
  });
  bench('@noble/curves', () => {
    nobleX25519.getSharedSecret(a, pub);
  });
});

describe('data-path seal, 1420-byte packet', () => {
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const pt = randomBytes(1420);
  const out = new Uint8Array(pt.length + AEAD_TAG_LEN);
  const seal = () => {
    sealPadded(key, nonce, pt, 0, out, 0);
  };
  for (const b of ['openssl-ffi', 'node:crypto'] as const) {
    bench(b, seal, {
      setup: () => setDataCryptoBackend(b),
      teardown: () => setDataCryptoBackend(null),
    });
  }
  // Without libcrypto.so.3 or koffi the "openssl-ffi" row silently measures node:crypto.
  bench.skipIf(dataCryptoBackend() === 'openssl-ffi')('(openssl-ffi did not load on this machine)', () => {});
});
