/**
 * mac1/mac2 and cookie replies, WireGuard's DoS protection (the WireGuard paper §5.3 and §5.4.7; kernel cookie.c).
 *
 * - CookieChecker (one per device, keyed by our own public key): verifies mac1 on every incoming
 *   handshake before any DH, verifies mac2 under load, and builds cookie replies. The cookie secret
 *   rotates lazily when older than COOKIE_REFRESH_TIME.
 * - CookieGenerator (one per peer, keyed by the peer's public key): writes mac1/mac2 on our
 *   outgoing handshakes and consumes the peer's cookie replies.
 *
 * Cookie input: the issuer alone computes and checks cookies, so the source encoding is local; we
 * MAC the endpoint's text form `host` + "\0" + port (wireguard-go and the kernel use other byte
 * layouts, which is fine).
 */
import type { Clock } from './clock.js';
import { equalBytes, hash, mac, randomBytes, xaeadOpen, xaeadSeal } from '../crypto/primitives.js';
import {
  COOKIE_LEN,
  COOKIE_NONCE_LEN,
  COOKIE_OFF_COOKIE,
  COOKIE_OFF_NONCE,
  COOKIE_OFF_RECEIVER,
  COOKIE_REFRESH_TIME,
  COOKIE_USE_TIME,
  MAC_LEN,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_COOKIE_REPLY_SIZE,
  writeU32,
} from './messages.js';

const enc = new TextEncoder();
const LABEL_MAC1 = enc.encode('mac1----');
const LABEL_COOKIE = enc.encode('cookie--');

/** HASH(LABEL_MAC1 || pub): the mac1 key toward the holder of `pub`. */
export function mac1Key(pub: Uint8Array): Uint8Array {
  return hash(LABEL_MAC1, pub);
}

/** HASH(LABEL_COOKIE || pub): the key cookie replies from the holder of `pub` are sealed with. */
export function cookieKey(pub: Uint8Array): Uint8Array {
  return hash(LABEL_COOKIE, pub);
}

/** Outcome of validating an incoming handshake's macs (cookie.c's four-value enum). */
export const MacState = {
  /** mac1 wrong: drop silently. */
  INVALID_MAC: 0,
  /** mac1 right; not under load, process. */
  VALID_MAC_BUT_NO_COOKIE: 1,
  /** mac1 and mac2 right: process, subject to the rate limiter. */
  VALID_MAC_WITH_COOKIE: 2,
} as const;
export type MacState = (typeof MacState)[keyof typeof MacState];

function sourceBytes(host: string, port: number): Uint8Array {
  return enc.encode(`${host}\0${port}`);
}

export class CookieChecker {
  private mac1KeyBytes: Uint8Array | null = null;
  private cookieKeyBytes: Uint8Array | null = null;
  /** Key material: the rotating secret R. */
  private readonly secret = new Uint8Array(32);
  private secretBirth = -Infinity;

  constructor(private readonly clock: Clock) {}

  /** Re-keys the checker after our static key changed (null: no key, every mac1 fails). */
  init(ourPublic: Uint8Array | null): void {
    this.mac1KeyBytes = ourPublic ? mac1Key(ourPublic) : null;
    this.cookieKeyBytes = ourPublic ? cookieKey(ourPublic) : null;
  }

  /** Checks mac1 of a handshake message whose mac1 starts at `macOff`. */
  checkMac1(msg: Uint8Array, macOff: number): boolean {
    if (this.mac1KeyBytes === null) return false;
    const m = mac(this.mac1KeyBytes, msg.subarray(0, macOff));
    return equalBytes(m, msg.subarray(macOff, macOff + MAC_LEN));
  }

  private currentCookie(host: string, port: number): Uint8Array {
    const now = this.clock.now();
    if (now - this.secretBirth >= COOKIE_REFRESH_TIME) {
      this.secret.set(randomBytes(32));
      this.secretBirth = now;
    }
    return mac(this.secret, sourceBytes(host, port));
  }

  /** Checks mac2 (which covers mac1) against the cookie this source would get from us now. */
  checkMac2(msg: Uint8Array, macOff: number, host: string, port: number): boolean {
    const cookie = this.currentCookie(host, port); // key material
    const m = mac(cookie, msg.subarray(0, macOff + MAC_LEN));
    cookie.fill(0);
    return equalBytes(m, msg.subarray(macOff + MAC_LEN, macOff + 2 * MAC_LEN));
  }

