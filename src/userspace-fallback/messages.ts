/**
 * Wire format and protocol limits (the kernel's messages.h, wireguard-go's constants.go):
 * message types, exact sizes and offsets (the WireGuard paper §5.4), and the timing/volume
 * constants of its §6.1. All multi-byte integers on the wire are little endian.
 */
import { KEY_LEN } from '../conf/model.js';
import { AEAD_TAG_LEN, MAC_LEN } from '../crypto/primitives.js';

// ---- message types (the whole 32-bit LE word: type byte + 3 zero bytes) ----
export const MESSAGE_INITIATION = 1;
export const MESSAGE_RESPONSE = 2;
export const MESSAGE_COOKIE_REPLY = 3;
export const MESSAGE_DATA = 4;

// ---- sizes ----
// Key, tag and MAC sizes are defined with the model and the primitives; re-exported so the
// layout below reads whole.
export { AEAD_TAG_LEN, KEY_LEN, MAC_LEN };
export const TIMESTAMP_LEN = 12;
export const COOKIE_LEN = 16;
export const COOKIE_NONCE_LEN = 24;

export const MESSAGE_INITIATION_SIZE = 148;
export const MESSAGE_RESPONSE_SIZE = 92;
export const MESSAGE_COOKIE_REPLY_SIZE = 64;
/** Data header: type, receiver index, counter. */
export const MESSAGE_DATA_HEADER_SIZE = 16;
/** Smallest data message: header + tag (a keepalive is exactly this). */
export const MESSAGE_DATA_MIN_SIZE = MESSAGE_DATA_HEADER_SIZE + AEAD_TAG_LEN;
export const MESSAGE_KEEPALIVE_SIZE = MESSAGE_DATA_MIN_SIZE;
/** Overhead of the data encapsulation (header + tag). */
export const MESSAGE_DATA_OVERHEAD = MESSAGE_DATA_MIN_SIZE;
/** Plaintext padding multiple. */
export const MESSAGE_PADDING_MULTIPLE = 16;
/** Largest datagram we accept or build. */
export const MAX_MESSAGE_SIZE = 65535;

// ---- offsets: initiation ----
export const INIT_OFF_SENDER = 4;
export const INIT_OFF_EPHEMERAL = 8;
export const INIT_OFF_STATIC = 40; // 32 + 16
export const INIT_OFF_TIMESTAMP = 88; // 12 + 16
export const INIT_OFF_MAC1 = 116;
export const INIT_OFF_MAC2 = 132;

// ---- offsets: response ----
export const RESP_OFF_SENDER = 4;
export const RESP_OFF_RECEIVER = 8;
export const RESP_OFF_EPHEMERAL = 12;
export const RESP_OFF_EMPTY = 44; // 0 + 16
export const RESP_OFF_MAC1 = 60;
export const RESP_OFF_MAC2 = 76;

// ---- offsets: cookie reply ----
export const COOKIE_OFF_RECEIVER = 4;
export const COOKIE_OFF_NONCE = 8;
export const COOKIE_OFF_COOKIE = 32; // 16 + 16

// ---- offsets: data ----
export const DATA_OFF_RECEIVER = 4;
export const DATA_OFF_COUNTER = 8;
export const DATA_OFF_CONTENT = 16;

// ---- protocol constants (§3.1), times in milliseconds ----
/**
 * Protocol value 2^60 (kept for the record). Counters here are JS numbers (exact to 2^53, far beyond
 * what a session can reach: 2^53 packets at 10 Mpps take 28 years), so the data path uses the
 * implementation limits below.
 */
