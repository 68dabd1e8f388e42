/**
 * The discovery client (wgsd-client's behaviour, plus PTR-based discovery of new peers):
 * for each configured peer, ask the registry for `SRV <base32 key>._wireguard._udp.<zone>`, take
 * the port from the SRV record and the address from the A/AAAA record in the Additional section,
 * and set the peer's endpoint if it differs (UPDATE_ONLY, so a peer removed meanwhile is not
 * re-created). With `addNew`, also list `PTR _wireguard._udp.<zone>` and add the peers we lack,
 * with the allowed IPs from their TXT record.
 *
 * Two choices beyond wgsd-client, both for NAT traversal:
 * - A peer whose last handshake is younger than `freshSeconds` (135 s, as contrib/reresolve-dns)
 *   is left alone: its tunnel works and WireGuard's roaming keeps its endpoint current, while the
 *   registry's view may be worse (two peers behind the same NAT see each other's LAN address).
 * - When an endpoint changes on a peer with a persistent keepalive, the same request first sets the
 *   keepalive to 0 and then back: kernel and wireguard-go send a keepalive at once when it goes from
 *   off to on, so both sides of a NAT-to-NAT pair start sending together and punch their holes now,
 *   not at the next retry.
 */
import type { Backend } from '../conf/backend.js';
import { wipeDevice, type Key, type WgAllowedIp, type WgDevice, type WgEndpoint, type WgPeer } from '../conf/model.js';
import { keyFromBase64, keysEqual, keyToBase64 } from '../conf/keys.js';
import { DnsQueryError, type Resolver } from './client.js';
import { classifyName, instanceName, serviceName } from './zone.js';
import { parseAddress, parsePrefix } from './ip.js';
import { RCODE, rcodeOf, type Answer } from './wire.js';
import { txtAllowed } from './records.js';

export interface DiscoverOptions {
  backend: Backend;
  ifname: string;
  /** Normalised zone. */
  zone: string;
  resolve: Resolver;
  /** Add peers listed by PTR that are not configured yet. */
  addNew?: boolean;
  /** Persistent keepalive (s) for added peers; 0 = none. */
  keepalive?: number;
  /** Leave peers with a handshake younger than this many seconds alone; 0 = always update. */
  freshSeconds?: number;
  /** Wall clock in ms (tests pin it). */
  now?: () => number;
  log?: (msg: string) => void;
}

/** What the registry says about one peer. */
export interface Registration {
  publicKey: Key;
  endpoint: WgEndpoint;
  /** From TXT `allowed=`; null when the registry sent no TXT record. */
  allowedIps: WgAllowedIp[] | null;
}

export interface DiscoverResult {
  updated: { publicKey: Key; endpoint: WgEndpoint; previous?: WgEndpoint }[];
  added: Registration[];
  /** Transport or protocol failures (not "the registry does not know this peer"). */
  errors: string[];
}

export const DEFAULT_FRESH_SECONDS = 135;

function txtStrings(rr: Answer): string[] {
  if (rr.type !== 'TXT') return [];
  const data = Array.isArray(rr.data) ? rr.data : [rr.data];
  return data.map((d) => (typeof d === 'string' ? d : Buffer.from(d).toString('utf8')));
}

const sameName = (a: string, b: string) => a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

/** Reads an endpoint out of an A/AAAA record; null if the record is neither or malformed. */
function endpointOf(rr: Answer | undefined, port: number): WgEndpoint | null {
  if (!rr || (rr.type !== 'A' && rr.type !== 'AAAA') || typeof rr.data !== 'string') return null;
  const ip = parseAddress(rr.data);
  return ip ? { family: ip.family, host: rr.data, port } : null;
}

/**
 * Asks the registry about one public key. Returns null when the registry has no such peer (or no
 * endpoint for it); throws DnsQueryError when it cannot be asked or answers nonsense. With
 * `wantAllowed`, the TXT record is asked for when the SRV answer did not carry it.
 */
