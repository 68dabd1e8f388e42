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

/** EVP_CipherInit_ex(ctx, cipher, engine, key, iv, enc), every pointer as an address (see Addresses). */
type Init = Fn<[number, number, number, number, number, number]>;

/**
 * Addresses of typed arrays' bytes, for FFI calls made per packet that take memory as plain numbers
 * rather than typed arrays: koffi then converts no typed array and the caller makes no view per
 * argument (here: about 0.3 µs less per seal or open; system/native-copy.ts's copies). An
 * ArrayBuffer's memory does not move: V8 keeps backing stores outside its heap, and a small typed
 * array made without a buffer (whose bytes V8 may keep on its heap) gets one, for good, when its
 * `.buffer` is asked for, which `of` does first. So a buffer's address is looked up once and kept,
 * keyed weakly by the buffer. Every use is bounded by the typed array's own length first: a
 * detached buffer's views have length 0, so a stale address is never dereferenced. Each argument
 * role (source, destination) keeps its own Addresses, whose last buffer is then nearly always the
 * one asked for. The caller supplies the FFI call that answers an address.
 */
export class Addresses {
  private last: ArrayBufferLike | null = null;
  private lastAddress = 0;
  /** `addressOf(b)` answers the address of b[0] (one FFI call); `known` may be shared. */
  constructor(
    private readonly addressOf: (b: Uint8Array) => number,
    private readonly known: WeakMap<ArrayBufferLike, number>,
  ) {}

  /** The address of `b[at]`; the caller has checked `at` (and what it reads or writes) against b.length. */
  of(b: Uint8Array, at: number): number {
    const buffer = b.buffer;
    if (buffer !== this.last) {
      let a = this.known.get(buffer);
      if (a === undefined) {
        a = this.addressOf(new Uint8Array(buffer, 0, 1));
        this.known.set(buffer, a);
      }
      this.last = buffer;
      this.lastAddress = a;
    }
    return this.lastAddress + b.byteOffset + at;
  }
}

/**
 * One EVP context per direction, re-keyed only when the key changes: a nonce-only
 * EVP_CipherInit_ex costs ~0.1 µs less than key + nonce (docs/benchmarks.md "Where the time goes:
 * ChaCha20-Poly1305 per packet"), and with one context for both directions every packet of a
 * two-way stream re-keyed. The key is compared by value against a private copy, so a key wiped in
 * place (Keypair.zero) is never mistaken for the one the context still holds. Key and nonce reach
 * OpenSSL through `scratch` (its own memory: a key is copied in for the call and wiped after).
 */
class KeyedContext {
  private readonly held = new Uint8Array(32);
  private keyed = false;
  constructor(
    readonly ctx: number,
    private readonly init: Init,
    private readonly enc: 0 | 1,
    private readonly scratch: Uint8Array,
    private readonly scratchAt: number,
  ) {}

  /** Sets key (when it differs from the one held) and nonce; false if OpenSSL refuses. */
  start(key: Uint8Array, nonce: Uint8Array): boolean {
    const held = this.held;
    const s = this.scratch;
    if (nonce.length !== 12) return false;
    for (let i = 0; i < 12; i++) s[SCRATCH_NONCE + i] = nonce[i]!;
    const at = this.scratchAt;
    let same = this.keyed && key.length === 32;
    for (let i = 0; same && i < 32; i++) same = held[i] === key[i];
    if (same) return this.init(this.ctx, 0, 0, 0, at + SCRATCH_NONCE, this.enc) === 1;
    this.keyed = false;
    if (key.length !== 32) return false;
    s.set(key, SCRATCH_KEY);
    const ok = this.init(this.ctx, 0, 0, at + SCRATCH_KEY, at + SCRATCH_NONCE, this.enc) === 1;
    s.fill(0, SCRATCH_KEY, SCRATCH_KEY + 32);
    if (!ok) return false;
    held.set(key);
    this.keyed = true;
    return true;
  }

  /** Re-keys with zeros and forgets the held key. */
  wipe(): void {
    this.held.fill(0);
    this.keyed = false;
    this.scratch.fill(0, SCRATCH_KEY, SCRATCH_NONCE + 12);
    this.init(this.ctx, 0, 0, this.scratchAt + SCRATCH_KEY, this.scratchAt + SCRATCH_NONCE, this.enc);
  }
}

/** Layout of the scratch memory: a key for a re-keying call, the nonce, EVP's out-length int, zeros. */
const SCRATCH_KEY = 0;
const SCRATCH_NONCE = 32;
const SCRATCH_OUTL = 48;
const SCRATCH_ZEROS = 64; // 16 zero bytes: the data padding's plaintext
const SCRATCH_LEN = 80;
/** Plaintexts up to this long are padded in place and sealed with one update (see seal). */
const SHORT_PACKET = 256;

