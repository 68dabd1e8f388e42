/**
 * Netlink attributes (struct nlattr): encode into a size-limited message buffer, decode with
 * length-checked getters. Mirrors the parts of libmnl that wg(8) uses:
 * - `mnl_attr_put*_check` / `mnl_attr_nest_start_check`: every put is checked against the buffer
 *   limit and returns false when it does not fit, so a caller can cancel and split (ipc-linux.h);
 * - `mnl_attr_nest_start` sets NLA_F_NESTED, which the kernel's strict validation requires;
 * - `mnl_attr_validate(MNL_TYPE_U16...)`: a fixed-size value is taken only at exactly its size.
 * Netlink integers are in host byte order; this file assumes a little-endian host (x86, arm64) and
 * checks it once at load. Imports nothing.
 */

export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
/** Strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from a type (kernel NLA_TYPE_MASK). */
export const NLA_TYPE_MASK = 0x3fff;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('wgts netlink: big-endian hosts are not supported');
}

/** Rounds up to the 4-byte netlink alignment (NLA_ALIGN / NLMSG_ALIGN). */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/**
 * A message buffer being filled: fixed headers via `reserve`, attributes via the put methods.
 * With a `limit`, a put that would end past it writes nothing and returns false (the `_check`
 * variants of libmnl); without one the buffer grows as needed and puts always succeed.
 */
export class AttrWriter {
  private buf: Uint8Array;
  private view: DataView;
  /** Bytes written so far (the future nlmsg_len). */
  len = 0;
  readonly limit: number;