export async function lookupPeer(resolve: Resolver, key: Key, zone: string, wantAllowed = false): Promise<Registration | null> {
  const name = instanceName(key, zone);
  const msg = await resolve(name, 'SRV');
  if (rcodeOf(msg) === RCODE.NXDOMAIN) return null;
  if (rcodeOf(msg) !== RCODE.NOERROR) throw new DnsQueryError(`SRV ${name}: rcode ${rcodeOf(msg)}`);
  const srv = msg.answers?.find((a) => a.type === 'SRV' && sameName(a.name, name));
  if (!srv || srv.type !== 'SRV') return null;
  const { port, target } = srv.data;
  if (!(port > 0)) throw new DnsQueryError(`SRV ${name}: port ${port} is not usable`);
  const extra = msg.additionals ?? [];
  let endpoint = endpointOf(extra.find((a) => (a.type === 'A' || a.type === 'AAAA') && sameName(a.name, target)), port);
  if (!endpoint) {
    // wgsd puts the address in Additional; ask for it directly if a server left it out.
    const host = await resolve(target, 'A');
    endpoint = endpointOf(host.answers?.find((a) => sameName(a.name, target)), port);
    if (!endpoint) return null;
  }
  let txt = extra.find((a) => a.type === 'TXT' && sameName(a.name, name));
  if (!txt && wantAllowed) {
    // DNS servers serving an exported zone answer SRV without the TXT record: ask for it.
    const answer = await resolve(name, 'TXT');
    txt = answer.answers?.find((a) => a.type === 'TXT' && sameName(a.name, name));
  }
  let allowedIps: WgAllowedIp[] | null = null;
  if (txt) {
    const strings = txtStrings(txt);
    // The first occurrence of a key counts (RFC 6763 §6.4); `allowed=` alone may repeat (records.ts).
    const pub = strings.find((s) => s.startsWith('pub='))?.slice(4);
    const pubKey = pub ? keyFromBase64(pub) : null;
    if (pub !== undefined && (!pubKey || !keysEqual(pubKey, key))) {
      throw new DnsQueryError(`TXT ${name}: pub= does not match the name`);
    }
    const allowed = txtAllowed(strings);
    allowedIps = [];
    for (const text of allowed ? allowed.split(',') : []) {
      const prefix = parsePrefix(text.trim());
      if (!prefix) throw new DnsQueryError(`TXT ${name}: \`${text}' is not a prefix`);
      allowedIps.push(prefix);
    }
  }
  return { publicKey: key, endpoint, allowedIps };
}

/** Lists the keys the registry publishes under PTR. */
export async function listPeers(resolve: Resolver, zone: string): Promise<Key[]> {
  const name = serviceName(zone);
  const msg = await resolve(name, 'PTR');
  if (rcodeOf(msg) === RCODE.NXDOMAIN) return [];
  if (rcodeOf(msg) !== RCODE.NOERROR) throw new DnsQueryError(`PTR ${name}: rcode ${rcodeOf(msg)}`);
  const keys: Key[] = [];
  for (const rr of msg.answers ?? []) {
    if (rr.type !== 'PTR' || typeof rr.data !== 'string') continue;
    const what = classifyName(rr.data, zone);
    if (what.kind === 'instance' && !keys.some((k) => keysEqual(k, what.key))) keys.push(what.key);
  }
  return keys;
}

function sameEndpoint(a: WgEndpoint | undefined, b: WgEndpoint): boolean {
  if (!a || a.port !== b.port || a.family !== b.family) return false;
  const x = parseAddress(a.host.replace(/%.*$/, ''));
  const y = parseAddress(b.host);
  return !!x && !!y && Buffer.from(x.addr).equals(Buffer.from(y.addr));
}

/** Do two prefixes share any address? (The shorter one contains the longer one's network.) */
export function prefixesOverlap(a: WgAllowedIp, b: WgAllowedIp): boolean {
  if (a.family !== b.family) return false;
  const bits = Math.min(a.cidr, b.cidr);
  for (let i = 0; i < bits; i++) {
    const bit = (x: Uint8Array) => (x[i >> 3]! >> (7 - (i & 7))) & 1;
    if (bit(a.addr) !== bit(b.addr)) return false;
  }
  return true;
}

