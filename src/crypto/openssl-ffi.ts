/**
 * ChaCha20-Poly1305 (RFC 8439 §2.8) through OpenSSL's EVP interface (LIBCRYPTO_SOURCES), called with koffi on two
 * reused EVP_CIPHER_CTXs (one per direction), encrypting straight into the datagram buffer. This is the project's one
 * native-crypto binding: it loads a shared library once, then only computes on the caller's
 * buffers. primitives.ts chooses it for the data path after checking it against node:crypto, and
 * falls back to node:crypto when it does not load (see "Data-path AEAD" there for the numbers).
 *
 * Key material: each context (and its private copy, see KeyedContext) holds the last key it was
 * given until a packet under another key re-keys it or `wipe` is called.
 */
import { createRequire } from 'node:module';

const TAG_LEN = 16; // the Poly1305 tag (RFC 8439 §2.5); primitives.ts's AEAD_TAG_LEN
const EVP_CTRL_AEAD_GET_TAG = 0x10; // openssl/evp.h
const EVP_CTRL_AEAD_SET_TAG = 0x11;

/** The data path's AEAD on libcrypto. Keys are raw 32 bytes, nonces 12 bytes. */
export interface LibcryptoAead {
  /**
   * Writes ChaCha20-Poly1305(plaintext || padLen zero bytes) || tag at `out[outOff..]` and returns
   * the bytes written. `plaintext` may be those very bytes of `out` but must not overlap them otherwise. Throws (with the body wiped) if any EVP call fails, so a packet holding
   * plaintext or a stale tag is never sent.
   */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, padLen: number, out: Uint8Array, outOff: number): number;
  /** Opens `sealed` (ciphertext || tag) into `out` (sealed.length − 16 bytes); false if it does not authenticate. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, out: Uint8Array): boolean;
  /** Re-keys the context with zeros so it no longer holds a session key. */
  wipe(): void;
}

type Fn<A extends unknown[]> = (...args: A) => number;

/** A view of `b[start, start + len)`: koffi passes a typed array's own bytes, at its offset. */
const view = (b: Uint8Array, start: number, len: number) => new Uint8Array(b.buffer, b.byteOffset + start, len);

type Init = Fn<[unknown, unknown, null, Uint8Array | null, Uint8Array | null, number]>;

/**
 * One EVP context per direction, re-keyed only when the key changes: a nonce-only
 * EVP_CipherInit_ex costs ~0.1 µs less than key + nonce (docs/benchmarks.md "Where the time goes:
 * ChaCha20-Poly1305 per packet"), and with one context for both directions every packet of a
 * two-way stream re-keyed. The key is compared by value against a private copy, so a key wiped in
 * place (Keypair.zero) is never mistaken for the one the context still holds.
 */
class KeyedContext {
  private readonly held = new Uint8Array(32);
  private keyed = false;
  constructor(
    readonly ctx: unknown,
    private readonly init: Init,
    private readonly enc: 0 | 1,
  ) {}

  /** Sets key (when it differs from the one held) and nonce; false if OpenSSL refuses. */
  start(key: Uint8Array, nonce: Uint8Array): boolean {
    const held = this.held;
    let same = this.keyed && key.length === 32;
    for (let i = 0; same && i < 32; i++) same = held[i] === key[i];
    if (same) return this.init(this.ctx, null, null, null, nonce, this.enc) === 1;
    this.keyed = false;
    if (this.init(this.ctx, null, null, key, nonce, this.enc) !== 1) return false;
    if (key.length === 32) {
      held.set(key);
      this.keyed = true;
    }
    return true;
  }

  /** Re-keys with zeros and forgets the held key. */
  wipe(): void {
    this.held.fill(0);
    this.keyed = false;
    this.init(this.ctx, null, null, this.held, new Uint8Array(12), this.enc);
  }
}

type Library = { func(sig: string): (...args: unknown[]) => unknown };

/**
 * Where the EVP functions are looked up, in order. null is the running program: Node links OpenSSL
 * in and exports its symbols for native addons (a node built against the system's OpenSSL finds
 * them in its libcrypto the same way), so the data path maps no second OpenSSL: about 2.5 MiB less
 * resident, and some 35 ms less on the main thread when the first packet needs it. The system's
 * libcrypto.so.3 is the fallback for a node that does not export them.
 */
