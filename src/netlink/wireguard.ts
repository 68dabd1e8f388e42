/**
 * The `wireguard` generic netlink family (include/uapi/linux/wireguard.h) to and from the device
 * model: WG_CMD_GET_DEVICE dumps with split peers coalesced, WG_CMD_SET_DEVICE split across
 * messages exactly as wg(8)'s kernel_set_device (ipc-linux.h) splits it. Attribute ids mirror the
 * kernel's uapi header. The pure halves (encodeSetMessages, decodeDevice) are tested against byte
 * fixtures; getDevice/setDevice add the socket.
 */
import { WgError } from '../conf/backend.js';
import { EINTR, EINVAL, ENAMETOOLONG, EPROTO } from '../conf/errno.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../conf/ip.js';
import { AF_INET, AF_INET6, encodeSockaddrIn, encodeSockaddrIn6, parseSockaddr } from '../conf/sockaddr.js';
import { KEY_LEN, wipeDevice, type WgAllowedIp, type WgDevice, type WgEndpoint, type WgPeer } from '../conf/model.js';
import { AttrWriter, NLA_HDRLEN, NLA_TYPE_MASK, getStr } from './attr.js';
import { GenlSocket, genlAttrs, newGenlMessage } from './genl.js';
import { ifindexOfName, ifnameOfIndex } from './ifindex.js';
import { createLink, deleteLink } from './rtnl.js';
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST } from './socket.js';

export const WG_GENL_NAME = 'wireguard';
export const WG_GENL_VERSION = 1;
export const WG_CMD_GET_DEVICE = 0;
export const WG_CMD_SET_DEVICE = 1;

export const WGDEVICE_F_REPLACE_PEERS = 1;
export const WGDEVICE_A_IFINDEX = 1;
export const WGDEVICE_A_IFNAME = 2;
export const WGDEVICE_A_PRIVATE_KEY = 3;
export const WGDEVICE_A_PUBLIC_KEY = 4;
export const WGDEVICE_A_FLAGS = 5;
export const WGDEVICE_A_LISTEN_PORT = 6;
export const WGDEVICE_A_FWMARK = 7;
export const WGDEVICE_A_PEERS = 8;

export const WGPEER_F_REMOVE_ME = 1;
export const WGPEER_F_REPLACE_ALLOWEDIPS = 2;
export const WGPEER_F_UPDATE_ONLY = 4;
export const WGPEER_A_PUBLIC_KEY = 1;
export const WGPEER_A_PRESHARED_KEY = 2;
export const WGPEER_A_FLAGS = 3;
export const WGPEER_A_ENDPOINT = 4;
export const WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL = 5;
export const WGPEER_A_LAST_HANDSHAKE_TIME = 6;
export const WGPEER_A_RX_BYTES = 7;
export const WGPEER_A_TX_BYTES = 8;
export const WGPEER_A_ALLOWEDIPS = 9;
export const WGPEER_A_PROTOCOL_VERSION = 10;

export const WGALLOWEDIP_F_REMOVE_ME = 1;
export const WGALLOWEDIP_A_FAMILY = 1;
export const WGALLOWEDIP_A_IPADDR = 2;
export const WGALLOWEDIP_A_CIDR_MASK = 3;
export const WGALLOWEDIP_A_FLAGS = 4;

/** wg's SOCKET_BUFFER_SIZE: min(page size, 8192) — 4096 on the platforms Node runs wgts on. */
export const SET_MESSAGE_LIMIT = 4096;

/**
 * The receive buffer of a dump (see NetlinkSocket.open): 32 KiB, libmnl's MNL_SOCKET_DUMP_SIZE.
 * The kernel caps a dump datagram at that, skb overhead included, and fills each one up to the
 * reader's buffer, so a 10,000-peer dump arrives in ~70 datagrams instead of ~560. A set keeps
 * the default exact-size reads: with a fixed buffer each of its ~330 acks cost a zeroed
 * allocation, and VM runs of a 10,000-peer set were no faster (5-8% slower, within noise).
 */
const DUMP_RECV_BUFFER = 32768;

const IFNAMSIZ = 16;

// ---------------------------------------------------------------------------------------------
// Endpoints: raw sockaddr_in / sockaddr_in6 as the kernel takes and gives them.

