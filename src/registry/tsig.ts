/**
 * TSIG (RFC 8945): HMAC signatures on DNS messages with a secret shared with the server, as Knot
 * and BIND require for dynamic updates. Signs a request, and checks the server's signed answer
 * against the request's MAC. dns-packet has no TSIG support, so the record is built here; the
 * HMAC comes from crypto/primitives.ts (OpenSSL). Key files are read in the two forms the servers' own tools write:
 * BIND's `tsig-keygen` (`key "name" { algorithm hmac-sha256; secret "..."; };`) and Knot's YAML
 * (`- id: name` / `algorithm:` / `secret:`). The secret is never put into an error message.
 */
import { bytesEqual, hmacSha, type ShaName } from '../crypto/primitives.js';
import { encodeName } from './wire.js';

/** Algorithms by the names RFC 8945 §6 gives them (hmac-md5 and GSS-TSIG are not supported). */
const ALGORITHMS: Record<string, ShaName> = {
  'hmac-sha1': 'sha1',
  'hmac-sha224': 'sha224',
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
};

export interface TsigKey {
  /** Key name, lower case, no trailing dot. */
  name: string;
  algorithm: string;
  secret: Buffer;
}

/** The usual time window (RFC 8945 §5.2.3 recommends 300 s). */
const FUDGE = 300;
const TYPE_TSIG = 250;
const CLASS_ANY = 255;

