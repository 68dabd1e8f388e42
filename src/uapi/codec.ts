/**
 * The cross-platform userspace API (UAPI) text codec, shared by our daemon's server side and the
 * CLI's client side (wireguard.com/xplatform; wireguard-tools' ipc-uapi.h).
 *
 * Server side (imitates wireguard-go's uapi.go):
 * - `parseSetRequest`: the lines of one `set=1` operation -> a WgDevice, or a NEGATIVE errno as
 *   wireguard-go writes it (`errno=-22`). Unlike wireguard-go, the whole request is validated
 *   before anything is returned, so a device can apply it atomically.
 * - `formatGetResponse`: a device's state in wireguard-go's key order, ending `errno=0\n\n`.
 * Client side (imitates wg(8)'s ipc-uapi.h):
 * - `formatSetRequest`: a WgDevice -> the `set=1` text wg sends.
 * - `parseGetResponse`: a `get=1` reply -> WgDevice, as leniently and strictly as wg parses it.
 */
import { WgError } from '../conf/backend.js';
import { EADDRINUSE, EINVAL, EIO, ENETUNREACH, EPROTO } from '../conf/errno.js';
import { formatEndpoint, formatIPv4, formatIPv6, formatIPv6Go, parseIPv4, parseIPv6 } from '../conf/ip.js';
import { keyFromHex, keyIsZero, keyToHex } from '../conf/keys.js';
import type { WgAllowedIp, WgDevice, WgEndpoint, WgPeer } from '../conf/model.js';
import { emptyDevice, emptyPeer, wipeDevice } from '../conf/model.js';
import { publicKeyFromPrivate } from '../crypto/primitives.js';

/** wireguard-go's UAPI error codes (ipc/uapi_unix.go): negated Linux errno numbers. */
export const IPC_ERROR_IO = -EIO;
export const IPC_ERROR_PROTOCOL = -EPROTO;
export const IPC_ERROR_INVALID = -EINVAL;
export const IPC_ERROR_PORT_IN_USE = -EADDRINUSE;
export const IPC_ERROR_UNKNOWN = -55; // ENOANO, as wireguard-go's ipcErrorUnknown

export type SetRequestResult =
  | { ok: true; device: WgDevice }
  | { ok: false; errno: number; message: string };

/**
 * A run of characters that could be (part of) a key: 16 hex digits (64 bits of a UAPI key) or 20
 * base64 characters. Leftmost match first, so a run swallows any letters glued to its front.
 */
const KEY_LIKE = /[A-Za-z0-9+/]{20,}|[0-9a-fA-F]{16,}/g;

/**
 * Error messages quote the request (wireguard-go's style: `failed to parse line "..."`), and the
 * daemon logs them. A malformed line can still carry a key (`private_key` with its `=` missing, a
 * base64 key where a name belongs), so every key-like run is replaced by its length; names,
 * numbers and addresses stay readable.
 */
export function redactKeys(text: string): string {
  return text.replace(KEY_LIKE, (run) => `<${run.length} characters not shown>`);
}

class UapiInvalid extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(redactKeys(message));
  }
}

function invalid(message: string): never {
  throw new UapiInvalid(IPC_ERROR_INVALID, message);
}

/** Go strconv.ParseUint(value, 10, bits): decimal digits only, in range. */
function parseUintGo(value: string, max: bigint, what: string): bigint {
  if (!/^[0-9]+$/.test(value)) invalid(`${what}: strconv.ParseUint: parsing "${value}": invalid syntax`);
  const n = BigInt(value);
  if (n > max) invalid(`${what}: strconv.ParseUint: parsing "${value}": value out of range`);
  return n;
}

function hexKey(value: string, what: string): Uint8Array {
  const key = keyFromHex(value);
  if (!key) invalid(`${what}: invalid hex key`);
  return key;
}