export const REKEY_AFTER_MESSAGES_PROTOCOL = 1n << 60n;
export const REJECT_AFTER_MESSAGES_PROTOCOL = (1n << 64n) - (1n << 13n) - 1n;
/** Implementation limit: rekey when the send counter exceeds this (below 2^53, see above). */
export const REKEY_AFTER_MESSAGES = 2 ** 52;
/** Implementation limit: never send or accept a counter ≥ this (2^53 − 2^13 − 1 keeps the window exact). */
export const REJECT_AFTER_MESSAGES = 2 ** 53 - 2 ** 13 - 1;
export const REKEY_AFTER_TIME = 120_000;
export const REJECT_AFTER_TIME = 180_000;
export const REKEY_ATTEMPT_TIME = 90_000;
export const REKEY_TIMEOUT = 5_000;
/** Retransmit jitter: uniform in [0, 334) ms (wireguard-go). */
export const REKEY_TIMEOUT_JITTER_MAX = 334;
export const KEEPALIVE_TIMEOUT = 10_000;
export const COOKIE_REFRESH_TIME = 120_000;
/** The kernel stops using a received cookie for mac2 a little before the issuer rotates its secret. */
export const COOKIE_USE_TIME = COOKIE_REFRESH_TIME - 5_000;
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT; // 18
export const INITIATIONS_PER_SECOND = 50;
export const MIN_INITIATION_INTERVAL = 1000 / INITIATIONS_PER_SECOND; // 20 ms
/** Rekey on receive when the session we initiated is this old (180 − 10 − 5 s). */
export const REKEY_ON_RECEIVE_AGE = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
export const ZERO_KEY_MATERIAL_TIMEOUT = REJECT_AFTER_TIME * 3;
export const MAX_STAGED_PACKETS = 128;
export const MAX_PEERS = 1 << 16;
/** Under load lasts this long after detection. */
export const UNDER_LOAD_AFTER_TIME = 1_000;

// ---- replay window (kernel counter.c: 128 words of 64 bits, 8128 usable) ----
export const COUNTER_BITS_TOTAL = 8192;
export const COUNTER_REDUNDANT_BITS = 64;
export const COUNTER_WINDOW_SIZE = COUNTER_BITS_TOTAL - COUNTER_REDUNDANT_BITS;

export const DEFAULT_MTU = 1420;

/** Reads a little-endian u32 (indices are opaque: compared and echoed, never interpreted). */
export function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** Writes a little-endian u32. */
export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/**
 * Reads the data counter (LE u64) as a number; returns −1 when it is ≥ 2^53 (beyond
 * REJECT_AFTER_MESSAGES here, so the caller rejects it).
 */
export function readCounter(b: Uint8Array, off: number): number {
  const lo = readU32(b, off);
  const hi = readU32(b, off + 4);
  if (hi >= 0x200000) return -1;
  return hi * 0x100000000 + lo;
}

/** Writes a counter (< 2^53) as LE u64. */
export function writeCounter(b: Uint8Array, off: number, v: number): void {
  writeU32(b, off, v >>> 0);
  writeU32(b, off + 4, Math.floor(v / 0x100000000));
}

/**
 * The message type of a datagram if its length is valid for that type, else 0 (hostile input is a
 * return value: the caller counts and drops). Reserved bytes must be zero.
 */
export function validMessageType(p: Uint8Array): number {
  if (p.length < 4 || p[1] !== 0 || p[2] !== 0 || p[3] !== 0) return 0;
  const t = p[0]!;
  switch (t) {
    case MESSAGE_DATA:
      return p.length >= MESSAGE_DATA_MIN_SIZE ? t : 0;
    case MESSAGE_INITIATION:
      return p.length === MESSAGE_INITIATION_SIZE ? t : 0;
    case MESSAGE_RESPONSE:
      return p.length === MESSAGE_RESPONSE_SIZE ? t : 0;
    case MESSAGE_COOKIE_REPLY:
      return p.length === MESSAGE_COOKIE_REPLY_SIZE ? t : 0;
    default:
      return 0;
  }
}

/** Padded plaintext length for an IP packet of `len` bytes under `mtu` (§1.8). */
export function paddedLength(len: number, mtu: number): number {
  if (len === 0) return 0;
  let last = len;
  if (mtu > 0 && len > mtu) last = len % mtu;
  let padded = (last + MESSAGE_PADDING_MULTIPLE - 1) & ~(MESSAGE_PADDING_MULTIPLE - 1);
  if (mtu > 0 && padded > mtu) padded = mtu;
  return len + (padded - last);
}
