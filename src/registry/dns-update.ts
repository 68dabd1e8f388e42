/**
 * Dynamic updates (RFC 2136) of the registry's records in a server that accepts them (Knot,
 * BIND): the difference between what was sent last and what the device shows now, as deletions
 * of single records (class NONE) and additions. Messages go over TCP (a fleet's update does not
 * fit a datagram), at most MAX_MESSAGE bytes each, a name's deletions before its additions and in
 * the same message where they fit; each is signed with TSIG (tsig.ts) when a key is given and the
 * server's signed answer is checked.
 */
import type { Answer } from './wire.js';
import { decodeMessage, encodeName, encodeRecord, rcodeOf } from './wire.js';
import { presentRecord } from './presentation.js';
import { signMessage, verifyResponse, type TsigKey } from './tsig.js';
import { randomBytes } from '../crypto/primitives.js';
import { fmt, tcpExchange, type DnsServerAddress } from './client.js';

export type UpdateOp =
  | { op: 'add'; rr: Answer }
  | { op: 'delete'; rr: Answer }
  /** Every RRset at a name (class ANY, type ANY: RFC 2136 §2.5.3). */
  | { op: 'delete-name'; name: string }
  /** One RRset (class ANY: RFC 2136 §2.5.2). */
  | { op: 'delete-rrset'; name: string; type: 'PTR' };

const OPCODE_UPDATE = 5;
const CLASS_NONE = 254;
const CLASS_ANY = 255;
const TYPE_ANY = 255;
const TYPE_PTR = 12;
const TYPE_SOA = 6;
/** Below the 65535-byte TCP message limit, with room for the TSIG record. */
export const MAX_MESSAGE = 60_000;

const RCODES: Record<number, string> = {
  1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED',
  6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE',
};

function ownerOf(op: UpdateOp): string {
  return 'rr' in op ? op.rr.name : op.name;
}

/** Orders operations by owner name, deletions first within a name (stable otherwise). */
function byOwner(ops: UpdateOp[]): UpdateOp[] {
  return ops
    .map((op, i) => ({ op, i }))
    .sort((a, b) => {
      const na = ownerOf(a.op);
      const nb = ownerOf(b.op);
      if (na !== nb) return na < nb ? -1 : 1;
      const da = a.op.op === 'add' ? 1 : 0;
      const db = b.op.op === 'add' ? 1 : 0;
      return da - db || a.i - b.i;
    })
    .map((x) => x.op);
}

/** What turns the records `before` into `after`: deletions of the gone, additions of the new. */
export function diffRecords(before: readonly Answer[], after: readonly Answer[]): UpdateOp[] {
  const old = new Set(before.map(presentRecord));
  const now = new Set(after.map(presentRecord));
  return byOwner([
    ...before.filter((r) => !now.has(presentRecord(r))).map((rr): UpdateOp => ({ op: 'delete', rr })),
    ...after.filter((r) => !old.has(presentRecord(r))).map((rr): UpdateOp => ({ op: 'add', rr })),
  ]);
}

/**
 * A first update, when what the server holds is not known: remove the service's PTR set and
 * everything at the instance names it listed (`stale`) or that we publish, then add all records.
 */
export function replaceAll(service: string, stale: readonly string[], after: readonly Answer[]): UpdateOp[] {
  const names = new Set([...stale.map((n) => n.toLowerCase().replace(/\.$/, '')), ...after.filter((r) => r.name !== service).map((r) => r.name)]);
  return [
    { op: 'delete-rrset', name: service, type: 'PTR' },
    ...[...names].sort().map((name): UpdateOp => ({ op: 'delete-name', name })),
    ...after.map((rr): UpdateOp => ({ op: 'add', rr })),
  ];
}

/** One operation as an update-section record (RFC 2136 §2.5). */
export function encodeOp(op: UpdateOp): Buffer {
  if (op.op === 'add') return encodeRecord(op.rr);
  if (op.op === 'delete') {
    // The record itself with class NONE and TTL 0 (§2.5.4).
    const rr = encodeRecord(op.rr);
    const at = encodeName(op.rr.name).length;
    rr.writeUInt16BE(CLASS_NONE, at + 2);
    rr.writeUInt32BE(0, at + 4);
    return rr;
  }
  const tail = Buffer.alloc(10); // type, class ANY, TTL 0, RDLENGTH 0
  tail.writeUInt16BE(op.op === 'delete-name' ? TYPE_ANY : TYPE_PTR, 0);
  tail.writeUInt16BE(CLASS_ANY, 2);
  return Buffer.concat([encodeName(op.name), tail]);
}

/** The update messages (id 0, unsigned) that carry `ops` for `zone`, in order. */
export function updateMessages(zone: string, ops: readonly UpdateOp[], maxBytes = MAX_MESSAGE): Buffer[] {
  const zoneSection = Buffer.concat([encodeName(zone), Buffer.from([0, TYPE_SOA, 0, 1])]);
  const messages: Buffer[] = [];
  let parts: Buffer[] = [];
  let size = 12 + zoneSection.length;
  const flush = () => {
    if (parts.length === 0) return;
    const header = Buffer.alloc(12);
    header.writeUInt16BE(OPCODE_UPDATE << 11, 2);
    header.writeUInt16BE(1, 4); // ZOCOUNT
    header.writeUInt16BE(parts.length, 8); // UPCOUNT
    messages.push(Buffer.concat([header, zoneSection, ...parts]));
    parts = [];
    size = 12 + zoneSection.length;
  };
  for (const op of ops) {
    const rr = encodeOp(op);
    if (size + rr.length > maxBytes) flush();
    if (12 + zoneSection.length + rr.length > maxBytes) throw new RangeError(`update: a record of ${ownerOf(op)} does not fit a message`);
    parts.push(rr);
    size += rr.length;
  }
  flush();
  return messages;
}

export interface UpdateOptions {
  server: DnsServerAddress;
  zone: string;
  key?: TsigKey;
  timeoutMs?: number;
}

/** Sends `ops` as update messages, one after the other; throws at the first one refused. */
export async function sendUpdates(opts: UpdateOptions, ops: readonly UpdateOp[]): Promise<number> {
  const messages = updateMessages(opts.zone, ops);
  for (const unsigned of messages) {
    const r = randomBytes(2);
    const id = (r[0]! << 8) | r[1]!;
    unsigned.writeUInt16BE(id, 0);
    const signed = opts.key ? signMessage(unsigned, opts.key) : { message: unsigned, mac: Buffer.alloc(0) };
    const raw = await tcpExchange(opts.server, signed.message, opts.timeoutMs ?? 10_000);
    const answer = decodeMessage(raw);
    if (!answer || answer.type !== 'response' || answer.id !== id) throw new Error(`update: malformed answer from ${fmt(opts.server)}`);
    const rcode = rcodeOf(answer);
    const tsig = answer.additionals?.at(-1);
    if (opts.key) {
      if (!tsig || tsig.type !== 'TSIG' || !Buffer.isBuffer(tsig.data)) {
        throw new Error(`update: ${fmt(opts.server)} answered ${RCODES[rcode] ?? rcode} without a signature`);
      }
      const offset = raw.length - (encodeName(tsig.name).length + 10 + tsig.data.length);
      const why = verifyResponse(raw, offset, opts.key, signed.mac);
      if (why) throw new Error(`update: ${fmt(opts.server)}: ${why}`);
    }
    if (rcode !== 0) throw new Error(`update: ${fmt(opts.server)} refused the update of ${opts.zone}: ${RCODES[rcode] ?? `rcode ${rcode}`}`);
  }
  return messages.length;
}