const LIBCRYPTO_SOURCES = [null, 'libcrypto.so.3'] as const;

/** The AEAD from the first source that has it; null when koffi or every source is missing. */
export function loadLibcryptoAead(sources: readonly (string | null)[] = LIBCRYPTO_SOURCES): LibcryptoAead | null {
  let koffi: { load(name: string | null): Library };
  try {
    koffi = createRequire(import.meta.url)('koffi') as typeof koffi;
  } catch {
    return null;
  }
  for (const source of sources) {
    const aead = aeadFrom(koffi, source);
    if (aead) return aead;
  }
  return null;
}

/** The AEAD on one library's EVP functions; null when they are missing or the contexts cannot be set up. */
function aeadFrom(koffi: { load(name: string | null): Library }, source: string | null): LibcryptoAead | null {
  try {
    const lib = koffi.load(source);
    const newCtx = lib.func('void *EVP_CIPHER_CTX_new()') as () => unknown;
    const cipher = (lib.func('const void *EVP_chacha20_poly1305()') as () => unknown)();
    const init = lib.func(
      'int EVP_CipherInit_ex(void *ctx, const void *cipher, void *eng, const uint8_t *key, const uint8_t *iv, int enc)',
    ) as Init;
    const update = lib.func('int EVP_CipherUpdate(void *ctx, uint8_t *out, int *outl, const uint8_t *in, int inl)') as Fn<
      [unknown, Uint8Array, Int32Array, Uint8Array, number]
    >;
    const final = lib.func('int EVP_CipherFinal_ex(void *ctx, uint8_t *out, int *outl)') as Fn<[unknown, Uint8Array, Int32Array]>;
    const ctrl = lib.func('int EVP_CIPHER_CTX_ctrl(void *ctx, int type, int arg, uint8_t *ptr)') as Fn<[unknown, number, number, Uint8Array]>;
    const outl = new Int32Array(1);
    // The tag travels through this scratch (a 16-byte copy is cheaper than a view per packet).
    const tag = new Uint8Array(TAG_LEN);
    const sealCtx = newCtx();
    const openCtx = newCtx();
    if (!sealCtx || !openCtx || !cipher) return null;
    if (init(sealCtx, cipher, null, null, null, 1) !== 1 || init(openCtx, cipher, null, null, null, 0) !== 1) return null;
    const sealer = new KeyedContext(sealCtx, init, 1);
    const opener = new KeyedContext(openCtx, init, 0);
    return {
      seal(key, nonce, plaintext, padLen, out, outOff) {
        const ptLen = plaintext.length;
        const len = ptLen + padLen;
        const body = view(out, outOff, len);
        // The plaintext is encrypted from where it is into `out` (no copy first); the zero padding
        // after it, in place with a second update (the stream continues, RFC 8439 §2.8).
        const pad = padLen ? view(out, outOff + ptLen, padLen).fill(0) : null;
        // Each EVP call answers 1 on success.
        const ok =
          sealer.start(key, nonce) &&
          (ptLen === 0 || update(sealCtx, body, outl, plaintext, ptLen) === 1) &&
          (pad === null || update(sealCtx, pad, outl, pad, padLen) === 1) &&
          final(sealCtx, tag, outl) === 1 && // writes nothing for a stream cipher
          ctrl(sealCtx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag) === 1;
        if (!ok) {
          body.fill(0);
          throw new Error('OpenSSL ChaCha20-Poly1305 seal failed');
        }
        const at = outOff + len;
        for (let i = 0; i < TAG_LEN; i++) out[at + i] = tag[i]!;
        return len + TAG_LEN;
      },
      open(key, nonce, sealed, out) {
        const ctLen = sealed.length - TAG_LEN;
        if (!opener.start(key, nonce)) return false;
        // OpenSSL reads the expected tag from this buffer, it does not write it.
        for (let i = 0; i < TAG_LEN; i++) tag[i] = sealed[ctLen + i]!;
        if (ctrl(openCtx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) !== 1) return false;
        if (ctLen && update(openCtx, out, outl, sealed, ctLen) !== 1) return false; // reads only the first ctLen bytes
        return final(openCtx, out, outl) === 1;
      },
      wipe() {
        sealer.wipe();
        opener.wipe();
      },
    };
  } catch {
    return null;
  }
}