  /** The decision for an incoming handshake (mac1 first; mac2 only matters under load). */
  validate(msg: Uint8Array, macOff: number, host: string, port: number, underLoad: boolean): MacState {
    if (!this.checkMac1(msg, macOff)) return MacState.INVALID_MAC;
    if (!underLoad) return MacState.VALID_MAC_BUT_NO_COOKIE;
    return this.checkMac2(msg, macOff, host, port) ? MacState.VALID_MAC_WITH_COOKIE : MacState.VALID_MAC_BUT_NO_COOKIE;
  }

  /**
   * Builds the cookie reply to a handshake message (`senderIndex` is its sender field, `macOff`
   * where its mac1 is). Null when we have no key.
   */
  createReply(msg: Uint8Array, macOff: number, senderIndex: number, host: string, port: number): Uint8Array | null {
    if (this.cookieKeyBytes === null) return null;
    const out = new Uint8Array(MESSAGE_COOKIE_REPLY_SIZE);
    writeU32(out, 0, MESSAGE_COOKIE_REPLY);
    writeU32(out, COOKIE_OFF_RECEIVER, senderIndex);
    const nonce = randomBytes(COOKIE_NONCE_LEN);
    out.set(nonce, COOKIE_OFF_NONCE);
    const cookie = this.currentCookie(host, port); // key material
    out.set(xaeadSeal(this.cookieKeyBytes, nonce, cookie, msg.subarray(macOff, macOff + MAC_LEN)), COOKIE_OFF_COOKIE);
    cookie.fill(0);
    return out;
  }

  /** Forgets the secret (device down / key change). */
  clear(): void {
    this.secret.fill(0);
    this.secretBirth = -Infinity;
  }
}

export class CookieGenerator {
  private readonly mac1KeyBytes: Uint8Array;
  private readonly cookieKeyBytes: Uint8Array;
  /** Key material: the last cookie received from this peer. */
  private readonly cookie = new Uint8Array(COOKIE_LEN);
  private cookieBirth = -Infinity;
  private haveCookie = false;
  /** The mac1 we last sent; a cookie reply must be bound to it (one reply per mac1). */
  private lastMac1: Uint8Array | null = null;

  constructor(
    peerPublic: Uint8Array,
    private readonly clock: Clock,
  ) {
    this.mac1KeyBytes = mac1Key(peerPublic);
    this.cookieKeyBytes = cookieKey(peerPublic);
  }

  /** Writes mac1 (and mac2 if we hold a fresh cookie) into an outgoing handshake message. */
  addMacs(msg: Uint8Array, macOff: number): void {
    const m1 = mac(this.mac1KeyBytes, msg.subarray(0, macOff));
    msg.set(m1, macOff);
    this.lastMac1 = m1;
    if (this.haveCookie && this.clock.now() - this.cookieBirth < COOKIE_USE_TIME) {
      msg.set(mac(this.cookie, msg.subarray(0, macOff + MAC_LEN)), macOff + MAC_LEN);
    } else {
      msg.fill(0, macOff + MAC_LEN, macOff + 2 * MAC_LEN);
    }
  }

  /** Consumes a cookie reply addressed to a message we sent. False if it does not open. */
  consumeReply(reply: Uint8Array): boolean {
    if (reply.length !== MESSAGE_COOKIE_REPLY_SIZE || this.lastMac1 === null) return false;
    const nonce = reply.subarray(COOKIE_OFF_NONCE, COOKIE_OFF_NONCE + COOKIE_NONCE_LEN);
    const c = xaeadOpen(this.cookieKeyBytes, nonce, reply.subarray(COOKIE_OFF_COOKIE), this.lastMac1);
    if (c === null) return false;
    this.cookie.set(c);
    c.fill(0);
    this.cookieBirth = this.clock.now();
    this.haveCookie = true;
    this.lastMac1 = null; // one reply per mac1 (kernel)
    return true;
  }

  clear(): void {
    this.cookie.fill(0);
    this.haveCookie = false;
    this.lastMac1 = null;
  }
}

