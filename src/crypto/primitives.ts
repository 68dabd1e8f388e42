/**
 * The cryptographic primitives of WireGuard (the WireGuard paper, §5.4 "Protocol Messages" and its
 * list of primitives), and the only importer of `node:crypto` and `@noble/*` in the project.
 *
 * Choice of implementation, measured on Node 20 on x86-64 (`npm run bench:crypto`,
 * test/bench/crypto.bench.ts, prints the side-by-side numbers):
 * - X25519: OpenSSL through node:crypto with the raw 32-byte keys imported as JWK takes ~75 µs per
 *   shared secret (28 µs private import + 10 µs public import + 34 µs derivation) against
 *   ~860 µs for noble's constant-time BigInt ladder, so OpenSSL it is (DER import is far slower). OpenSSL refuses an all-zero shared secret
 *   (low-order point) with an error; we turn that into `null`, as the kernel does.
 * - ChaCha20-Poly1305 on the data path: the system's OpenSSL through koffi when it loads (4× less
 *   CPU per packet than node:crypto's per-call objects, see "Data-path AEAD" below), else
 *   node:crypto; handshakes use node:crypto.
 * - BLAKE2s-256 and HMAC-BLAKE2s: node:crypto's `blake2s256` (block size 64, as WireGuard's HMAC).
 * - Keyed BLAKE2s with a 16-byte digest (mac1, mac2, cookies): noble, because OpenSSL's digest has
 *   no key or output-length parameters (the digest length lives in the parameter block, so it is
 *   not a truncation of BLAKE2s-256).
 * - XChaCha20-Poly1305 (cookie replies only): noble, node:crypto has no XChaCha.
 *
 * Key material: every `Key` argument and most results here are secrets. Scratch values derived
 * inside these functions (the HKDF PRK, intermediate τ's) are wiped before returning.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomFillSync,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { keysEqual } from '../conf/keys.js';
import { KEY_LEN, type Key } from '../conf/model.js';
import { loadLibcryptoAead, type LibcryptoAead } from './openssl-ffi.js';
import { allocPacket } from './queue-slab.js';

export const HASH_LEN = 32;
export const MAC_LEN = 16;
export const AEAD_TAG_LEN = 16;
export const XNONCE_LEN = 24;
export const TAI64N_LEN = 12;

/** Cryptographically secure random bytes. */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  randomFillSync(out);
  return out;
}

/** Clamps a Curve25519 scalar in place (RFC 7748 §5 decodeScalar25519, as wg does). */
export function clamp(k: Uint8Array): Uint8Array {
  k[0]! &= 248;
  k[31]! &= 127;
  k[31]! |= 64;
  return k;
}

/** A fresh clamped Curve25519 private key (key material). */
export function generatePrivateKey(): Key {
  return clamp(randomBytes(KEY_LEN));
}

/** A fresh 32-byte preshared key (key material). */
export function generatePresharedKey(): Key {
  return randomBytes(KEY_LEN);
}

// Raw keys enter OpenSSL as JWK (RFC 8037 OKP): measured here, importing a private key from JWK costs
// ~28 µs and a public key ~10 µs, against ~560 µs / ~240 µs through the PKCS#8/SPKI DER decoders.
// Node requires the `x` member of a private JWK but derives the public half from `d` itself (the
// x25519_public vectors in test/vectors/primitives.json check this), so a placeholder is passed.
const JWK_X_PLACEHOLDER = 'A'.repeat(43);

function b64url(k: Uint8Array): string {
  return Buffer.from(k.buffer, k.byteOffset, k.length).toString('base64url');
}

function privateKeyObject(priv: Key): KeyObject {
  if (priv.length !== KEY_LEN) throw new RangeError(`private key: expected ${KEY_LEN} bytes, got ${priv.length}`);
  // The base64url string is key material too; JS strings cannot be wiped, it dies with the GC.
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(priv), x: JWK_X_PLACEHOLDER }, format: 'jwk' });
}