/** sockaddr bytes for an endpoint (host must be numeric; `%scope` by name or number). */
export function encodeSockaddr(ep: WgEndpoint): Uint8Array {
  if (ep.family === 4) {
    const addr = parseIPv4(ep.host);
    if (!addr) throw new WgError(EINVAL, `invalid IPv4 endpoint address ${ep.host}`);
    return encodeSockaddrIn(addr, ep.port);
  }
  const pct = ep.host.indexOf('%');
  const addr = parseIPv6(pct < 0 ? ep.host : ep.host.slice(0, pct));
  if (!addr) throw new WgError(EINVAL, `invalid IPv6 endpoint address ${ep.host}`);
  let scope = 0;
  if (pct >= 0) {
    const s = ep.host.slice(pct + 1);
    const idx = /^[0-9]+$/.test(s) ? Number(s) : ifindexOfName(s);
    if (idx === undefined || idx > 0xffffffff) throw new WgError(EINVAL, `unknown scope in endpoint ${ep.host}`);
    scope = idx;
  }
  return encodeSockaddrIn6(addr, ep.port, scope);
}

/**
 * Endpoint from sockaddr bytes, as wg prints it (getnameinfo NI_NUMERICHOST: a scope id is shown
 * as `%ifname` for link-local addresses when the interface exists, else as a number).
 */
export function decodeSockaddr(p: Uint8Array): WgEndpoint | undefined {
  const f = parseSockaddr(p, true);
  if (f === undefined) return undefined;
  const { addr, port, scope } = f;
  if (f.family === 4) return { family: 4, host: formatIPv4(addr), port };
  let host = formatIPv6(addr);
  if (scope !== 0) {
    const linkLocal = (addr[0] === 0xfe && (addr[1]! & 0xc0) === 0x80) || (addr[0] === 0xff && (addr[1]! & 0x0f) === 0x02);
    host += `%${(linkLocal && ifnameOfIndex(scope)) || scope}`;
  }
  return { family: 6, host, port };
}

// ---------------------------------------------------------------------------------------------
// SET: the model to WG_CMD_SET_DEVICE messages.

/** Whether any allowed IP in the request asks for removal (needs WGALLOWEDIP_F_REMOVE_ME). */
export function usesAllowedIpRemoval(device: WgDevice): boolean {
  return device.peers.some((p) => p.allowedIps.some((a) => a.remove));
}

function putAllowedIp(w: AttrWriter, a: WgAllowedIp): boolean {
  const nest = w.nestStart(0);
  if (nest < 0) return false;
  const ok =
    w.putU16(WGALLOWEDIP_A_FAMILY, a.family === 4 ? AF_INET : AF_INET6) &&
    w.put(WGALLOWEDIP_A_IPADDR, a.addr) &&
    w.putU8(WGALLOWEDIP_A_CIDR_MASK, a.cidr) &&
    (!a.remove || w.putU32(WGALLOWEDIP_A_FLAGS, WGALLOWEDIP_F_REMOVE_ME));
  if (!ok) {
    w.cancel(nest);
    return false;
  }
  w.nestEnd(nest);
  return true;
}

/**
 * Splits a set into messages as wg's kernel_set_device does. Every message starts with IFNAME;
 * the first also carries PRIVATE_KEY, LISTEN_PORT, FWMARK and FLAGS (REPLACE_PEERS). Peers are
 * appended while they fit in `limit` bytes: a peer whose header does not fit is dropped from this
 * message and starts the next; when an allowed IP does not fit, the nests are closed and the next
 * message repeats the peer with PUBLIC_KEY (and REMOVE_ME) plus the remaining allowed IPs only.
 * REPLACE_ALLOWEDIPS, PSK, endpoint and keepalive go only in a peer's first fragment.
 * `start(first)` makes an empty message (nlmsghdr + genlmsghdr) with the limit.
 */
