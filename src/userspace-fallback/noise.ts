/**
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses it (the WireGuard paper §5.4.2–5.4.5; the kernel's
 * noise.c structure, written afresh):
 *
 *   IKpsk2:
 *     <- s
 *     ...
 *     -> e, es, s, ss, {t}
 *     <- e, ee, se, psk, {}
 *
 * The initiator knows the responder's static key in advance (`<- s`). Message 1 carries the
 * initiator's ephemeral, its encrypted static key and an encrypted TAI64N timestamp; message 2 the
 * responder's ephemeral and an empty encrypted payload that proves it holds the keys. Each
 * create/consume body below is cut into those steps, labelled as in the pattern.
 *
 * This module is pure: time, randomness for indices and the peer table come in as arguments. mac1
 * and mac2 are cookie.ts's business (the macs fields are left zero here and checked before these
 * functions run).
 *
 * Key material: Handshake.{chainingKey, hash, ephemeralPrivate, presharedKey,
 * precomputedStaticStatic}, Keypair.{sendKey, receiveKey}, StaticIdentity.privateKey and every
 * scratch `k`/`dh` below. Scratch secrets are wiped on every exit path (try/finally).
 */
import {
  aeadOpen,
  aeadSeal,
  EMPTY_BYTES,
  generatePrivateKey,
  hash,
  kdf1,
  kdf2,
  kdf3,
  publicKeyFromPrivate,
  x25519,
  type ImportedPrivateKey,
} from '../crypto/primitives.js';
import {
  AEAD_TAG_LEN,
  INIT_OFF_EPHEMERAL,
  INIT_OFF_SENDER,
  INIT_OFF_STATIC,
  INIT_OFF_TIMESTAMP,
  KEY_LEN,
  MESSAGE_INITIATION,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_RESPONSE,
  MESSAGE_RESPONSE_SIZE,
  MIN_INITIATION_INTERVAL,
  readU32,
  RESP_OFF_EMPTY,
  RESP_OFF_EPHEMERAL,
  RESP_OFF_RECEIVER,
  RESP_OFF_SENDER,
  TIMESTAMP_LEN,
  writeU32,
} from './messages.js';
import { ReplayWindow } from './replay.js';