/** Go netip.ParseAddr: IPv4 (no leading zeros) or IPv6 with an optional non-empty zone. */
function parseAddrGo(text: string): { family: 4 | 6; addr: Uint8Array; zone?: string } | null {
  if (!text.includes(':')) {
    const addr = parseIPv4(text);
    return addr ? { family: 4, addr } : null;
  }
  const pct = text.indexOf('%');
  const ip = pct === -1 ? text : text.slice(0, pct);
  const zone = pct === -1 ? undefined : text.slice(pct + 1);
  if (zone === '') return null;
  const addr = parseIPv6(ip);
  if (!addr) return null;
  return zone === undefined ? { family: 6, addr } : { family: 6, addr, zone };
}

/** Go netip.ParseAddrPort, then stored as wireguard-go would print it. */
function parseEndpointGo(value: string): WgEndpoint {
  let host: string;
  let port: string;
  const bad = (): never => invalid(`failed to set endpoint ${value}: invalid ip:port`);
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close === -1 || value[close + 1] !== ':') bad();
    host = value.slice(1, close);
    port = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon === -1) bad();
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
  }
  const addr = parseAddrGo(host);
  if (!addr) return bad();
  if ((addr.family === 6) !== value.startsWith('[')) bad();
  if (!/^[0-9]+$/.test(port) || BigInt(port) > 65535n) bad();
  const text = addr.family === 4 ? formatIPv4(addr.addr) : formatIPv6Go(addr.addr);
  return { family: addr.family, host: addr.zone ? `${text}%${addr.zone}` : text, port: Number(port) };
}

/** Go netip.ParsePrefix (no zones, bits required, no leading zeros in bits). */
function parsePrefixGo(value: string): WgAllowedIp {
  const bad = (): never => invalid(`failed to set allowed ip: netip.ParsePrefix("${value}"): invalid prefix`);
  const slash = value.lastIndexOf('/');
  if (slash === -1) bad();
  const ip = value.slice(0, slash);
  const bits = value.slice(slash + 1);
  if (ip.includes('%')) bad();
  const addr = parseAddrGo(ip);
  if (!addr) return bad();
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bits)) bad();
  const cidr = Number(bits);
  if (cidr > (addr.family === 4 ? 32 : 128)) bad();
  return { family: addr.family, addr: addr.addr, cidr };
}

function expectTrue(value: string, what: string): true {
  if (value !== 'true') invalid(`failed to set ${what}, invalid value: ${value}`);
  return true;
}

/**
 * Parses one UAPI `set=1` operation line by line, so a request is taken in as it arrives (the
 * server hands over each line; nothing holds the whole text). `line()` takes one line without its
 * `\n` (a `\r` before it is dropped, as Go's line scanner does) and returns false at the empty line
 * that ends the request; `finish()` gives the device to apply, or `{ ok: false, errno, message }`
 * with wireguard-go's negative errno (-71 for a line without `=`, -22 for everything else) and its
 * message. After the first error the remaining lines are skipped (and nothing is applied).
 */
export class SetParser {
  private readonly device = emptyDevice('');
  private peer: WgPeer | undefined;
  private error: UapiInvalid | undefined;

  line(raw: string): boolean {
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (raw === '') return false;
    if (this.error) return true;
    try {
      this.apply(raw);
    } catch (err) {
      if (!(err instanceof UapiInvalid)) throw err;
      this.error = err;
      wipeDevice(this.device); // keys of the lines before the bad one
    }
    return true;
  }

  finish(): SetRequestResult {
    if (this.error) return { ok: false, errno: this.error.errno, message: this.error.message };
    return { ok: true, device: this.device };
  }

  /** Forgets what was parsed (a request abandoned half-way). */
  discard(): void {
    wipeDevice(this.device);
  }