function isFresh(peer: WgPeer, nowMs: number, freshSeconds: number): boolean {
  const hs = peer.lastHandshake;
  if (!hs || hs.sec === 0n || freshSeconds <= 0) return false;
  return nowMs / 1000 - Number(hs.sec) < freshSeconds;
}

export function endpointText(ep: WgEndpoint | undefined): string {
  if (!ep) return '(none)';
  return ep.family === 6 ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
}

/**
 * One discovery pass over the device. Per-peer failures land in `errors` (not in `log`, which
 * narrates changes); reading or setting the device throws.
 */
export async function discoverOnce(opts: DiscoverOptions): Promise<DiscoverResult> {
  const now = opts.now ?? Date.now;
  const fresh = opts.freshSeconds ?? DEFAULT_FRESH_SECONDS;
  const log = opts.log ?? (() => {});
  const device: WgDevice = await opts.backend.get(opts.ifname);
  wipeDevice(device); // discovery needs public keys and endpoints only; no secret stays in memory
  const result: DiscoverResult = { updated: [], added: [], errors: [] };
  const changes: WgPeer[] = [];
  const fail = (key: Key, err: unknown) => {
    result.errors.push(`peer ${keyToBase64(key)}: ${(err as Error).message}`);
  };

  for (const peer of device.peers) {
    if (isFresh(peer, now(), fresh)) continue;
    let reg: Registration | null;
    try {
      reg = await lookupPeer(opts.resolve, peer.publicKey, opts.zone);
    } catch (err) {
      fail(peer.publicKey, err);
      continue;
    }
    if (!reg || sameEndpoint(peer.endpoint, reg.endpoint)) continue;
    const keepalive = peer.persistentKeepalive ?? 0;
    if (keepalive > 0) changes.push({ publicKey: peer.publicKey, updateOnly: true, persistentKeepalive: 0, allowedIps: [] });
    changes.push({
      publicKey: peer.publicKey,
      updateOnly: true,
      endpoint: reg.endpoint,
      ...(keepalive > 0 ? { persistentKeepalive: keepalive } : {}),
      allowedIps: [],
    });
    result.updated.push({ publicKey: peer.publicKey, endpoint: reg.endpoint, ...(peer.endpoint ? { previous: peer.endpoint } : {}) });
    log(`peer ${keyToBase64(peer.publicKey)}: endpoint ${endpointText(reg.endpoint)} (was ${endpointText(peer.endpoint)})`);
  }

  if (opts.addNew) {
    let keys: Key[] = [];
    try {
      keys = await listPeers(opts.resolve, opts.zone);
    } catch (err) {
      result.errors.push(`PTR ${serviceName(opts.zone)}: ${(err as Error).message}`);
    }
    const taken = device.peers.flatMap((p) => p.allowedIps);
    for (const key of keys) {
      if (device.peers.some((p) => keysEqual(p.publicKey, key))) continue;
      if (device.publicKey && keysEqual(device.publicKey, key)) continue;
      let reg: Registration | null;
      try {
        reg = await lookupPeer(opts.resolve, key, opts.zone, true);
      } catch (err) {
        fail(key, err);
        continue;
      }
      if (!reg) continue;
      // Never let a published prefix take over addresses already routed to another peer.
      const allowedIps = (reg.allowedIps ?? []).filter((ip) => {
        const clash = taken.some((t) => prefixesOverlap(t, ip));
        if (clash) log(`peer ${keyToBase64(key)}: not adding allowed IP overlapping another peer's`);
        return !clash;
      });
      taken.push(...allowedIps);
      changes.push({
        publicKey: key,
        endpoint: reg.endpoint,
        ...(opts.keepalive ? { persistentKeepalive: opts.keepalive } : {}),
        allowedIps,
      });
      result.added.push({ ...reg, allowedIps });
      log(`peer ${keyToBase64(key)}: added, endpoint ${endpointText(reg.endpoint)}`);
    }
  }

  if (changes.length > 0) await opts.backend.set({ name: opts.ifname, peers: changes });
  return result;
}