function checkKey(name: string | undefined, algorithm: string | undefined, secret: string | undefined, where: string): TsigKey {
  if (!name || !algorithm || !secret) throw new Error(`${where}: expected a TSIG key (name, algorithm and secret)`);
  const alg = algorithm.toLowerCase().replace(/\.$/, '');
  if (!(alg in ALGORITHMS)) throw new Error(`${where}: algorithm \`${algorithm}' is not one of ${Object.keys(ALGORITHMS).join(', ')}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret)) throw new Error(`${where}: the secret is not base64`);
  return { name: name.toLowerCase().replace(/\.$/, ''), algorithm: alg, secret: Buffer.from(secret, 'base64') };
}

/** Reads a key file's text (BIND or Knot form); throws naming what is wrong, never the secret. */
export function parseTsigKey(text: string, where: string): TsigKey {
  const bind = /key\s+"?([^"\s{]+)"?\s*\{([^}]*)\}/.exec(text);
  if (bind) {
    const body = bind[2]!;
    const alg = /algorithm\s+"?([\w.-]+)"?\s*;/.exec(body)?.[1];
    const secret = /secret\s+"([^"]*)"\s*;/.exec(body)?.[1];
    return checkKey(bind[1], alg, secret, where);
  }
  const id = /^\s*-?\s*id:\s*"?([^"\s#]+)"?/m.exec(text)?.[1];
  const alg = /^\s*algorithm:\s*"?([\w.-]+)"?/m.exec(text)?.[1];
  const secret = /^\s*secret:\s*"?([A-Za-z0-9+/=]+)"?/m.exec(text)?.[1];
  return checkKey(id, alg, secret, where);
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

/** The TSIG variables of RFC 8945 §4.3.3 (error and other data are always empty here). */
function variables(key: TsigKey, timeSigned: number, error = 0, other: Uint8Array = Buffer.alloc(0)): Buffer {
  const classTtl = Buffer.alloc(6);
  classTtl.writeUInt16BE(CLASS_ANY, 0);
  return Buffer.concat([
    encodeName(key.name),
    classTtl,
    encodeName(key.algorithm),
    u48(timeSigned),
    Buffer.from([FUDGE >> 8, FUDGE & 0xff, error >> 8, error & 0xff, other.length >> 8, other.length & 0xff]),
    other,
  ]);
}

function hmac(key: TsigKey, ...parts: Buffer[]): Buffer {
  return Buffer.from(hmacSha(ALGORITHMS[key.algorithm]!, key.secret, ...parts));
}

function tsigRecord(key: TsigKey, timeSigned: number, mac: Buffer, originalId: number): Buffer {
  const rdata = Buffer.concat([
    encodeName(key.algorithm),
    u48(timeSigned),
    Buffer.from([FUDGE >> 8, FUDGE & 0xff, mac.length >> 8, mac.length & 0xff]),
    mac,
    Buffer.from([originalId >> 8, originalId & 0xff, 0, 0, 0, 0]),
  ]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(TYPE_TSIG, 0);
  head.writeUInt16BE(CLASS_ANY, 2);
  head.writeUInt32BE(0, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([encodeName(key.name), head, rdata]);
}

export interface Signed {
  message: Buffer;
  /** The request MAC, which the server's answer signs over (RFC 8945 §4.3.1). */
  mac: Buffer;
}

/** Appends a TSIG record to `message` (which must not have one) and counts it in ARCOUNT. */
export function signMessage(message: Buffer, key: TsigKey, now: number = Date.now()): Signed {
  const timeSigned = Math.floor(now / 1000);
  const mac = hmac(key, message, variables(key, timeSigned));
  const out = Buffer.concat([message, tsigRecord(key, timeSigned, mac, message.readUInt16BE(0))]);
  out.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: out, mac };
}

function readName(buf: Buffer, at: number): { name: string; end: number } | null {
  const labels: string[] = [];
  for (let i = at; i < buf.length; ) {
    const len = buf[i]!;
    if (len === 0) return { name: labels.join('.').toLowerCase(), end: i + 1 };
    if (len > 63 || i + 1 + len > buf.length) return null; // compression is not allowed in TSIG (RFC 8945 §4.2)
    labels.push(buf.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return null;
}

/** Response codes a server puts in the TSIG record itself (RFC 8945 §3). */
const TSIG_ERRORS: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

/**
 * Checks the TSIG record that must end `response`, given the request's MAC. `tsigOffset` is where
 * the record starts (the caller found it by decoding). Returns null if it verifies, else why not.
 */
export function verifyResponse(response: Buffer, tsigOffset: number, key: TsigKey, requestMac: Buffer, now: number = Date.now()): string | null {
  const owner = readName(response, tsigOffset);
  if (!owner || owner.name !== key.name) return 'the answer is signed with another key';
  let i = owner.end + 10;
  const alg = readName(response, i);
  if (!alg || alg.name !== key.algorithm) return 'the answer is signed with another algorithm';
  i = alg.end;
  if (i + 10 > response.length) return 'the TSIG record is cut short';
  const timeSigned = response.readUIntBE(i, 6);
  const fudge = response.readUInt16BE(i + 6);
  const macLen = response.readUInt16BE(i + 8);
  if (i + 10 + macLen + 6 > response.length) return 'the TSIG record is cut short';
  const mac = response.subarray(i + 10, i + 10 + macLen);
  const originalId = response.readUInt16BE(i + 10 + macLen);
  const error = response.readUInt16BE(i + 12 + macLen);
  const otherLen = response.readUInt16BE(i + 14 + macLen);
  const other = response.subarray(i + 16 + macLen, i + 16 + macLen + otherLen);
  if (error !== 0) return `the server answered ${TSIG_ERRORS[error] ?? `TSIG error ${error}`}`;
  // The MAC covers the answer as it was before signing: original id, TSIG not counted.
  const unsigned = Buffer.from(response.subarray(0, tsigOffset));
  unsigned.writeUInt16BE(originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const reqMac = Buffer.alloc(2);
  reqMac.writeUInt16BE(requestMac.length);
  const expected = hmac(key, reqMac, requestMac, unsigned, variables(key, timeSigned, error, other));
  if (!bytesEqual(mac, expected)) return 'the answer\'s signature does not verify';
  if (Math.abs(Math.floor(now / 1000) - timeSigned) > fudge) return 'the answer\'s signature is outside its time window';
  return null;
}