  constructor(limit = Infinity, initial = 256) {
    this.limit = limit;
    this.buf = new Uint8Array(Number.isFinite(limit) ? limit : initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): boolean {
    const end = this.len + n;
    if (end > this.limit) return false;
    if (end > this.buf.length) {
      const bigger = new Uint8Array(Math.max(end, this.buf.length * 2));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    return true;
  }

  /** Appends `n` zero bytes (a fixed header such as nlmsghdr or ifinfomsg); returns their offset. */
  reserve(n: number): number {
    const at = this.len;
    if (!this.ensure(align4(n))) throw new RangeError(`netlink: header of ${n} bytes exceeds the message limit`);
    this.buf.fill(0, at, at + align4(n));
    this.len += align4(n);
    return at;
  }

  setU8(at: number, v: number): void {
    this.view.setUint8(at, v);
  }
  setU16(at: number, v: number): void {
    this.view.setUint16(at, v, true);
  }
  setU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  setBytes(at: number, bytes: Uint8Array): void {
    this.buf.set(bytes, at);
  }

  /** Attribute header plus `size` payload bytes, padded; returns the payload offset or -1. */
  private begin(type: number, size: number): number {
    const total = NLA_HDRLEN + align4(size);
    if (!this.ensure(total)) return -1;
    const at = this.len;
    this.view.setUint16(at, NLA_HDRLEN + size, true);
    this.view.setUint16(at + 2, type, true);
    // Zero the padding so messages are deterministic (byte fixtures) and leak nothing.
    for (let i = at + NLA_HDRLEN + size; i < at + total; i++) this.buf[i] = 0;
    this.len += total;
    return at + NLA_HDRLEN;
  }

  put(type: number, payload: Uint8Array): boolean {
    const at = this.begin(type, payload.length);
    if (at < 0) return false;
    this.buf.set(payload, at);
    return true;
  }
  putU8(type: number, v: number): boolean {
    const at = this.begin(type, 1);
    if (at < 0) return false;
    this.view.setUint8(at, v);
    return true;
  }
  putU16(type: number, v: number): boolean {
    const at = this.begin(type, 2);
    if (at < 0) return false;
    this.view.setUint16(at, v, true);
    return true;
  }
  /** A u16 in network byte order (ports in rtnetlink), flagged as such. */
  putU16be(type: number, v: number): boolean {
    const at = this.begin(type | NLA_F_NET_BYTEORDER, 2);
    if (at < 0) return false;
    this.view.setUint16(at, v, false);
    return true;
  }
  putU32(type: number, v: number): boolean {
    const at = this.begin(type, 4);
    if (at < 0) return false;
    this.view.setUint32(at, v >>> 0, true);
    return true;
  }
  putU64(type: number, v: bigint): boolean {
    const at = this.begin(type, 8);
    if (at < 0) return false;
    this.view.setBigUint64(at, v, true);
    return true;
  }
  /** A NUL-terminated string (NLA_NUL_STRING / mnl_attr_put_strz). */
  putStrz(type: number, s: string): boolean {
    const bytes = utf8.encode(s);
    const at = this.begin(type, bytes.length + 1);
    if (at < 0) return false;
    this.buf.set(bytes, at);
    this.buf[at + bytes.length] = 0;
    return true;
  }
  /** A flag attribute (no payload). */
  putFlag(type: number): boolean {
    return this.begin(type, 0) >= 0;
  }

  /** Opens a nest (NLA_F_NESTED set); returns its offset for nestEnd/cancel, or -1 if it does not fit. */
  nestStart(type: number): number {
    const at = this.len;
    return this.begin(type | NLA_F_NESTED, 0) < 0 ? -1 : at;
  }
  /** Closes a nest: its length now covers everything written since nestStart. */
  nestEnd(at: number): void {
    this.view.setUint16(at, this.len - at, true);
  }
  /** Drops everything written since `at` (a nest start or a mark). */
  cancel(at: number): void {
    this.len = at;
  }

  /** The bytes written so far (a view, valid until the next write). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/**
 * Calls `fn(type, payload)` for each well-formed attribute in `data` (type masked with
 * NLA_TYPE_MASK, payload without header or padding). Stops at the first malformed header, as
 * mnl_attr_for_each does. Returning `false` from `fn` stops early.
 */
export function forEachAttr(data: Uint8Array, fn: (type: number, payload: Uint8Array) => void | boolean): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  const end = data.length;
  while (off + NLA_HDRLEN <= end) {
    const len = view.getUint16(off, true);
    if (len < NLA_HDRLEN || off + len > end) return;
    const type = view.getUint16(off + 2, true) & NLA_TYPE_MASK;
    if (fn(type, data.subarray(off + NLA_HDRLEN, off + len)) === false) return;
    off += align4(len);
  }
}

/** One decoded attribute (see parseAttrs). */
export interface Attr {
  type: number;
  payload: Uint8Array;
}

/** All attributes of `data` in order (forEachAttr as an array). */
export function parseAttrs(data: Uint8Array): Attr[] {
  const out: Attr[] = [];
  forEachAttr(data, (type, payload) => {
    out.push({ type, payload });
  });
  return out;
}

/** The last attribute of each type in `data` (later ones win, like nla_parse), as a map. */
export function attrTable(data: Uint8Array): Map<number, Uint8Array> {
  const table = new Map<number, Uint8Array>();
  forEachAttr(data, (type, payload) => {
    table.set(type, payload);
  });
  return table;
}

function dv(p: Uint8Array): DataView {
  return new DataView(p.buffer, p.byteOffset, p.byteLength);
}

/** Length-checked getters: undefined unless the payload has exactly the type's size. */
export function getU8(p: Uint8Array | undefined): number | undefined {
  return p?.length === 1 ? p[0] : undefined;
}
export function getU16(p: Uint8Array | undefined): number | undefined {
  return p?.length === 2 ? dv(p).getUint16(0, true) : undefined;
}
export function getU16be(p: Uint8Array | undefined): number | undefined {
  return p?.length === 2 ? dv(p).getUint16(0, false) : undefined;
}
export function getU32(p: Uint8Array | undefined): number | undefined {
  return p?.length === 4 ? dv(p).getUint32(0, true) : undefined;
}
export function getS32(p: Uint8Array | undefined): number | undefined {
  return p?.length === 4 ? dv(p).getInt32(0, true) : undefined;
}
export function getU64(p: Uint8Array | undefined): bigint | undefined {
  return p?.length === 8 ? dv(p).getBigUint64(0, true) : undefined;
}
/** A string attribute: text up to the first NUL (or the whole payload); undefined if empty. */
export function getStr(p: Uint8Array | undefined): string | undefined {
  if (!p || p.length === 0) return undefined;
  const nul = p.indexOf(0);
  return utf8d.decode(nul < 0 ? p : p.subarray(0, nul));
}
/** A fixed-size binary attribute (keys, addresses), copied; undefined unless exactly `size` bytes. */
export function getBytes(p: Uint8Array | undefined, size: number): Uint8Array | undefined {
  return p?.length === size ? new Uint8Array(p) : undefined;
}
