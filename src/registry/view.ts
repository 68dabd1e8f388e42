/**
 * The registry's answers, precomputed: once per refresh of the device's peer list, every answer
 * that names a peer (SRV, A, AAAA, TXT of each instance; the PTR listing) is built by records.ts
 * `respond` and encoded, with and without the EDNS OPT record. A query is then answered by copying
 * bytes: its id, RD bit and question (the asker's letter case) are written into the stored answer
 * (whose owner names are compressed, wire.ts compressOwners, as the general path's),
 * with no decoding, record building or encoding per query. Answers of a peer that did not change
 * are reused from the previous view.
 *
 * Only plain queries take this path: standard opcode, one IN question with an uncompressed name,
 * nothing else but an optional EDNS version 0 OPT record with no option or one COOKIE option, and a
 * stored answer of at most 512 bytes. The caller's gate (answer.ts) decides from the query's EDNS
 * size and cookie how large the answer may be and which cookie it carries: the stored answer goes
 * out with that cookie appended to its OPT record, or, over the limit, its stored truncated form
 * does, as the general path would send. Everything else (a miss, NXDOMAIN, a PTR listing too large
 * for 512 bytes, other EDNS options) is left to the general path.
 */
import type { WgPeer } from '../conf/model.js';
import { respond } from './records.js';
import { COOKIE_OPTION } from './dns-cookie.js';
import { FLAG, compressOwners, decodeMessage, ednsOpt, encodeMessage } from './wire.js';
import { instanceName, serviceName } from './zone.js';

/** The smallest UDP payload any client accepts (RFC 1035 §4.2.1): a stored answer fits it. */
const MAX_STORED = 512;
const TYPE_CODES = { PTR: 12, SRV: 33, A: 1, AAAA: 28, TXT: 16 } as const;
type StoredType = keyof typeof TYPE_CODES;
const TYPE_OPT = 41;

interface Entry {
  /** The answer without OPT, id 0; its question starts at byte 12 and is `questionLength` long. */
  plain: Buffer;
  /** The same with our OPT record appended (last, without options), for queries that carry one. */
  edns: Buffer;
  /** Header and question only, TC set (RFC 2181 §9): for a client whose size limit `plain`/`edns` exceed. */
  truncated: Buffer;
  truncatedEdns: Buffer;
}

/** A peer's stored answers, keyed by `<wire name lower-cased> <qtype>`, with what they were built from. */
interface PeerEntries {
  signature: string;
  entries: [string, Entry][];
}

/**
 * For a query's EDNS buffer size (null: no OPT record) and COOKIE option data (null: none), the
 * largest answer allowed (a larger one goes out truncated) and the COOKIE option data to answer
 * with; null sends the query to the general path.
 */
export type Gate = (ednsSize: number | null, cookie: Buffer | null) => { limit: number; cookie: Uint8Array | null } | null;

export interface View {
  /** The device's peers the view was built from (for the general path). */
  readonly peers: WgPeer[];
  /**
   * The encoded answer to the raw query `msg`, or null if the view holds none for it or `gate`
   * returns null.
   */
  lookup(msg: Buffer, gate: Gate): Buffer | null;
  /** Per-peer parts and the PTR listing, for the next view to reuse. */
  readonly parts: Map<string, PeerEntries>;
  readonly listing: { key: string; entry: [string, Entry] | null };
}

/** The lookup key: wire-format name bytes (latin1, ASCII letters lower-cased) and the type code. */
function keyOf(wireName: string, type: number): string {
  return `${wireName.toLowerCase()} ${type}`;
}

function wireNameOf(name: string): string {
  let out = '';
  for (const label of name.split('.')) out += String.fromCharCode(label.length) + label;
  return `${out}\0`;
}

async function entryFor(zone: string, name: string, type: StoredType, peers: WgPeer[]): Promise<[string, Entry] | null> {
  const query = decodeMessage(encodeMessage({ type: 'query', id: 0, flags: 0, questions: [{ name, type, class: 'IN' }] }))!;
  const response = await respond(query, zone, async () => peers);
  if (!response || (response.flags ?? 0) & 0xf) return null; // negative answers stay on the general path
  const plain = compressOwners(encodeMessage(response));
  const edns = compressOwners(encodeMessage({ ...response, additionals: [...(response.additionals ?? []), ednsOpt()] }));
  if (edns.length > MAX_STORED) return null;
  const cut = { ...response, flags: (response.flags ?? 0) | FLAG.TC, answers: [], authorities: [] };
  const truncated = encodeMessage({ ...cut, additionals: [] });
  const truncatedEdns = encodeMessage({ ...cut, additionals: [ednsOpt()] });
  return [keyOf(wireNameOf(name), TYPE_CODES[type]), { plain, edns, truncated, truncatedEdns }];
}

/** Bytes as a string that is cheap to build and compare (a Map key, not for display). */
const raw = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** What a peer's answers depend on: key, endpoint, allowed IPs (rebuilt twice a second under load, so kept cheap). */
function signatureOf(peer: WgPeer): string {
  const ep = peer.endpoint;
  let sig = `${raw(peer.publicKey)}${ep ? `${ep.host} ${ep.port}` : '-'}`;
  for (const a of peer.allowedIps) sig += ` ${raw(a.addr)}/${a.cidr}`;
  return sig;
}