  private apply(raw: string): void {
    const device = this.device;
    let peer = this.peer;
    const eq = raw.indexOf('=');
    if (eq === -1) throw new UapiInvalid(IPC_ERROR_PROTOCOL, `failed to parse line ${JSON.stringify(raw)}`);
    const key = raw.slice(0, eq);
    const value = raw.slice(eq + 1);
    if (key === 'public_key') {
      peer = this.peer = emptyPeer(hexKey(value, 'failed to get peer by public key'));
      device.peers.push(peer);
      return;
    }
    if (!peer) {
      switch (key) {
        case 'private_key':
          device.privateKey = hexKey(value, 'failed to set private_key');
          break;
        case 'listen_port':
          device.listenPort = Number(parseUintGo(value, 0xffffn, 'failed to parse listen_port'));
          break;
        case 'fwmark':
          device.fwmark = Number(parseUintGo(value, 0xffffffffn, 'invalid fwmark'));
          break;
        case 'replace_peers':
          device.replacePeers = expectTrue(value, 'replace_peers');
          break;
        default:
          invalid(`invalid UAPI device key: ${key}`);
      }
      return;
    }
    switch (key) {
      case 'update_only':
        peer.updateOnly = expectTrue(value, 'update only');
        break;
      case 'remove':
        peer.remove = expectTrue(value, 'remove');
        break;
      case 'preshared_key':
        peer.presharedKey = hexKey(value, 'failed to set preshared key');
        break;
      case 'endpoint':
        peer.endpoint = parseEndpointGo(value);
        break;
      case 'persistent_keepalive_interval':
        peer.persistentKeepalive = Number(
          parseUintGo(value, 0xffffn, 'failed to set persistent keepalive interval'),
        );
        break;
      case 'replace_allowed_ips':
        peer.replaceAllowedIps = expectTrue(value, 'replace allowedips');
        // Lines apply in order: a replace drops whatever this section listed before it.
        peer.allowedIps = [];
        break;
      case 'allowed_ip': {
        const remove = value.startsWith('-');
        const prefix = parsePrefixGo(remove ? value.slice(1) : value);
        peer.allowedIps.push(remove ? { ...prefix, remove: true } : prefix);
        break;
      }
      case 'protocol_version':
        if (value !== '1') invalid(`invalid protocol version: ${value}`);
        peer.protocolVersion = 1;
        break;
      default:
        invalid(`invalid UAPI peer key: ${key}`);
    }
  }
}

/**
 * Parses the body of one UAPI `set=1` operation (the lines after `set=1`; a leading `set=1` line
 * is skipped if present). Parsing stops at the first empty line, or at the end of the text.
 */
export function parseSetRequest(lines: string): SetRequestResult {
  const all = lines.split('\n');
  if (all[0] === 'set=1') all.shift();
  const parser = new SetParser();
  for (const raw of all) if (!parser.line(raw)) break;
  return parser.finish();
}

/**
 * A device's state as wireguard-go's IpcGetOperation writes it, including the closing
 * `errno=0\n\n`. With a non-zero errno only `errno=N\n\n` is written.
 * Expects a full get-state model: missing counters/handshake print as 0, a missing preshared key as
 * zeros, a missing keepalive as 0.
 */
export function formatGetResponse(device: WgDevice, errno = 0): string {
  if (errno !== 0) return `errno=${errno}\n\n`;
  const out: string[] = [];
  if (device.privateKey && !keyIsZero(device.privateKey)) out.push(`private_key=${keyToHex(device.privateKey)}`);
  if (device.listenPort) out.push(`listen_port=${device.listenPort}`);
  if (device.fwmark) out.push(`fwmark=${device.fwmark}`);
  for (const peer of device.peers) {
    out.push(`public_key=${keyToHex(peer.publicKey)}`);
    out.push(`preshared_key=${keyToHex(peer.presharedKey ?? new Uint8Array(32))}`);
    out.push('protocol_version=1');
    // Go's AddrPort.String(): the host as parseSetRequest stored it (already Go's text).
    if (peer.endpoint) out.push(`endpoint=${peer.endpoint.family === 6 ? `[${peer.endpoint.host}]` : peer.endpoint.host}:${peer.endpoint.port}`);
    out.push(`last_handshake_time_sec=${peer.lastHandshake?.sec ?? 0n}`);
    out.push(`last_handshake_time_nsec=${peer.lastHandshake?.nsec ?? 0}`);
    out.push(`tx_bytes=${peer.txBytes ?? 0n}`);
    out.push(`rx_bytes=${peer.rxBytes ?? 0n}`);
    out.push(`persistent_keepalive_interval=${peer.persistentKeepalive ?? 0}`);
    for (const ip of peer.allowedIps) {
      const text = ip.family === 4 ? formatIPv4(ip.addr) : formatIPv6Go(ip.addr);
      out.push(`allowed_ip=${text}/${ip.cidr}`);
    }
  }
  out.push(`errno=0`);
  return out.join('\n') + '\n\n';
}