type Library = { func(...sig: unknown[]): (...args: unknown[]) => unknown };
type Koffi = { load(name: string | null): Library; address(ptr: unknown): bigint };

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
  let koffi: Koffi;
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
function aeadFrom(koffi: Koffi, source: string | null): LibcryptoAead | null {
  try {
    const lib = koffi.load(source);
    const newCtx = lib.func('void *EVP_CIPHER_CTX_new()') as () => unknown;
    const cipher = (lib.func('const void *EVP_chacha20_poly1305()') as () => unknown)();
    const P = 'uintptr_t';
    const init = lib.func('EVP_CipherInit_ex', 'int', [P, P, P, P, P, 'int']) as Init;
    // EVP_CipherUpdate(ctx, out, &outl, in, inl), EVP_CipherFinal_ex(ctx, out, &outl), EVP_CIPHER_CTX_ctrl(ctx, type, arg, ptr).
    const update = lib.func('EVP_CipherUpdate', 'int', [P, P, P, P, 'int']) as Fn<[number, number, number, number, number]>;
    const final = lib.func('EVP_CipherFinal_ex', 'int', [P, P, P]) as Fn<[number, number, number]>;
    const ctrl = lib.func('EVP_CIPHER_CTX_ctrl', 'int', [P, 'int', 'int', P]) as Fn<[number, number, number, number]>;
    // memcpy(b, b, 0) returns b: the address of a typed array's first byte, by documented C semantics.
    const identity = lib.func('memcpy', P, ['uint8_t *', 'uint8_t *', 'size_t']) as Fn<[Uint8Array, Uint8Array, number]>;
    const known = new WeakMap<ArrayBufferLike, number>();
    const addressOf = (b: Uint8Array) => identity(b, b, 0);
    // One per argument role, so each one's last buffer is the one asked for next (the read ring, a
    // slab, the writer ring).
    const [sealIn, sealOut, openIn, openOut] = [0, 1, 2, 3].map(() => new Addresses(addressOf, known)) as [Addresses, Addresses, Addresses, Addresses];
    // An EVP object's address (koffi.address: the raw value of a pointer object, as libc.ts uses it).
    const address = (ptr: unknown) => Number(koffi.address(ptr));
    // Two scratch areas, one per context, in memory of this module's own that nothing detaches.
    const scratch = new Uint8Array(new ArrayBuffer(2 * SCRATCH_LEN));
    const sealCtxPtr = newCtx();
    const openCtxPtr = newCtx();
    if (!sealCtxPtr || !openCtxPtr || !cipher) return null;
    const sealCtx = address(sealCtxPtr);
    const openCtx = address(openCtxPtr);
    const cipherAt = address(cipher);
    if (init(sealCtx, cipherAt, 0, 0, 0, 1) !== 1 || init(openCtx, cipherAt, 0, 0, 0, 0) !== 1) return null;
    const sealAt = sealOut.of(scratch, 0);
    const openAt = sealAt + SCRATCH_LEN;
    const sealer = new KeyedContext(sealCtx, init, 1, scratch, sealAt);
    const opener = new KeyedContext(openCtx, init, 0, scratch.subarray(SCRATCH_LEN), openAt);
    const sealOutl = sealAt + SCRATCH_OUTL;
    const openOutl = openAt + SCRATCH_OUTL;
    const zeros = sealAt + SCRATCH_ZEROS;
    return {
      seal(key, nonce, plaintext, padLen, out, outOff) {
        const ptLen = plaintext.length;
        const len = ptLen + padLen;
        // Raw addresses: every byte written or read is checked against the arrays first.
        if (!(Number.isInteger(outOff) && outOff >= 0 && padLen >= 0 && padLen <= 16 && outOff + len + TAG_LEN <= out.length)) {
          throw new RangeError('seal: output too small');
        }
        const body = sealOut.of(out, outOff);
        // The plaintext is encrypted from where it is into `out` (no copy first), the zero padding
        // after it with a second update (the stream continues, RFC 8439 §2.8). A short padded
        // packet (an ACK, a ping) is copied and padded in `out` and encrypted in place in one
        // update instead: a copy of a few dozen bytes costs less than an FFI call. Each EVP call
        // answers 1 on success; the tag goes straight after the ciphertext.
        let ok = sealer.start(key, nonce);
        if (padLen !== 0 && ptLen <= SHORT_PACKET) {
          out.set(plaintext, outOff);
          out.fill(0, outOff + ptLen, outOff + len);
          ok &&= update(sealCtx, body, sealOutl, body, len) === 1;
        } else {
          ok &&= ptLen === 0 || update(sealCtx, body, sealOutl, sealIn.of(plaintext, 0), ptLen) === 1;
          ok &&= padLen === 0 || update(sealCtx, body + ptLen, sealOutl, zeros, padLen) === 1;
        }
        ok &&= final(sealCtx, body + len, sealOutl) === 1; // writes nothing for a stream cipher
        ok &&= ctrl(sealCtx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, body + len) === 1;
        if (!ok) {
          out.fill(0, outOff, outOff + len + TAG_LEN);
          throw new Error('OpenSSL ChaCha20-Poly1305 seal failed');
        }
        return len + TAG_LEN;
      },
      open(key, nonce, sealed, out) {
        const ctLen = sealed.length - TAG_LEN;
        if (ctLen < 0 || out.length < ctLen) return false;
        if (!opener.start(key, nonce)) return false;
        const src = openIn.of(sealed, 0);
        // OpenSSL copies the expected tag in; it is checked at final.
        if (ctrl(openCtx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, src + ctLen) !== 1) return false;
        if (ctLen && update(openCtx, openOut.of(out, 0), openOutl, src, ctLen) !== 1) return false;
        return final(openCtx, ctLen ? openOut.of(out, ctLen) : openAt, openOutl) === 1; // writes nothing for a stream cipher
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