export function* encodeSetMessages(device: WgDevice, start: () => AttrWriter): Generator<AttrWriter> {
  const peers = device.peers;
  let pi = -1; // index of the peer to resume with; -1 = first message
  let ai = -1; // index of the allowed IP to resume with inside peers[pi]; -1 = peer not started
  for (;;) {
    const w = start();
    const must = (ok: boolean): void => {
      if (!ok) throw new WgError(EINVAL, 'netlink: device attributes do not fit in one message');
    };
    must(w.putStrz(WGDEVICE_A_IFNAME, device.name));
    if (pi < 0) {
      if (device.privateKey) must(w.put(WGDEVICE_A_PRIVATE_KEY, device.privateKey));
      if (device.listenPort !== undefined) must(w.putU16(WGDEVICE_A_LISTEN_PORT, device.listenPort));
      if (device.fwmark !== undefined) must(w.putU32(WGDEVICE_A_FWMARK, device.fwmark));
      if (device.replacePeers) must(w.putU32(WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS));
      pi = 0;
    }
    if (peers.length === 0) {
      yield w;
      return;
    }
    const peersNest = w.nestStart(WGDEVICE_A_PEERS);
    must(peersNest >= 0);
    let more = false;
    peerLoop: for (; pi < peers.length; pi++) {
      const peer = peers[pi]!;
      const peerNest = w.nestStart(0);
      const cancelPeer = (): void => {
        if (peerNest >= 0) w.cancel(peerNest);
        more = true;
      };
      if (peerNest < 0 || !w.put(WGPEER_A_PUBLIC_KEY, peer.publicKey)) {
        cancelPeer();
        break;
      }
      let flags = peer.remove ? WGPEER_F_REMOVE_ME : 0;
      if (peer.updateOnly) flags |= WGPEER_F_UPDATE_ONLY;
      if (ai < 0) {
        if (peer.replaceAllowedIps) flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
        if (
          (peer.presharedKey && !w.put(WGPEER_A_PRESHARED_KEY, peer.presharedKey)) ||
          (peer.endpoint && !w.put(WGPEER_A_ENDPOINT, encodeSockaddr(peer.endpoint))) ||
          (peer.persistentKeepalive !== undefined &&
            !w.putU16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, peer.persistentKeepalive))
        ) {
          cancelPeer();
          break;
        }
      }
      if (flags && !w.putU32(WGPEER_A_FLAGS, flags)) {
        cancelPeer();
        break;
      }
      if (peer.allowedIps.length > 0) {
        if (ai < 0) ai = 0;
        const ipsNest = w.nestStart(WGPEER_A_ALLOWEDIPS);
        if (ipsNest < 0) {
          // wg: toobig_allowedips with no nest open — close the peer as it is, resume at `ai`.
          w.nestEnd(peerNest);
          more = true;
          break peerLoop;
        }
        for (; ai < peer.allowedIps.length; ai++) {
          if (!putAllowedIp(w, peer.allowedIps[ai]!)) {
            w.nestEnd(ipsNest);
            w.nestEnd(peerNest);
            more = true;
            break peerLoop;
          }
        }
        w.nestEnd(ipsNest);
      }
      ai = -1;
      w.nestEnd(peerNest);
    }
    w.nestEnd(peersNest);
    yield w;
    if (!more) return;
  }
}

// ---------------------------------------------------------------------------------------------
// GET: dump messages to the model.
//
// A 10,000-peer dump is ~100,000 attributes, and `wgts show` decodes it in a fresh process where
// the JIT is still cold: the walk below is plain offset arithmetic on the bytes (no closures, no
// DataView, no copy per attribute). It follows the same rules as forEachAttr and the getters in
// attr.ts (types masked, exact sizes, malformed tail ignored), which the tests check on real kernel
// dumps.
//
// What the model keeps of public data (public keys, allowed-IP addresses) are views into the
// received datagrams, which are fresh buffers never reused; secrets (the private key, preshared
// keys) are copied and their bytes in the datagram zeroed at once, so nothing secret outlives the
// decode outside the model, which the caller wipes (wipeDevice). `wipeSecrets` zeroes a dump
// that is not decoded (interrupted, or failed midway).

const u16at = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32at = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
/**
 * A u64: the shared literal 0n for zero (idle peers: most counters and times), one BigInt when it
 * fits in 32 bits.
 */
const u64at = (b: Uint8Array, o: number): bigint => {
  const hi = u32at(b, o + 4);
  const lo = u32at(b, o);
  if (hi === 0) return lo === 0 ? 0n : BigInt(lo);
  return (BigInt(hi) << 32n) | BigInt(lo);
};
const s64at = (b: Uint8Array, o: number): bigint => (b[o + 7]! & 0x80 ? BigInt.asIntN(64, u64at(b, o)) : u64at(b, o));
const isZero = (b: Uint8Array, o: number, n: number): boolean => {
  let acc = 0;
  for (let i = 0; i < n; i++) acc |= b[o + i]!;
  return acc === 0;
};

/**
 * The attribute walk every loop below shares (mnl_attr_for_each): the end of the well-formed
 * attribute at b[o, end), or -1 when no header fits there or its length is bad (the rest is
 * ignored). Its payload is b[o + NLA_HDRLEN, result); the next attribute starts at align4(result).
 */