/** The `set=1` request wg(8) sends for a device model (ipc-uapi.h userspace_set_device). */
export function formatSetRequest(device: WgDevice): string {
  const out: string[] = ['set=1'];
  if (device.privateKey) out.push(`private_key=${keyToHex(device.privateKey)}`);
  if (device.listenPort !== undefined) out.push(`listen_port=${device.listenPort}`);
  if (device.fwmark !== undefined) out.push(`fwmark=${device.fwmark >>> 0}`);
  if (device.replacePeers) out.push('replace_peers=true');
  for (const peer of device.peers) {
    out.push(`public_key=${keyToHex(peer.publicKey)}`);
    if (peer.remove) {
      out.push('remove=true');
      continue;
    }
    // wg never sends update_only; other callers of the model (the registry) may ask for it.
    if (peer.updateOnly) out.push('update_only=true');
    if (peer.presharedKey) out.push(`preshared_key=${keyToHex(peer.presharedKey)}`);
    if (peer.endpoint) out.push(`endpoint=${formatEndpoint(peer.endpoint)}`);
    if (peer.persistentKeepalive !== undefined) out.push(`persistent_keepalive_interval=${peer.persistentKeepalive}`);
    if (peer.replaceAllowedIps) out.push('replace_allowed_ips=true');
    for (const ip of peer.allowedIps) {
      const text = ip.family === 4 ? formatIPv4(ip.addr) : formatIPv6(ip.addr);
      out.push(`allowed_ip=${ip.remove ? '-' : ''}${text}/${ip.cidr}`);
    }
  }
  return out.join('\n') + '\n\n';
}

/** wg's NUM(max): must start with a digit, all decimal, <= max. */
function num(value: string, max: bigint): bigint | null {
  if (!/^[0-9]+$/.test(value)) return null;
  const n = BigInt(value);
  return n > max ? null : n;
}

class Malformed extends Error {}

/**
 * Parses a reply to `get=1` as wg(8) does (ipc-uapi.h userspace_get_device): device keys only
 * before the first peer, unknown keys ignored, `errno=N` remembered, the empty line ends the reply.
 * Throws WgError: EPROTO for a malformed line or a reply that ends without an empty line, the
 * server's errno when it reported one. The device public key is derived from the private key;
 * every peer gets lastHandshake/rxBytes/txBytes (zero when absent). Endpoint hosts and allowed IPs
 * are kept in glibc's text form (what wg prints).
 */
