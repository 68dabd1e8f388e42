/**
 * DNS messages on the wire: the one importer of dns-packet (each third-party library is
 * imported by one file, test/architecture/rules.ts). Decoding hostile input returns null instead of throwing. Header bits
 * that dns-packet keeps inside `flags` (opcode, rcode) are read and written here.
 */
import * as dnsPacket from 'dns-packet';

export type { Answer, DecodedPacket, Packet } from 'dns-packet';

/** Header flag bits (RFC 1035 §4.1.1), as dns-packet places them in `flags`. */
export const FLAG = {
  AA: dnsPacket.AUTHORITATIVE_ANSWER,
  TC: dnsPacket.TRUNCATED_RESPONSE,
  RD: dnsPacket.RECURSION_DESIRED,
} as const;

/** Response codes (RFC 1035 §4.1.1). */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** The EDNS buffer size we offer and honour at most (the DNS Flag Day 2020 value). */
export const EDNS_SIZE = 1232;

export function encodeMessage(msg: dnsPacket.Packet): Buffer {
  return dnsPacket.encode(msg);
}

/** Decodes a message, or returns null if it is not one. */
export function decodeMessage(buf: Buffer): dnsPacket.DecodedPacket | null {
  try {
    return dnsPacket.decode(buf);
  } catch {
    return null;
  }
}

/** The rcode of a message (the low four bits of `flags`). */
export function rcodeOf(msg: dnsPacket.Packet): number {
  return (msg.flags ?? 0) & 0xf;
}

/** The opcode of a message (bits 11-14 of `flags`). */
export function opcodeOf(msg: dnsPacket.Packet): number {
  return ((msg.flags ?? 0) >> 11) & 0xf;
}

/** The header flags of an answer to `query`: same opcode, RD echoed, QR set by the encoder. */
export function replyFlags(query: dnsPacket.Packet, rcode: number, authoritative: boolean): number {
  return (opcodeOf(query) << 11) | ((query.flags ?? 0) & FLAG.RD) | (authoritative ? FLAG.AA : 0) | rcode;
}

/** An EDNS(0) OPT pseudo-record advertising our buffer size (RFC 6891 §6.1), with options as `{ code, data }`. */
export function ednsOpt(options: { code: number; data: Buffer }[] = []): dnsPacket.Answer {
  // dns-packet encodes any `{ code, data }` option; its typings list only the options it parses.
  const opts = options as unknown as dnsPacket.PacketOpt[];
  return { type: 'OPT', name: '.', udpPayloadSize: EDNS_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: opts };
}

/** The data of the first EDNS option `code` in a query's OPT record, or null. */
export function ednsOption(query: dnsPacket.Packet, code: number): Buffer | null {
  const opt = query.additionals?.find((a) => a.type === 'OPT');
  const found = (opt && 'options' in opt ? opt.options : []).find((o) => o.code === code) as { data?: unknown } | undefined;
  return found && Buffer.isBuffer(found.data) ? found.data : null;
}

/** The buffer size a query's OPT record announces, or null if it has none. */
export function ednsSizeOf(query: dnsPacket.Packet): number | null {
  const opt = query.additionals?.find((a) => a.type === 'OPT');
  return opt && 'udpPayloadSize' in opt ? opt.udpPayloadSize : null;
}

/** One resource record in wire format; it stands alone, since dns-packet never compresses names. */
export function encodeRecord(rr: dnsPacket.Answer): Buffer {
  return dnsPacket.encode({ answers: [rr] }).subarray(12);
}

/** A domain name in uncompressed wire format (labels as given; the caller lowers case where RFCs ask). */
export function encodeName(name: string): Buffer {
  return dnsPacket.encode({ questions: [{ name, type: 'A', class: 'IN' }] }).subarray(12, -4);
}

/** The end of the name at `at` in a message we encoded (labels, or ending in a pointer). */
function skipName(buf: Buffer, at: number): number {
  for (;;) {
    const len = buf[at];
    if (len === undefined) throw new RangeError('wire: name runs past the end of the message');
    if (len === 0) return at + 1;
    if (len >= 0xc0) return at + 2;
    at += 1 + len;
  }
}

/**
 * In an answer we encoded with one question, replaces the owner name of every record after the
 * first by a pointer to the first record's owner where they are equal (RFC 1035 §4.1.4), as
 * dns-packet writes every name in full: an SRV answer with its A and TXT records then fits 512
 * bytes. The pointer targets the first owner, not the question, so the answer's names do not
 * depend on the letter case the question was asked in (view.ts stores answers across cases).
 * Names inside RDATA are left alone (RFC 2782: an SRV target is never compressed).
 */
export function compressOwners(buf: Buffer): Buffer {
  const count = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
  if (count < 2 || buf.readUInt16BE(4) !== 1) return buf;
  let at = skipName(buf, 12) + 4;
  const first = at;
  const firstOwner = buf.subarray(first, skipName(buf, first));
  const parts: Buffer[] = [buf.subarray(0, first)];
  for (let i = 0; i < count; i++) {
    const ownerEnd = skipName(buf, at);
    const end = ownerEnd + 10 + buf.readUInt16BE(ownerEnd + 8);
    const owner = buf.subarray(at, ownerEnd);
    parts.push(i > 0 && owner.equals(firstOwner) ? Buffer.from([0xc0 | (first >> 8), first & 0xff]) : owner, buf.subarray(ownerEnd, end));
    at = end;
  }
  return Buffer.concat(parts);
}