function attrEnd(b: Uint8Array, o: number, end: number): number {
  if (o + NLA_HDRLEN > end) return -1;
  const len = u16at(b, o);
  return len < NLA_HDRLEN || o + len > end ? -1 : o + len;
}
const attrType = (b: Uint8Array, o: number): number => u16at(b, o + 2) & NLA_TYPE_MASK;
const next = (e: number): number => (e + 3) & ~3;

/** A copy of a secret attribute's bytes; the source bytes are zeroed. */
function takeSecret(b: Uint8Array, v: number, n: number): Uint8Array {
  const key = b.slice(v, v + n);
  b.fill(0, v, v + n);
  return key;
}

/** One allowed-IP nest at b[o, end); null if family/address/mask do not agree (wg fails the dump). */
function decodeAllowedIp(b: Uint8Array, o: number, end: number): WgAllowedIp | null {
  let family = -1;
  let addrAt = -1;
  let addrLen = 0;
  let cidr = 0;
  for (let e: number; (e = attrEnd(b, o, end)) >= 0; o = next(e)) {
    const type = attrType(b, o);
    const size = e - o - NLA_HDRLEN;
    if (type === WGALLOWEDIP_A_FAMILY && size === 2) family = u16at(b, o + NLA_HDRLEN);
    else if (type === WGALLOWEDIP_A_IPADDR && (size === 4 || size === 16)) {
      addrAt = o + NLA_HDRLEN;
      addrLen = size;
    } else if (type === WGALLOWEDIP_A_CIDR_MASK && size === 1) cidr = b[o + NLA_HDRLEN]!;
  }
  if (family === AF_INET && cidr <= 32 && addrLen === 4) return { family: 4, addr: b.subarray(addrAt, addrAt + 4), cidr };
  if (family === AF_INET6 && cidr <= 128 && addrLen === 16) return { family: 6, addr: b.subarray(addrAt, addrAt + 16), cidr };
  return null;
}

/** One peer nest at b[o, end); null if it has no public key or a bad allowed IP. */
function decodePeer(b: Uint8Array, o: number, end: number): WgPeer | null {
  let publicKey: Uint8Array | undefined;
  const peer = { allowedIps: [] } as unknown as WgPeer;
  for (let e: number; (e = attrEnd(b, o, end)) >= 0; o = next(e)) {
    const v = o + NLA_HDRLEN;
    const size = e - v;
    switch (attrType(b, o)) {
      case WGPEER_A_PUBLIC_KEY:
        if (size === KEY_LEN) publicKey = b.subarray(v, v + KEY_LEN);
        break;
      case WGPEER_A_PRESHARED_KEY:
        if (size === KEY_LEN && !isZero(b, v, KEY_LEN)) peer.presharedKey = takeSecret(b, v, KEY_LEN);
        break;
      case WGPEER_A_ENDPOINT: {
        const ep = decodeSockaddr(b.subarray(v, e));
        if (ep) peer.endpoint = ep;
        break;
      }
      case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
        if (size === 2) peer.persistentKeepalive = u16at(b, v);
        break;
      case WGPEER_A_LAST_HANDSHAKE_TIME:
        if (size === 16) {
          const nsec = u32at(b, v + 12) === 0 ? u32at(b, v + 8) : Number(s64at(b, v + 8));
          peer.lastHandshake = { sec: s64at(b, v), nsec };
        }
        break;
      case WGPEER_A_RX_BYTES:
        if (size === 8) peer.rxBytes = u64at(b, v);
        break;
      case WGPEER_A_TX_BYTES:
        if (size === 8) peer.txBytes = u64at(b, v);
        break;
      case WGPEER_A_PROTOCOL_VERSION:
        if (size === 4) peer.protocolVersion = u32at(b, v);
        break;
      case WGPEER_A_ALLOWEDIPS:
        for (let a = v, ae: number; (ae = attrEnd(b, a, e)) >= 0; a = next(ae)) {
          const ip = decodeAllowedIp(b, a + NLA_HDRLEN, ae);
          if (!ip) {
            peer.presharedKey?.fill(0);
            return null;
          }
          peer.allowedIps.push(ip);
        }
        break;
      // WGPEER_A_UNSPEC (0) is the padding attribute before u64s on some CPUs: skipped like any unknown type.
    }
  }
  if (!publicKey) {
    peer.presharedKey?.fill(0);
    return null;
  }
  peer.publicKey = publicKey;
  return peer;
}