export function parseGetResponse(text: string, name: string): WgDevice {
  const device = emptyDevice(name);
  let peer: WgPeer | undefined;
  let ret = -EPROTO;
  const lines = text.split('\n');
  // Every complete line ends in '\n'; the piece after the last '\n' is an incomplete line.
  const complete = lines.length - 1;
  const fail = (errno: number): never => {
    throw new WgError(errno, `Unable to access interface ${name}`);
  };
  try {
    for (let i = 0; i < complete; i++) {
      const line = lines[i]!;
      if (line === '') {
        if (ret) fail(-ret);
        return device;
      }
      const eq = line.indexOf('=');
      if (eq === -1) throw new Malformed();
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1);
      const need = (n: bigint | null): bigint => {
        if (n === null) throw new Malformed();
        return n;
      };
      if (!peer && key === 'private_key') {
        const k = keyFromHex(value);
        if (!k) throw new Malformed();
        device.privateKey = k;
        device.publicKey = publicKeyFromPrivate(k);
      } else if (!peer && key === 'listen_port') {
        device.listenPort = Number(need(num(value, 0xffffn)));
      } else if (!peer && key === 'fwmark') {
        device.fwmark = Number(need(num(value, 0xffffffffn)));
      } else if (key === 'public_key') {
        const k = keyFromHex(value);
        if (!k) throw new Malformed();
        peer = emptyPeer(k);
        peer.lastHandshake = { sec: 0n, nsec: 0 };
        peer.rxBytes = 0n;
        peer.txBytes = 0n;
        device.peers.push(peer);
      } else if (peer && key === 'preshared_key') {
        const k = keyFromHex(value);
        if (!k) throw new Malformed();
        if (!keyIsZero(k)) peer.presharedKey = k;
      } else if (peer && key === 'endpoint') {
        peer.endpoint = parseEndpointWg(value);
      } else if (peer && key === 'persistent_keepalive_interval') {
        peer.persistentKeepalive = Number(need(num(value, 0xffffn)));
      } else if (peer && key === 'allowed_ip') {
        peer.allowedIps.push(parseAllowedIpWg(value));
      } else if (peer && key === 'last_handshake_time_sec') {
        peer.lastHandshake!.sec = need(num(value, 0x7fffffffffffffffn));
      } else if (peer && key === 'last_handshake_time_nsec') {
        peer.lastHandshake!.nsec = Number(need(num(value, 0x7fffffffffffffffn)));
      } else if (peer && key === 'rx_bytes') {
        peer.rxBytes = need(num(value, 0xffffffffffffffffn));
      } else if (peer && key === 'tx_bytes') {
        peer.txBytes = need(num(value, 0xffffffffffffffffn));
      } else if (key === 'errno') {
        ret = -Number(need(num(value, 0x7fffffffn)));
      }
    }
  } catch (err) {
    wipeDevice(device);
    if (err instanceof Malformed) fail(EPROTO);
    if (err instanceof EndpointUnresolvable) fail(-ENETUNREACH); // wg returns +ENETUNREACH here (sic)
    throw err;
  }
  wipeDevice(device);
  return fail(EPROTO);
}

class EndpointUnresolvable extends Error {}

/** wg's get-side endpoint parse: `[host]:port` or split at the last colon; numeric only. */
function parseEndpointWg(value: string): WgEndpoint {
  let host: string;
  let port: string;
  if (value === '') throw new Malformed();
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close === -1 || value[close + 1] !== ':' || close + 2 >= value.length) throw new Malformed();
    host = value.slice(1, close);
    port = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon === -1 || colon + 1 >= value.length) throw new Malformed();
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
  }
  // getaddrinfo with a numeric service: decimal 0-65535.
  if (!/^[0-9]+$/.test(port) || BigInt(port) > 65535n) throw new EndpointUnresolvable();
  const v4 = parseIPv4(host);
  if (v4) return { family: 4, host: formatIPv4(v4), port: Number(port) };
  const pct = host.indexOf('%');
  const ip = parseIPv6(pct === -1 ? host : host.slice(0, pct));
  if (!ip || pct === host.length - 1) throw new EndpointUnresolvable();
  const scope = pct === -1 ? '' : host.slice(pct);
  return { family: 6, host: formatIPv6(ip) + scope, port: Number(port) };
}

/** wg's get-side allowed_ip parse: `ip/cidr`, family by `:`, inet_pton, cidr in range. */
function parseAllowedIpWg(value: string): WgAllowedIp {
  const slash = value.indexOf('/');
  if (slash === -1) throw new Malformed();
  const ipText = value.slice(0, slash);
  const mask = value.slice(slash + 1);
  if (!/^[0-9]+$/.test(mask)) throw new Malformed();
  const family = ipText.includes(':') ? 6 : 4;
  const addr = family === 6 ? parseIPv6(ipText) : parseIPv4(ipText);
  const cidr = Number(BigInt(mask) > 1000n ? 1000 : mask);
  if (!addr || cidr > (family === 6 ? 128 : 32)) throw new Malformed();
  return { family, addr, cidr };
}
