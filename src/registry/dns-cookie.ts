/**
 * DNS Cookies (RFC 7873) on the server side: a client that echoes a server cookie proves it
 * receives answers at its source address, so it may get large UDP answers; one that does not gets
 * small ones (server.ts). The server cookie has RFC 9018's layout: version 1, three reserved
 * bytes, a 32-bit timestamp (seconds), and an 8-byte hash over the client cookie, those 8 bytes
 * and the client's address. The hash is keyed BLAKE2s (the project's one keyed hash) rather than
 * RFC 9018's SipHash: only this process ever checks its cookies, so no other server must agree.
 * Pure but for a bounded memo of recent hashes (cookieSigner); the secret and the clock come from
 * the caller.
 */
import { macWithKey } from '../crypto/primitives.js';

/** EDNS option code of COOKIE (RFC 7873 §4). */
export const COOKIE_OPTION = 10;
const CLIENT_LEN = 8;
const SERVER_LEN = 16;
/** A cookie is accepted this long after it was made (RFC 9018 §4.3: one hour), and 5 minutes early. */
const MAX_AGE_S = 3600;
const MAX_EARLY_S = 300;

export type CookieCheck =
  /** No COOKIE option. */
  | { kind: 'none' }
  /** Wrong length (RFC 7873 §5.2.2): answer FORMERR. */
  | { kind: 'malformed' }
  /** A client cookie, with a server cookie that is ours and fresh (`valid`) or not. */
  | { kind: 'cookie'; client: Uint8Array; valid: boolean };

/**
 * Makes server cookies with one secret. A client keeps presenting the cookie it was given and we
 * answer with one stamped this second, so the same few hashes come up for every query of a busy
 * client: the last MEMO_MAX are kept (a hash costs more than the rest of a stored answer, view.ts).
 * The memo is cleared when full, so a flood of distinct cookies costs a hash each, as without it.
 */
export type CookieSigner = (client: Uint8Array, clientAddr: Uint8Array, stampS: number) => Uint8Array;
const MEMO_MAX = 1024;

export function cookieSigner(secret: Uint8Array): CookieSigner {
  const keyed = macWithKey(secret);
  const memo = new Map<string, Uint8Array>();
  return (client, clientAddr, stampS) => {
    const key = `${stampS >>> 0} ${Buffer.from(client.buffer, client.byteOffset, client.byteLength).toString('latin1')} ${Buffer.from(clientAddr.buffer, clientAddr.byteOffset, clientAddr.byteLength).toString('latin1')}`;
    let out = memo.get(key);
    if (!out) {
      out = serverCookie(keyed, client, clientAddr, stampS);
      if (memo.size >= MEMO_MAX) memo.clear();
      memo.set(key, out);
    }
    return out;
  };
}

/** Reads a COOKIE option's bytes (null when the query had none) and checks its server part. */
export function checkCookie(data: Uint8Array | null, sign: CookieSigner, clientAddr: Uint8Array, nowS: number): CookieCheck {
  if (data === null) return { kind: 'none' };
  // RFC 7873 §4: 8 bytes of client cookie, then nothing or 8 to 32 bytes of server cookie.
  if (data.length !== CLIENT_LEN && (data.length < CLIENT_LEN + 8 || data.length > CLIENT_LEN + 32)) return { kind: 'malformed' };
  const client = data.subarray(0, CLIENT_LEN);
  const server = data.subarray(CLIENT_LEN);
  if (server.length !== SERVER_LEN || server[0] !== 1) return { kind: 'cookie', client, valid: false };
  const stamp = new DataView(server.buffer, server.byteOffset).getUint32(4);
  // Serial-number arithmetic (RFC 1982) keeps the window right across the 32-bit wrap.
  const age = (nowS - stamp) | 0;
  if (age > MAX_AGE_S || age < -MAX_EARLY_S) return { kind: 'cookie', client, valid: false };
  const want = sign(client, clientAddr, stamp);
  let diff = 0;
  for (let i = 0; i < SERVER_LEN; i++) diff |= want[i]! ^ server[i]!;
  return { kind: 'cookie', client, valid: diff === 0 };
}

/** The server cookie for a client cookie and address at time `stampS`, hashed by `keyed` (the secret's MAC). */
function serverCookie(keyed: (msg: Uint8Array) => Uint8Array, client: Uint8Array, clientAddr: Uint8Array, stampS: number): Uint8Array {
  const out = new Uint8Array(SERVER_LEN);
  out[0] = 1;
  new DataView(out.buffer).setUint32(4, stampS >>> 0);
  const input = new Uint8Array(client.length + 8 + clientAddr.length);
  input.set(client);
  input.set(out.subarray(0, 8), client.length);
  input.set(clientAddr, client.length + 8);
  out.set(keyed(input).subarray(0, 8), 8);
  return out;
}

/** The COOKIE option data to answer with: the client's cookie and a fresh server cookie. */
export function replyCookie(client: Uint8Array, sign: CookieSigner, clientAddr: Uint8Array, nowS: number): Buffer {
  return Buffer.concat([client, sign(client, clientAddr, nowS)]);
}
