/**
 * Answers one registry query from a snapshot of the device's peers, record for record as wgsd does
 * (jwhited/wgsd, wgsd.go), so wgsd clients and ours read the same data:
 * - `PTR _wireguard._udp.<zone>`: one PTR per peer WITH an endpoint, target its instance name.
 * - `SRV <instance>`: `0 0 <endpoint port> <instance>`; the Additional section carries the A or
 *   AAAA record of the endpoint address and the TXT record, both named `<instance>`.
 * - `A`, `AAAA` or `TXT <instance>`: that record in the Answer section (A/AAAA: whichever family the
 *   endpoint has, whatever was asked, as wgsd).
 * - TXT is `"txtvers=1" "pub=<base64 key>" "allowed=<cidr>,<cidr>..."` (RFC 6763 §6.7: version first).
 *   A character-string holds at most 255 bytes (RFC 1035 §3.3), room for about 15 IPv4 prefixes:
 *   a longer list continues in further `allowed=` strings, each cut between prefixes, and readers
 *   join them in order (txtAllowed). Up to that length the record is byte for byte wgsd's, whose
 *   one `allowed=` string cannot hold more.
 * - Every record has TTL 0: endpoints change with NAT mappings, so resolvers must not cache them.
 * - An unknown key, a peer without an endpoint, or any other name/type in the zone: NXDOMAIN, with
 *   a synthetic SOA (TTL 60) in Authority. Names outside the zone: REFUSED (not authoritative).
 * Pure: no I/O; the peers are fetched by the caller's `getPeers` only when a record needs them.
 */
import { RCODE, opcodeOf, replyFlags, type Answer, type DecodedPacket, type Packet } from './wire.js';
import type { WgPeer } from '../conf/model.js';
import { keyToBase64, keysEqual } from '../conf/keys.js';
import { classifyName, instanceName, serviceName } from './zone.js';
import { formatPrefix } from './ip.js';

/** The SOA wgsd synthesises for negative answers (its values, so caches behave the same). */
function soa(zone: string): Answer {
  return {
    type: 'SOA',
    name: zone,
    ttl: 60,
    class: 'IN',
    data: {
      mname: `ns1.${zone}`,
      rname: `postmaster.${zone}`,
      serial: 1,
      refresh: 86400,
      retry: 7200,
      expire: 3600000,
      minimum: 60,
    },
  };
}

/** The A or AAAA record of a peer's endpoint, or null if it has none. */
export function hostRecord(name: string, peer: WgPeer): Answer | null {
  const ep = peer.endpoint;
  if (!ep) return null;
  const host = ep.host.replace(/%.*$/, '');
  return { type: ep.family === 4 ? 'A' : 'AAAA', name, ttl: 0, class: 'IN', data: host };
}

/** Longest character-string in a TXT record (RFC 1035 §3.3: one length byte). */
export const TXT_STRING_MAX = 255;
const ALLOWED_KEY = 'allowed=';

/**
 * The `allowed=` strings for a list of prefixes: one when it fits in 255 bytes (wgsd's form, also
 * for an empty list), else as many as needed, each filled with whole prefixes.
 */
export function allowedStrings(prefixes: string[]): string[] {
  const out: string[] = [];
  let cur = '';
  for (const p of prefixes) {
    if (cur !== '' && ALLOWED_KEY.length + cur.length + 1 + p.length > TXT_STRING_MAX) {
      out.push(ALLOWED_KEY + cur);
      cur = '';
    }
    cur = cur === '' ? p : `${cur},${p}`;
  }
  out.push(ALLOWED_KEY + cur);
  return out;
}

/** The comma-separated prefix list of a TXT record's `allowed=` strings joined in order; null if it has none. */
export function txtAllowed(strings: string[]): string | null {
  const parts = strings.filter((s) => s.startsWith(ALLOWED_KEY)).map((s) => s.slice(ALLOWED_KEY.length));
  if (parts.length === 0) return null;
  return parts.filter((p) => p !== '').join(',');
}

/** The TXT record of a peer: txtvers, base64 public key, comma-separated allowed IPs. */
export function txtRecord(name: string, peer: WgPeer): Answer {
  return {
    type: 'TXT',
    name,
    ttl: 0,
    class: 'IN',
    data: ['txtvers=1', `pub=${keyToBase64(peer.publicKey)}`, ...allowedStrings(peer.allowedIps.map(formatPrefix))],
  };
}

/** The SRV record of a peer with an endpoint: `0 0 <port> <instance>` (target = the instance itself). */
export function srvRecord(name: string, port: number): Answer {
  return { type: 'SRV', name, ttl: 0, class: 'IN', data: { priority: 0, weight: 0, port, target: name } };
}

/** One PTR of the service listing: `_wireguard._udp.<zone>` -> the peer's instance name. */
export function ptrRecord(zone: string, peer: WgPeer): Answer {
  return { type: 'PTR', name: serviceName(zone), ttl: 0, class: 'IN', data: instanceName(peer.publicKey, zone) };
}

/** An answer to `query` with `rcode` and empty sections. */
export function reply(query: DecodedPacket, rcode: number, authoritative: boolean): Packet {
  return {
    type: 'response',
    id: query.id ?? 0,
    flags: replyFlags(query, rcode, authoritative),
    questions: query.questions ?? [],
    answers: [],
    authorities: [],
    additionals: [],
  };
}

/**
 * Builds the response to `query` for the normalised `zone`. `getPeers` returns the live peer list
 * (the registry device's view: each peer's endpoint is where its packets last came from). Returns
 * null for packets that deserve no answer at all (responses, which could be reflected back at us).
 */
export async function respond(
  query: DecodedPacket,
  zone: string,
  getPeers: () => Promise<WgPeer[]>,
): Promise<Packet | null> {
  if (query.type === 'response') return null;
  if (opcodeOf(query) !== 0) return reply(query, RCODE.NOTIMP, false);
  const q = query.questions?.length === 1 ? query.questions[0] : undefined;
  if (!q) return reply(query, RCODE.FORMERR, false);
  const what = classifyName(q.name, zone);
  if (what.kind === 'outside') return reply(query, RCODE.REFUSED, false);
  const nxdomain = () => ({ ...reply(query, RCODE.NXDOMAIN, true), authorities: [soa(zone)] });
  const owner = q.name.toLowerCase().replace(/\.$/, '');

  if (what.kind === 'service' && q.type === 'PTR') {
    const m = reply(query, RCODE.NOERROR, true);
    for (const peer of await getPeers()) {
      if (!peer.endpoint) continue;
      m.answers!.push({ ...ptrRecord(zone, peer), name: owner });
    }
    return m;
  }
  if (what.kind !== 'instance' || !['SRV', 'A', 'AAAA', 'TXT'].includes(q.type)) return nxdomain();

  const peer = (await getPeers()).find((p) => keysEqual(p.publicKey, what.key));
  const host = peer ? hostRecord(owner, peer) : null;
  if (!peer || !host) return nxdomain();
  const m = reply(query, RCODE.NOERROR, true);
  if (q.type === 'SRV') {
    m.answers!.push(srvRecord(owner, peer.endpoint!.port));
    m.additionals!.push(host, txtRecord(owner, peer));
  } else {
    m.answers!.push(q.type === 'TXT' ? txtRecord(owner, peer) : host);
  }
  return m;
}