const enc = new TextEncoder();
export const CONSTRUCTION = enc.encode('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
export const IDENTIFIER = enc.encode('WireGuard v1 zx2c4 Jason@zx2c4.com');
/** Ci = HASH(CONSTRUCTION). */
export const INITIAL_CHAINING_KEY = hash(CONSTRUCTION);
/** Hi = HASH(Ci || IDENTIFIER). */
export const INITIAL_HASH = hash(INITIAL_CHAINING_KEY, IDENTIFIER);

/** The handshake's state machine (noise_handshake_state). */
export const HandshakeState = {
  ZEROED: 0,
  CREATED_INITIATION: 1,
  CONSUMED_INITIATION: 2,
  CREATED_RESPONSE: 3,
  CONSUMED_RESPONSE: 4,
} as const;
export type HandshakeState = (typeof HandshakeState)[keyof typeof HandshakeState];

/**
 * The device's static identity. privateKey is key material; `imported` is the same key inside
 * OpenSSL, made once per key (crypto/primitives.ts importPrivateKey) and used for every DH with it.
 */
export interface StaticIdentity {
  privateKey: Uint8Array | null;
  publicKey: Uint8Array | null;
  imported?: ImportedPrivateKey | null;
}

/** The static key to compute a DH with: the imported object when the identity has one. */
function staticKey(identity: StaticIdentity): Uint8Array | ImportedPrivateKey {
  return identity.imported ?? identity.privateKey!;
}

/** Per-peer handshake state. One per peer; reused across handshakes. */
export class Handshake {
  state: HandshakeState = HandshakeState.ZEROED;
  /** Key material. */
  readonly chainingKey = new Uint8Array(KEY_LEN);
  /** Key material (transcript hash). */
  readonly hash = new Uint8Array(KEY_LEN);
  /** Key material. */
  readonly ephemeralPrivate = new Uint8Array(KEY_LEN);
  readonly remoteEphemeral = new Uint8Array(KEY_LEN);
  localIndex = 0;
  remoteIndex = 0;
  /** Greatest TAI64N timestamp accepted from this peer (kept for the peer's lifetime). */
  readonly latestTimestamp = new Uint8Array(TIMESTAMP_LEN);
  /** Monotonic ms of the last consumed initiation (flood check). */
  lastInitiationConsumed = -Infinity;
  /** All-zero = no preshared key. Key material. */
  readonly presharedKey = new Uint8Array(KEY_LEN);
  /** DH(our static, their static), or null if our key is unset or the result is all zero. Key material. */
  precomputedStaticStatic: Uint8Array | null = null;

  constructor(readonly remoteStatic: Uint8Array) {}

  /** Recomputes the static-static DH after the device key changed. */
  precompute(identity: StaticIdentity): void {
    this.precomputedStaticStatic?.fill(0);
    this.precomputedStaticStatic = identity.privateKey ? x25519(staticKey(identity), this.remoteStatic) : null;
  }

  /** Forgets the in-progress handshake (keeps timestamps, psk and the precomputation). */
  clear(): void {
    this.chainingKey.fill(0);
    this.hash.fill(0);
    this.ephemeralPrivate.fill(0);
    this.remoteEphemeral.fill(0);
    this.remoteIndex = 0;
    this.state = HandshakeState.ZEROED;
  }

  /** Wipes everything (peer removed). */
  destroy(): void {
    this.clear();
    this.presharedKey.fill(0);
    this.precomputedStaticStatic?.fill(0);
    this.precomputedStaticStatic = null;
  }
}

/** One session's transport keys and counters (noise_keypair). */
export class Keypair {
  sendCounter = 0;
  readonly replay = new ReplayWindow();
  /** Reused 12-byte nonce buffers for the data path (4 zero bytes || LE counter). */
  readonly sendNonce = new Uint8Array(12);
  readonly receiveNonce = new Uint8Array(12);
  /** Cleared when this keypair may no longer send (key change); receive still works. */
  canSend = true;
  constructor(
    /** Key material. */ readonly sendKey: Uint8Array,
    /** Key material. */ readonly receiveKey: Uint8Array,
    readonly isInitiator: boolean,
    /** Monotonic ms. */ readonly birth: number,
    readonly localIndex: number,
    readonly remoteIndex: number,
  ) {}

  zero(): void {
    this.sendKey.fill(0);
    this.receiveKey.fill(0);
    this.canSend = false;
  }
}

// ---- Noise helpers (names from the paper / noise.c) ----

/** H = HASH(H || data), in place. */
function mixHash(h: Uint8Array, data: Uint8Array): void {
  const n = hash(h, data);
  h.set(n);
  n.fill(0);
}

/** C = KDF1(C, data), in place. */
function mixKey(c: Uint8Array, data: Uint8Array): void {
  const n = kdf1(c, data);
  c.set(n);
  n.fill(0);
}

/** (C, k) = KDF2(C, DH(priv, pub)); returns k (key material) or null on an all-zero DH. */
function mixDh(c: Uint8Array, priv: Uint8Array | ImportedPrivateKey, pub: Uint8Array): Uint8Array | null {
  const dh = x25519(priv, pub);
  if (dh === null) return null;
  return mixPrecomputedDh(c, dh, true);
}

/** (C, k) = KDF2(C, dh); wipes dh when `wipe`. */
function mixPrecomputedDh(c: Uint8Array, dh: Uint8Array, wipe: boolean): Uint8Array {
  const [nc, k] = kdf2(c, dh);
  if (wipe) dh.fill(0);
  c.set(nc);
  nc.fill(0);
  return k;
}

/** C = KDF1(C, DH(priv, pub)); false on an all-zero DH. */
function mixDhChainOnly(c: Uint8Array, priv: Uint8Array | ImportedPrivateKey, pub: Uint8Array): boolean {
  const dh = x25519(priv, pub);
  if (dh === null) return false;
  mixKey(c, dh);
  dh.fill(0);
  return true;
}

/** (C, τ, k) = KDF3(C, Q); H = HASH(H || τ); returns k. */
function mixPsk(c: Uint8Array, h: Uint8Array, psk: Uint8Array): Uint8Array {
  const [nc, tau, k] = kdf3(c, psk);
  c.set(nc);
  nc.fill(0);
  mixHash(h, tau);
  tau.fill(0);
  return k;
}

/** EncryptAndHash: msg[off..] = AEAD(k, 0, plaintext, H); H = HASH(H || ciphertext). */
function encryptAndHash(k: Uint8Array, plaintext: Uint8Array, h: Uint8Array, msg: Uint8Array, off: number): void {
  const sealed = aeadSeal(k, plaintext, h);
  msg.set(sealed, off);
  mixHash(h, sealed);
}

/** DecryptAndHash: opens msg[off, off+len) under H, then H = HASH(H || ciphertext); null on failure. */
function decryptAndHash(k: Uint8Array, h: Uint8Array, msg: Uint8Array, off: number, len: number): Uint8Array | null {
  const sealed = msg.subarray(off, off + len);
  const plain = aeadOpen(k, sealed, h);
  if (plain !== null) mixHash(h, sealed);
  return plain;
}

/** Last step of create*: register a fresh local index, write it as the sender, move to `state`. */
function finishCreate(hs: Handshake, msg: Uint8Array, senderOff: number, allocIndex: (hs: Handshake) => number, state: HandshakeState): Uint8Array {
  hs.localIndex = allocIndex(hs);
  writeU32(msg, senderOff, hs.localIndex);
  hs.state = state;
  return msg;
}

/** Last step of consume*: the scratch transcript becomes the handshake's, the state moves on. */
function commitConsumed(hs: Handshake, e: Uint8Array, c: Uint8Array, h: Uint8Array, remoteIndex: number, state: HandshakeState): Handshake {
  hs.remoteEphemeral.set(e);
  hs.chainingKey.set(c);
  hs.hash.set(h);
  hs.remoteIndex = remoteIndex;
  hs.state = state;
  return hs;
}

/**
 * The mixing steps, exported only so the published cacophony Noise_IKpsk2 vector (which has its own
 * prologue and payloads, so not WireGuard's framing) can be replayed through the same code.
 * @internal
 */
export const noiseSteps = { mixHash, mixKey, mixDh, mixDhChainOnly, mixPsk, encryptAndHash, decryptAndHash };

/** Options for deterministic tests (vectors); production code passes nothing. */
export interface NoiseTestHooks {
  ephemeralPrivate?: Uint8Array;
}

/**
 * Builds message 1 for `hs` (which names the peer). `timestamp` is TAI64N of now; `allocIndex`
 * registers the handshake under a fresh local index (releasing any previous one) and returns it.
 * Returns the 148-byte message with zero mac fields, or null if no handshake is possible (no
 * private key, or a low-order peer key).
 */
export function createInitiation(
  identity: StaticIdentity,
  hs: Handshake,
  timestamp: Uint8Array,
  allocIndex: (hs: Handshake) => number,
  hooks?: NoiseTestHooks,
): Uint8Array | null {
  if (!identity.privateKey || !identity.publicKey || !hs.precomputedStaticStatic) return null;
  const msg = new Uint8Array(MESSAGE_INITIATION_SIZE);
  const c = hs.chainingKey;
  const h = hs.hash;
  let k: Uint8Array | null = null;
  try {
    writeU32(msg, 0, MESSAGE_INITIATION);
    c.set(INITIAL_CHAINING_KEY);
    h.set(INITIAL_HASH);
    mixHash(h, hs.remoteStatic);

    // e
    setEphemeral(hs, hooks);
    const ePub = publicKeyFromPrivate(hs.ephemeralPrivate);
    msg.set(ePub, INIT_OFF_EPHEMERAL);
    mixKey(c, ePub);
    mixHash(h, ePub);

    // es
    k = mixDh(c, hs.ephemeralPrivate, hs.remoteStatic);
    if (k === null) return fail(hs);

    // s
    encryptAndHash(k, identity.publicKey, h, msg, INIT_OFF_STATIC);
    k.fill(0);

    // ss
    k = mixPrecomputedDh(c, hs.precomputedStaticStatic, false);

    // {t}
    encryptAndHash(k, timestamp, h, msg, INIT_OFF_TIMESTAMP);

    return finishCreate(hs, msg, INIT_OFF_SENDER, allocIndex, HandshakeState.CREATED_INITIATION);
  } finally {
    k?.fill(0);
  }
}

/** Fills the handshake's ephemeral private key (fresh, or the test hook's), wiping the temporary. */
function setEphemeral(hs: Handshake, hooks: NoiseTestHooks | undefined): void {
  if (hooks?.ephemeralPrivate) {
    hs.ephemeralPrivate.set(hooks.ephemeralPrivate);
    return;
  }
  const e = generatePrivateKey();
  hs.ephemeralPrivate.set(e);
  e.fill(0);
}

function fail(hs: Handshake): null {
  hs.clear();
  return null;
}

/** Result of a consumed initiation: the peer's handshake (already updated). */
export interface ConsumedInitiation {
  hs: Handshake;
}

/**
 * Consumes message 1 (mac1 already checked). `lookupPeer` maps the decrypted initiator static key to
 * that peer's handshake. `now` is monotonic ms (flood check). Returns the peer's handshake, updated
 * to CONSUMED_INITIATION, or null for anything unacceptable (bad AEAD, unknown peer, replayed or
 * flooding timestamp). Scratch state is used until everything checks out, so a bad message never
 * disturbs a handshake in progress.
 */
export function consumeInitiation(
  msg: Uint8Array,
  identity: StaticIdentity,
  lookupPeer: (remoteStatic: Uint8Array) => Handshake | null,
  now: number,
): Handshake | null {
  if (!identity.privateKey || !identity.publicKey || msg.length !== MESSAGE_INITIATION_SIZE) return null;
  const c = INITIAL_CHAINING_KEY.slice(); // key material
  const h = INITIAL_HASH.slice(); // key material
  let k: Uint8Array | null = null;
  let s: Uint8Array | null = null;
  let t: Uint8Array | null = null;
  try {
    mixHash(h, identity.publicKey);

    // e
    const e = msg.subarray(INIT_OFF_EPHEMERAL, INIT_OFF_EPHEMERAL + KEY_LEN);
    mixKey(c, e);
    mixHash(h, e);

    // es
    k = mixDh(c, staticKey(identity), e);
    if (k === null) return null;

    // s
    s = decryptAndHash(k, h, msg, INIT_OFF_STATIC, KEY_LEN + AEAD_TAG_LEN);
    if (s === null) return null;
    k.fill(0);

    // Lookup which peer we are talking to.
    const hs = lookupPeer(s);
    if (hs === null || !hs.precomputedStaticStatic) return null;

    // ss
    k = mixPrecomputedDh(c, hs.precomputedStaticStatic, false);

    // {t}
    t = decryptAndHash(k, h, msg, INIT_OFF_TIMESTAMP, TIMESTAMP_LEN + AEAD_TAG_LEN);
    if (t === null) return null;

    // Replay: the timestamp must be strictly greater than any accepted before (BE byte compare).
    if (compareBytes(t, hs.latestTimestamp) <= 0) return null;
    // Flood: at most INITIATIONS_PER_SECOND initiations from one peer.
    if (now - hs.lastInitiationConsumed < MIN_INITIATION_INTERVAL) return null;

    // Success: commit.
    hs.latestTimestamp.set(t);
    hs.lastInitiationConsumed = now;
    return commitConsumed(hs, e, c, h, readU32(msg, INIT_OFF_SENDER), HandshakeState.CONSUMED_INITIATION);
  } finally {
    c.fill(0);
    h.fill(0);
    k?.fill(0);
    s?.fill(0);
    t?.fill(0);
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * Builds message 2 for a handshake in CONSUMED_INITIATION. Returns the 92-byte message with zero
 * macs (state CREATED_RESPONSE), or null.
 */
export function createResponse(
  hs: Handshake,
  allocIndex: (hs: Handshake) => number,
  hooks?: NoiseTestHooks,
): Uint8Array | null {
  if (hs.state !== HandshakeState.CONSUMED_INITIATION) return null;
  const msg = new Uint8Array(MESSAGE_RESPONSE_SIZE);
  const c = hs.chainingKey;
  const h = hs.hash;
  let k: Uint8Array | null = null;
  try {
    writeU32(msg, 0, MESSAGE_RESPONSE);
    writeU32(msg, RESP_OFF_RECEIVER, hs.remoteIndex);

    // e
    setEphemeral(hs, hooks);
    const ePub = publicKeyFromPrivate(hs.ephemeralPrivate);
    msg.set(ePub, RESP_OFF_EPHEMERAL);
    mixKey(c, ePub);
    mixHash(h, ePub);

    // ee
    if (!mixDhChainOnly(c, hs.ephemeralPrivate, hs.remoteEphemeral)) return fail(hs);

    // se
    if (!mixDhChainOnly(c, hs.ephemeralPrivate, hs.remoteStatic)) return fail(hs);

    // psk
    k = mixPsk(c, h, hs.presharedKey);

    // {}
    encryptAndHash(k, EMPTY_BYTES, h, msg, RESP_OFF_EMPTY);

    return finishCreate(hs, msg, RESP_OFF_SENDER, allocIndex, HandshakeState.CREATED_RESPONSE);
  } finally {
    k?.fill(0);
  }
}

/**
 * Consumes message 2 (mac1 already checked). `lookupHandshake` maps the receiver index to the
 * handshake it names. Returns that handshake in CONSUMED_RESPONSE, or null. Works on scratch copies
 * so a forged response cannot spoil the pending initiation.
 */
export function consumeResponse(
  msg: Uint8Array,
  identity: StaticIdentity,
  lookupHandshake: (localIndex: number) => Handshake | null,
): Handshake | null {
  if (!identity.privateKey || msg.length !== MESSAGE_RESPONSE_SIZE) return null;
  const hs = lookupHandshake(readU32(msg, RESP_OFF_RECEIVER));
  if (hs === null || hs.state !== HandshakeState.CREATED_INITIATION) return null;
  const c = hs.chainingKey.slice(); // key material
  const h = hs.hash.slice(); // key material
  let k: Uint8Array | null = null;
  try {
    // e
    const e = msg.subarray(RESP_OFF_EPHEMERAL, RESP_OFF_EPHEMERAL + KEY_LEN);
    mixKey(c, e);
    mixHash(h, e);

    // ee
    if (!mixDhChainOnly(c, hs.ephemeralPrivate, e)) return null;

    // se
    if (!mixDhChainOnly(c, staticKey(identity), e)) return null;

    // psk
    k = mixPsk(c, h, hs.presharedKey);

    // {}
    if (decryptAndHash(k, h, msg, RESP_OFF_EMPTY, AEAD_TAG_LEN) === null) return null;

    // Success: commit (the state may have moved on meanwhile only in a threaded world; check anyway).
    if (hs.state !== HandshakeState.CREATED_INITIATION) return null;
    return commitConsumed(hs, e, c, h, readU32(msg, RESP_OFF_SENDER), HandshakeState.CONSUMED_RESPONSE);
  } finally {
    c.fill(0);
    h.fill(0);
    k?.fill(0);
  }
}

/**
 * Derives the transport keypair from a handshake in CREATED_RESPONSE (responder) or
 * CONSUMED_RESPONSE (initiator): (T1, T2) = KDF2(C, ε); initiator sends with T1. Zeroes C, H and
 * the ephemeral key afterwards (state ZEROED). The keypair takes over the handshake's local index.
 */
export function beginSession(hs: Handshake, now: number): Keypair | null {
  let isInitiator: boolean;
  if (hs.state === HandshakeState.CONSUMED_RESPONSE) isInitiator = true;
  else if (hs.state === HandshakeState.CREATED_RESPONSE) isInitiator = false;
  else return null;
  const [t1, t2] = kdf2(hs.chainingKey, EMPTY_BYTES);
  const kp = isInitiator
    ? new Keypair(t1, t2, true, now, hs.localIndex, hs.remoteIndex)
    : new Keypair(t2, t1, false, now, hs.localIndex, hs.remoteIndex);
  hs.clear();
  return kp;
}

/**
 * The three keypair slots of a peer (previous, current, next, as in the kernel's noise.c). `onDestroy` is told about every keypair
 * that leaves the slots (release its index; its keys are zeroed here).
 */
export class Keypairs {
  current: Keypair | null = null;
  previous: Keypair | null = null;
  next: Keypair | null = null;

  constructor(private readonly onDestroy: (kp: Keypair) => void) {}

  private destroy(kp: Keypair | null): void {
    if (kp === null) return;
    kp.zero();
    this.onDestroy(kp);
  }

  /** Installs a freshly derived keypair (noise.c add_new_keypair). */
  add(kp: Keypair): void {
    if (kp.isInitiator) {
      // We initiated: the new keypair is usable at once (the responder already derived it).
      if (this.next !== null) {
        // A pending `next` (we were also a responder) was never confirmed: it becomes previous
        // so late packets on it still decrypt, and current is dropped.
        const oldNext = this.next;
        this.next = null;
        this.destroy(this.previous);
        this.previous = oldNext;
        this.destroy(this.current);
      } else {
        this.destroy(this.previous);
        this.previous = this.current;
      }
      this.current = kp;
    } else {
      // We responded: wait for the initiator's first packet on it before sending with it.
      this.destroy(this.next);
      this.next = kp;
      this.destroy(this.previous);
      this.previous = null;
    }
  }

  /**
   * Called after a packet authenticated under `kp` (noise.c received_with_keypair). Returns true if
   * this confirmed `next` (the responder's handshake is now complete).
   */
  receivedWith(kp: Keypair): boolean {
    if (kp !== this.next) return false;
    // Key confirmation: the initiator used the new keys, so we may too.
    this.destroy(this.previous);
    this.previous = this.current;
    this.current = kp;
    this.next = null;
    return true;
  }

  /** Destroys all three (zero key material, device down, peer removed). */
  clear(): void {
    const all = [this.previous, this.current, this.next];
    this.previous = this.current = this.next = null;
    for (const kp of all) this.destroy(kp);
  }

  /** Stops current and next from sending (device key changed); they still receive. */
  expireCurrent(): void {
    if (this.current) this.current.canSend = false;
    if (this.next) this.next.canSend = false;
  }

  /** True if `kp` still sits in a slot. */
  has(kp: Keypair): boolean {
    return kp === this.current || kp === this.previous || kp === this.next;
  }
}