/**
 * What a view `ageMs` old may do (server.ts and udp-worker.ts both ask): 'fresh' under `cacheMs`;
 * 'stale' under 2 x `cacheMs`: it still answers while a new read of the device runs (1,000 peers
 * take a while), so queries do not pile up on the general path; 'expired' after that, so a failing
 * read shows (the general path's SERVFAIL).
 */
export function viewAge(ageMs: number, cacheMs: number): 'fresh' | 'stale' | 'expired' {
  return ageMs < cacheMs ? 'fresh' : ageMs < 2 * cacheMs ? 'stale' : 'expired';
}

/** Builds the view of `peers` for the normalised `zone`, reusing unchanged parts of `previous`. */
export async function buildView(peers: WgPeer[], zone: string, previous?: View): Promise<View> {
  const parts = new Map<string, PeerEntries>();
  const table = new Map<string, Entry>();
  for (const peer of peers) {
    if (!peer.endpoint) continue;
    const signature = signatureOf(peer);
    let part = previous?.parts.get(signature);
    if (!part) {
      const name = instanceName(peer.publicKey, zone);
      const entries: [string, Entry][] = [];
      for (const type of ['SRV', 'A', 'AAAA', 'TXT'] as const) {
        const e = await entryFor(zone, name, type, [peer]);
        if (e) entries.push(e);
      }
      part = { signature, entries };
    }
    parts.set(signature, part);
    for (const [k, e] of part.entries) table.set(k, e);
  }
  // The PTR listing: rebuilt only when the peers with an endpoint changed, and not at all when it
  // cannot fit (each PTR record takes more than its target's name).
  const listed = peers.filter((p) => p.endpoint);
  const listingKey = listed.map((p) => raw(p.publicKey)).join('');
  let listing = previous?.listing.key === listingKey ? previous.listing.entry : undefined;
  if (listing === undefined) {
    const fits = listed.length * instanceName(new Uint8Array(32), zone).length < MAX_STORED;
    listing = fits ? await entryFor(zone, serviceName(zone), 'PTR', peers) : null;
  }
  if (listing) table.set(...listing);
  return { peers, parts, listing: { key: listingKey, entry: listing }, lookup: (msg, gate) => lookup(table, msg, gate) };
}

/** The fast path: see the header comment for what qualifies. */
function lookup(table: Map<string, Entry>, msg: Buffer, gate: Gate): Buffer | null {
  if (msg.length < 17) return null;
  // QR 0, opcode 0, only RD among AA/TC/RD; rcode 0; one question, no answers or authorities.
  if ((msg[2]! & 0xfe) !== 0 || (msg[3]! & 0x0f) !== 0) return null;
  if (msg.readUInt16BE(4) !== 1 || msg.readUInt16BE(6) !== 0 || msg.readUInt16BE(8) !== 0) return null;
  const arcount = msg.readUInt16BE(10);
  if (arcount > 1) return null;
  let i = 12;
  for (;;) {
    const len = msg[i];
    if (len === undefined || len > 63 || i - 12 > 255) return null; // compression pointer, or runs off the end
    i += 1 + len;
    if (len === 0) break;
  }
  const nameEnd = i;
  if (nameEnd + 4 > msg.length || msg.readUInt16BE(nameEnd + 2) !== 1) return null; // class IN
  const qtype = msg.readUInt16BE(nameEnd);
  let end = nameEnd + 4;
  let ednsSize: number | null = null;
  let cookie: Buffer | null = null;
  if (arcount === 1) {
    // An OPT record (RFC 6891 §6.1.2): root owner, version 0, no option or one COOKIE option.
    if (end + 11 > msg.length || msg[end] !== 0 || msg.readUInt16BE(end + 1) !== TYPE_OPT || msg[end + 6] !== 0) return null;
    ednsSize = msg.readUInt16BE(end + 3);
    const rdlength = msg.readUInt16BE(end + 9);
    end += 11;
    if (rdlength > 0) {
      if (rdlength < 4 || end + rdlength > msg.length || msg.readUInt16BE(end) !== COOKIE_OPTION || msg.readUInt16BE(end + 2) !== rdlength - 4) return null;
      cookie = msg.subarray(end + 4, end + rdlength);
      end += rdlength;
    }
  }
  if (end !== msg.length) return null;
  const entry = table.get(keyOf(msg.toString('latin1', 12, nameEnd), qtype));
  if (!entry) return null;
  const allowed = gate(ednsSize, cookie);
  if (!allowed) return null;
  // Our cookie goes into the stored answer's OPT record, its last 11 bytes (RFC 7873 §4).
  const extra = allowed.cookie && arcount === 1 ? 4 + allowed.cookie.length : 0;
  const full = arcount === 1 ? entry.edns : entry.plain;
  const base = full.length + extra <= allowed.limit ? full : arcount === 1 ? entry.truncatedEdns : entry.truncated;
  const out = Buffer.allocUnsafe(base.length + extra);
  base.copy(out);
  msg.copy(out, 0, 0, 2); // id
  out[2] = (out[2]! & 0xfe) | (msg[2]! & 0x01); // RD echoed
  msg.copy(out, 12, 12, nameEnd); // the question name as asked
  if (extra > 0) {
    out.writeUInt16BE(extra, base.length - 2); // the OPT record's RDLENGTH
    out.writeUInt16BE(COOKIE_OPTION, base.length);
    out.writeUInt16BE(extra - 4, base.length + 2);
    out.set(allowed.cookie!, base.length + 4);
  }
  return out;
}