/**
 * Builds the device from the attribute payloads of a dump's messages (genl header stripped), then
 * merges adjacent peers with the same public key (wg's coalesce_peers: a peer split across
 * messages continues with only PUBLIC_KEY + ALLOWEDIPS). Throws EPROTO on a malformed peer or
 * allowed IP, as wg's parser fails the dump. Zeroes the secret attributes it copies (see above);
 * the model's public keys and addresses are views into `payloads`.
 */
export function decodeDevice(name: string, payloads: Iterable<Uint8Array>): WgDevice {
  const device: WgDevice = { name, peers: [] };
  let last: WgPeer | undefined;
  for (const b of payloads) {
    for (let o = 0, e: number; (e = attrEnd(b, o, b.length)) >= 0; o = next(e)) {
      const v = o + NLA_HDRLEN;
      const size = e - v;
      switch (attrType(b, o)) {
        case WGDEVICE_A_IFINDEX:
          if (size === 4) device.ifindex = u32at(b, v);
          break;
        case WGDEVICE_A_IFNAME: {
          const s = getStr(b.subarray(v, e));
          if (s !== undefined) device.name = s;
          break;
        }
        case WGDEVICE_A_PRIVATE_KEY:
          if (size === KEY_LEN) {
            device.privateKey?.fill(0);
            device.privateKey = takeSecret(b, v, KEY_LEN);
          }
          break;
        case WGDEVICE_A_PUBLIC_KEY:
          if (size === KEY_LEN) device.publicKey = b.subarray(v, e);
          break;
        case WGDEVICE_A_LISTEN_PORT:
          if (size === 2) device.listenPort = u16at(b, v);
          break;
        case WGDEVICE_A_FWMARK:
          if (size === 4) device.fwmark = u32at(b, v);
          break;
        case WGDEVICE_A_PEERS:
          for (let p = v, pe: number; (pe = attrEnd(b, p, e)) >= 0; p = next(pe)) {
            const peer = decodePeer(b, p + NLA_HDRLEN, pe);
            if (!peer) {
              wipeDevice(device);
              throw new WgError(EPROTO, 'netlink: malformed peer in device dump');
            }
            if (last && sameKey(last.publicKey, peer.publicKey)) {
              for (const a of peer.allowedIps) last.allowedIps.push(a);
            } else {
              device.peers.push(peer);
              last = peer;
            }
          }
          break;
      }
    }
  }
  return device;
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  // Public keys are not secret: a plain comparison is fine here.
  for (let i = 0; i < KEY_LEN; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// The kernel calls.

function checkName(name: string): void {
  if (Buffer.byteLength(name) >= IFNAMSIZ) throw new WgError(ENAMETOOLONG, `Interface name too long: ${name}`);
}

/** Dumps restarted because the kernel marked them NLM_F_DUMP_INTR (observable by tests). */
export const dumpStats = { restarts: 0 };

/**
 * WG_CMD_GET_DEVICE as a dump by IFNAME; restarts while the kernel marks the dump
 * NLM_F_DUMP_INTR (the configuration changed mid-dump), as wg retries on EINTR.
 */
export async function getDevice(name: string): Promise<WgDevice> {
  checkName(name);
  for (let attempt = 0; ; attempt++) {
    const sock = await GenlSocket.open(WG_GENL_NAME, WG_GENL_VERSION, { recvBuffer: DUMP_RECV_BUFFER });
    try {
      const msg = sock.message(WG_CMD_GET_DEVICE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
      msg.putStrz(WGDEVICE_A_IFNAME, name);
      const reply = await sock.request(msg, { dump: true });
      // The dump carries the private key and preshared keys: a dump that is not decoded is wiped
      // whole; decodeDevice zeroes the secrets it copies and keeps views of the rest.
      const wipeAll = (): void => {
        for (const m of reply.messages) m.payload.fill(0);
      };
      if (reply.interrupted) {
        dumpStats.restarts++;
        wipeAll();
        if (attempt < 1000) continue;
        throw new WgError(EINTR, 'netlink: device dump kept being interrupted');
      }
      const payloads: Uint8Array[] = [];
      for (const m of reply.messages) {
        if (m.type === sock.family) payloads.push(genlAttrs(m.payload));
        else m.payload.fill(0);
      }
      try {
        return decodeDevice(name, payloads);
      } catch (e) {
        wipeAll();
        throw e;
      }
    } finally {
      sock.close();
    }
  }
}

/** WG_CMD_SET_DEVICE, split as wg splits it; each message is acknowledged before the next is sent. */
export async function setDevice(device: WgDevice): Promise<void> {
  checkName(device.name);
  const sock = await GenlSocket.open(WG_GENL_NAME, WG_GENL_VERSION);
  try {
    if (usesAllowedIpRemoval(device) && !(await allowedIpRemovalSupported(sock))) {
      const why = 'the kernel WireGuard module cannot remove single allowed IPs (WGALLOWEDIP_F_REMOVE_ME needs Linux 6.16 or later)';
      throw new WgError(95, why, { hint: `wgts: ${why}; list the allowed IPs to keep instead (allowed-ips replaces the list)` });
    }
    await sendSet(sock, device);
  } finally {
    sock.close();
  }
}

/**
 * Messages per datagram after the first (see sendSet): 16 × 4 KiB stays far below the default socket
 * send buffer (~208 KiB, the limit of one netlink datagram) and 16 acks fit the receive buffer.
 */
const SET_BATCH = 16;

/**
 * Sends the split messages and waits for their acks; wipes each buffer (it may hold keys).
 *
 * wg sends each message and waits for its ack before the next. wgts sends the first message alone
 * the same way — it carries the device attributes and the replace-peers flag, and the errors that
 * hit every message (no such device, no permission) stop the set there, as in wg — and then the
 * rest in datagrams of SET_BATCH messages. That is one system call and one event-loop turn per 16
 * messages instead of per message: about 20 instead of 330 for 10,000 peers (docs/benchmarks.md,
 * "Kernel netlink"). The difference from wg, stated: if a later message fails (the kernel ran out of
 * memory, say), the kernel still carries out the rest of that datagram (at most SET_BATCH - 1
 * messages), where wg would have stopped; the error reported is the same.
 */
async function sendSet(sock: GenlSocket, device: WgDevice): Promise<void> {
  const batch: AttrWriter[] = [];
  let size = 1; // the first message goes alone
  try {
    for (const msg of encodeSetMessages(device, () =>
      sock.message(WG_CMD_SET_DEVICE, NLM_F_REQUEST | NLM_F_ACK, SET_MESSAGE_LIMIT),
    )) {
      batch.push(msg);
      if (batch.length < size) continue;
      await sock.requestBatch(batch);
      wipeMessages(batch);
      size = SET_BATCH;
    }
    if (batch.length) await sock.requestBatch(batch);
  } finally {
    wipeMessages(batch); // also what a failed request or a throwing encoder left unsent
  }
}

function wipeMessages(batch: AttrWriter[]): void {
  for (const m of batch) m.bytes().fill(0);
  batch.length = 0;
}

/** Message factory for tests and fixtures: a SET message with a given family id. */
export function setMessageFactory(family: number, limit = SET_MESSAGE_LIMIT): () => AttrWriter {
  return () => newGenlMessage(family, WG_CMD_SET_DEVICE, WG_GENL_VERSION, NLM_F_REQUEST | NLM_F_ACK, limit);
}

let removalSupport: Promise<boolean> | undefined;

/**
 * Probes once per process whether the module accepts WGALLOWEDIP_A_FLAGS (added in Linux 6.16).
 * Older modules parse allowed IPs strictly and reject the unknown attribute with EINVAL, but only
 * after the peer's earlier attributes were applied — so the probe runs on a throwaway device:
 * create `wgtsprobe<hex>`, add a peer with one allowed IP carrying the flag, delete the device.
 */
export function allowedIpRemovalSupported(sock: GenlSocket): Promise<boolean> {
  return (removalSupport ??= probeRemoval(sock));
}

async function probeRemoval(sock: GenlSocket): Promise<boolean> {
  const name = `wgtsprobe${Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, '0')}`;
  await createLink(name, 'wireguard');
  try {
    const peerKey = new Uint8Array(KEY_LEN).fill(0x42);
    const probe: WgDevice = {
      name,
      peers: [{ publicKey: peerKey, allowedIps: [{ family: 4, addr: new Uint8Array(4), cidr: 32, remove: true }] }],
    };
    await sendSet(sock, probe);
    return true;
  } catch (e) {
    if (e instanceof WgError && e.errno === EINVAL) return false;
    throw e;
  } finally {
    await deleteLink(name).catch(() => undefined);
  }
}