function publicKeyObject(pub: Key): KeyObject {
  if (pub.length !== KEY_LEN) throw new RangeError(`public key: expected ${KEY_LEN} bytes, got ${pub.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(pub) }, format: 'jwk' });
}

/**
 * A private key imported into OpenSSL once. A static key is used for every handshake; importing it
 * each time left one more copy of the raw key behind in freed memory per import (thousands after a
 * handshake flood), so the device imports its static key once (one object per static identity) and
 * passes this object to x25519().
 */
export interface ImportedPrivateKey {
  readonly object: KeyObject;
}

export function importPrivateKey(priv: Key): ImportedPrivateKey {
  return { object: privateKeyObject(priv) };
}

/** The Curve25519 public key of a private key (the private key is clamped by X25519 itself). */
export function publicKeyFromPrivate(priv: Key | ImportedPrivateKey): Key {
  const jwk = createPublicKey(priv instanceof Uint8Array ? privateKeyObject(priv) : priv.object).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

/**
 * X25519(priv, pub) (RFC 7748 §5). Returns the 32-byte shared secret (key material), or null when
 * it is all zero (a low-order public key), which WireGuard treats as a failed handshake.
 */
export function x25519(priv: Key | ImportedPrivateKey, pub: Key): Uint8Array | null {
  let shared: Buffer;
  try {
    const privateKey = priv instanceof Uint8Array ? privateKeyObject(priv) : priv.object;
    shared = diffieHellman({ privateKey, publicKey: publicKeyObject(pub) });
  } catch {
    return null; // OpenSSL: "failed during derivation" for an all-zero result
  }
  const out = new Uint8Array(shared);
  shared.fill(0);
  let acc = 0;
  for (let i = 0; i < out.length; i++) acc |= out[i]!;
  return acc === 0 ? null : out;
}

/** HASH(parts...) = BLAKE2s-256 over the concatenation. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

/** MAC(key, parts...) = keyed BLAKE2s with a 16-byte digest (mac1, mac2, cookie). */
export function mac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create({ key, dkLen: MAC_LEN });
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * MAC with one fixed key, for checking many messages (mac1 of every incoming handshake): the key's
 * block is absorbed once and each message starts from a copy of that state (a third of the work of
 * mac() for a 116-byte message).
 */
export function macWithKey(key: Uint8Array): (msg: Uint8Array) => Uint8Array {
  const keyed = blake2s.create({ key, dkLen: MAC_LEN });
  return (msg) => keyed.clone().update(msg).digest();
}

/** HMAC-BLAKE2s (RFC 2104, 64-byte block, 32-byte output). Used only inside the KDF. */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

/** The hashes TSIG (RFC 8945 §6) signs DNS updates with, for the registry's export. */
export type ShaName = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** HMAC-SHA-x (RFC 2104) over `parts`; for TSIG, not for the WireGuard protocol. */
export function hmacSha(hash: ShaName, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac(hash, key);
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

/** Compares two byte strings in time independent of their contents (false if the lengths differ). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

const ONE = new Uint8Array([1]);
const TWO = new Uint8Array([2]);
const THREE = new Uint8Array([3]);

/**
 * KDF_n(key, input) (HKDF with HMAC-BLAKE2s, the WireGuard paper §5.4): returns τ1..τn. All outputs are
 * key material; the PRK t0 is wiped here.
 */
export function kdf(n: 1, key: Uint8Array, input: Uint8Array): [Uint8Array];
export function kdf(n: 2, key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array];
export function kdf(n: 3, key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array];
export function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  const t0 = hmac(key, input);
  try {
    const t1 = hmac(t0, ONE);
    if (n === 1) return [t1];
    const t2 = hmac(t0, t1, TWO);
    if (n === 2) return [t1, t2];
    return [t1, t2, hmac(t0, t2, THREE)];
  } finally {
    t0.fill(0);
  }
}

export function kdf1(key: Uint8Array, input: Uint8Array): Uint8Array {
  return kdf(1, key, input)[0];
}
export function kdf2(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  return kdf(2, key, input);
}
export function kdf3(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  return kdf(3, key, input);
}

/**
 * Writes the 12-byte AEAD nonce for `counter` (an integer < 2^53; data counters are numbers here,
 * see messages.ts): 4 zero bytes then the counter as LE u64. The data path reuses one buffer per
 * keypair and direction.
 */
export function writeNonce(nonce: Uint8Array, counter: number): void {
  nonce[0] = 0;
  nonce[1] = 0;
  nonce[2] = 0;
  nonce[3] = 0;
  let lo = counter >>> 0;
  let hi = Math.floor(counter / 0x100000000);
  for (let i = 4; i < 8; i++, lo >>>= 8) nonce[i] = lo & 0xff;
  for (let i = 8; i < 12; i++, hi >>>= 8) nonce[i] = hi & 0xff;
}

const ZERO_NONCE = new Uint8Array(12);
const EMPTY = new Uint8Array(0);
/** Up to 15 zero bytes of data-packet padding (the WireGuard paper §5.4.6). */
const ZERO_PAD = new Uint8Array(16);

/**
 * ChaCha20-Poly1305 seal (RFC 8439 §2.8) with a 12-byte nonce: writes ciphertext || 16-byte tag
 * into `out` at `outOff` (needs plaintext.length + 16 bytes) and returns the bytes written.
 * The data path calls this with a reused nonce buffer; handshakes use `aeadSeal`.
 */
export function aeadSealInto(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  out: Uint8Array,
  outOff: number,
): number {
  return sealNode(key, nonce, plaintext, 0, aad, out, outOff);
}

/**
 * node:crypto's ChaCha20-Poly1305 seal of `plaintext` then `padLen` (< 16) zero bytes, with `aad`:
 * ciphertext || tag at `out[outOff..]`, returns the bytes written. Shared by the handshake path
 * and the data path's fallback, so the two cannot drift.
 */
function sealNode(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  padLen: number,
  aad: Uint8Array,
  out: Uint8Array,
  outOff: number,
): number {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_LEN });
  if (aad.length) c.setAAD(aad, { plaintextLength: plaintext.length + padLen });
  let n = 0;
  if (plaintext.length) {
    const ct = c.update(plaintext);
    out.set(ct, outOff);
    n = ct.length;
  }
  if (padLen) {
    const ct = c.update(ZERO_PAD.subarray(0, padLen));
    out.set(ct, outOff + n);
    n += ct.length;
  }
  const fin = c.final();
  if (fin.length) {
    out.set(fin, outOff + n);
    n += fin.length;
  }
  out.set(c.getAuthTag(), outOff + n);
  return n + AEAD_TAG_LEN;
}

/**
 * ChaCha20-Poly1305 open: `sealed` is ciphertext || tag. Writes the plaintext into `out` at
 * `outOff` (needs sealed.length − 16 bytes) and returns its length, or −1 if authentication fails.
 * Never throws for a bad packet.
 */
export function aeadOpenInto(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
  out: Uint8Array,
  outOff: number,
): number {
  if (sealed.length < AEAD_TAG_LEN) return -1;
  const ctLen = sealed.length - AEAD_TAG_LEN;
  try {
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_LEN });
    d.setAuthTag(sealed.subarray(ctLen));
    if (aad.length) d.setAAD(aad, { plaintextLength: ctLen });
    let n = 0;
    if (ctLen) {
      const pt = d.update(sealed.subarray(0, ctLen));
      out.set(pt, outOff);
      n = pt.length;
    }
    d.final(); // throws on a bad tag; `out` then holds unauthenticated bytes the caller must ignore
    return n;
  } catch {
    return -1;
  }
}

// ---------------------------------------------------------------------------------------------
// Data-path AEAD. Two back ends with the same results:
// - "openssl-ffi": OpenSSL (node's own, else the system's libcrypto.so.3) called through koffi
//   (openssl-ffi.ts) with reused EVP_CIPHER_CTXs (one per direction), encrypting in place into the datagram buffer. Measured (CPU time per
//   1420-byte packet): seal 1.26 µs, open 1.23 µs (+0.3 µs for the plaintext buffer), against
//   ~5 µs per seal through node:crypto, whose createCipheriv builds a cipher object, copies the
//   output into fresh Buffers and leaves them to the GC. The same OpenSSL code does the math
//   either way; the difference is per-call overhead. koffi is loaded lazily (the CLI never pays for
//   it) and the back end checks itself against node:crypto before it is used.
// - "node:crypto": the fallback when OpenSSL's EVP functions or koffi cannot be loaded.
// Key material: the shared OpenSSL contexts hold the last keys they were given until a packet
// re-keys them or `wipeDataContext` is called.
// ---------------------------------------------------------------------------------------------

export type DataCryptoBackend = 'openssl-ffi' | 'node:crypto';
let ossl: LibcryptoAead | null | undefined; // undefined = not tried yet
let forced: DataCryptoBackend | null = null;

/** libcrypto through FFI if it loads and agrees with node:crypto, else null. */
function loadOpenSsl(): LibcryptoAead | null {
  const a = loadLibcryptoAead();
  return a !== null && selfTest(a) ? a : null;
}

/**
 * Checks the FFI back end against node:crypto on random input, at an odd offset, both ways; twice
 * under one key (the second time only the nonce changes, see openssl-ffi.ts KeyedContext) and once
 * under a key changed in place, which must not be taken for the one the context holds.
 */
function selfTest(a: LibcryptoAead): boolean {
  const key = randomBytes(32);
  for (let round = 0; round < 3; round++) {
    if (round === 2) key[0]! ^= 1;
    const nonce = randomBytes(12);
    const pt = randomBytes(101 + round);
    const ref = new Uint8Array(pt.length + 11 + AEAD_TAG_LEN);
    sealNode(key, nonce, pt, 11, EMPTY, ref, 0);
    const out = new Uint8Array(ref.length + 3);
    const n = a.seal(key, nonce, pt, 11, out, 3);
    if (n !== ref.length || !equalBytes(out.subarray(3), ref)) return false;
    const back = new Uint8Array(ref.length - AEAD_TAG_LEN);
    if (!a.open(key, nonce, ref, back) || !equalBytes(back.subarray(0, pt.length), pt)) return false;
    ref[5]! ^= 1;
    if (a.open(key, nonce, ref, back)) return false;
  }
  return true;
}

function dataBackend(): LibcryptoAead | null {
  if (forced === 'node:crypto') return null;
  if (ossl === undefined) ossl = loadOpenSsl();
  return ossl;
}

/** Which data-path AEAD is in use (loads the FFI back end on first call). */
export function dataCryptoBackend(): DataCryptoBackend {
  return dataBackend() === null ? 'node:crypto' : 'openssl-ffi';
}

/** Forces a back end (tests, or an operator's override); null returns to automatic choice. */
export function setDataCryptoBackend(b: DataCryptoBackend | null): void {
  forced = b;
}

/** Re-keys the shared OpenSSL contexts with zeros so they no longer hold a session key. */
export function wipeDataContext(): void {
  ossl?.wipe();
}

/**
 * Data-path seal (the WireGuard paper §5.4.6): encrypts `plaintext` followed by `padLen` (< 16) zero bytes
 * with no AAD, writing ciphertext || tag at `out[outOff..]`; returns the bytes written. Keys are
 * raw Uint8Arrays (which can be wiped) rather than KeyObjects.
 */
export function sealPadded(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  padLen: number,
  out: Uint8Array,
  outOff: number,
): number {
  const a = dataBackend();
  if (a !== null) return a.seal(key, nonce, plaintext, padLen, out, outOff);
  return sealNode(key, nonce, plaintext, padLen, EMPTY, out, outOff);
}

/**
 * Data-path open (no AAD): returns the plaintext in a buffer the caller owns, or null if `sealed`
 * (ciphertext || tag) does not authenticate. An empty plaintext (keepalive) is a zero-length array.
 * Never throws for a bad packet.
 */
export function openData(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  if (sealed.length < AEAD_TAG_LEN) return null;
  const a = dataBackend();
  const ctLen = sealed.length - AEAD_TAG_LEN;
  if (a !== null) {
    const out = ctLen ? allocPacket(ctLen) : EMPTY;
    return a.open(key, nonce, sealed, out) ? out : null;
  }
  try {
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_LEN });
    d.setAuthTag(sealed.subarray(ctLen));
    const pt = ctLen ? d.update(sealed.subarray(0, ctLen)) : EMPTY;
    d.final(); // throws on a bad tag
    return pt;
  } catch {
    return null;
  }
}

/** AEAD(k, counter 0, plaintext, aad) for handshakes: returns ciphertext || tag. */
export function aeadSeal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const out = new Uint8Array(plaintext.length + AEAD_TAG_LEN);
  aeadSealInto(key, ZERO_NONCE, plaintext, aad, out, 0);
  return out;
}

/** Opens a handshake AEAD (counter 0); null on failure. */
export function aeadOpen(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  if (sealed.length < AEAD_TAG_LEN) return null;
  const out = new Uint8Array(sealed.length - AEAD_TAG_LEN);
  const n = aeadOpenInto(key, ZERO_NONCE, sealed, aad, out, 0);
  if (n < 0) {
    out.fill(0);
    return null;
  }
  return out;
}

/** XChaCha20-Poly1305 seal (cookie replies): ciphertext || tag. */
export function xaeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** XChaCha20-Poly1305 open; null on failure (never throws for a bad packet). */
export function xaeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  if (sealed.length < AEAD_TAG_LEN || nonce.length !== XNONCE_LEN) return null;
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return null;
  }
}

const TAI64_BASE = 0x400000000000000an; // 2^62 + 10 (TAI − UTC offset as the kernel uses it)
const NSEC_ROUND = 0xffffff; // round ns down to a multiple of 2^24 (kernel and wireguard-go)

/**
 * TAI64N label of a wall-clock time (12 bytes: BE u64 seconds + 2^62 + 10, BE u32 nanoseconds
 * rounded down to a multiple of 2^24 so the peer does not learn our precise clock).
 */
export function tai64n(sec: bigint, nsec: number): Uint8Array {
  const out = new Uint8Array(TAI64N_LEN);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, TAI64_BASE + sec);
  v.setUint32(8, (nsec & ~NSEC_ROUND) >>> 0);
  return out;
}

/** Constant-time equality of two byte strings (false when lengths differ): conf/keys.ts's, one copy. */
export const equalBytes: (a: Uint8Array, b: Uint8Array) => boolean = keysEqual;

export { EMPTY as EMPTY_BYTES };
