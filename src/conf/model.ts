/**
 * The one device model every path speaks (the role of wireguard-tools' containers.h).
 *
 * "Not given" and "zero" are different things: an optional field that is `undefined` was not given
 * (wg's HAS_* flags); a field that is present carries a value, even if that value is zero. Flags
 * that ask for replacement or removal (REPLACE_PEERS, REMOVE_ME, REPLACE_ALLOWEDIPS, UPDATE_ONLY)
 * are booleans that are `true` only when asked for.
 *
 * This file imports nothing: it is pure data.
 */

/** A 32-byte Curve25519 key or preshared key. Key material: never log it. */
export type Key = Uint8Array;

export const KEY_LEN = 32;

/** An IP address family as wg uses it. */
export type Family = 4 | 6;

/** One allowed-IP prefix. `addr` is 4 bytes for IPv4, 16 for IPv6. */
export interface WgAllowedIp {
  family: Family;
  addr: Uint8Array;
  cidr: number;
  /** Upstream `-prefix` / WGALLOWEDIP_F_REMOVE_ME: remove this prefix instead of adding it. */
  remove?: boolean;
}

/**
 * A peer's endpoint, numeric. `host` is the canonical text of the address (IPv6 without brackets,
 * with `%scope` kept when present); `family` says which it is.
 */
export interface WgEndpoint {
  family: Family;
  host: string;
  port: number;
}

/** Wall-clock time of the last completed handshake; sec = 0n and nsec = 0 means never. */
export interface WgTimespec {
  sec: bigint;
  nsec: number;
}

export interface WgPeer {
  publicKey: Key;
  /** All-zero means "no preshared key" (and, in a set, removes it). */
  presharedKey?: Key;
  endpoint?: WgEndpoint;
  /** Seconds; 0 means off. */
  persistentKeepalive?: number;
  lastHandshake?: WgTimespec;
  rxBytes?: bigint;
  txBytes?: bigint;
  protocolVersion?: number;
  /** WGPEER_F_REMOVE_ME / UAPI `remove=true`. */
  remove?: boolean;
  /** WGPEER_F_UPDATE_ONLY / UAPI `update_only=true`. */
  updateOnly?: boolean;
  /** WGPEER_F_REPLACE_ALLOWEDIPS / UAPI `replace_allowed_ips=true`. */
  replaceAllowedIps?: boolean;
  allowedIps: WgAllowedIp[];
}

export interface WgDevice {
  name: string;
  ifindex?: number;
  /** All-zero in a set removes the private key. */
  privateKey?: Key;
  /** Derived from privateKey; backends fill it on get. */
  publicKey?: Key;
  listenPort?: number;
  /** 0 means off. */
  fwmark?: number;
  /** WGDEVICE_F_REPLACE_PEERS / UAPI `replace_peers=true`. */
  replacePeers?: boolean;
  peers: WgPeer[];
}

/** An empty device model with the given name. */
export function emptyDevice(name: string): WgDevice {
  return { name, peers: [] };
}

/** An empty peer model for the given public key. */
export function emptyPeer(publicKey: Key): WgPeer {
  return { publicKey, allowedIps: [] };
}

/**
 * Zeroes the key material a model holds (the private key and every preshared key), for models
 * read from a backend or parsed from a file once they are no longer needed: after a set, after
 * printing, after a lookup. Public keys are left as they are.
 */
export function wipeDevice(device: WgDevice): void {
  device.privateKey?.fill(0);
  for (const p of device.peers) p.presharedKey?.fill(0);
}

/**
 * Fills a new model with `fill`; if that fails, the keys read so far are wiped before the error
 * goes on (a failed parse leaves no key material behind).
 */
export async function fillOrWipe(device: WgDevice, fill: (device: WgDevice) => Promise<void>): Promise<WgDevice> {
  try {
    await fill(device);
    return device;
  } catch (e) {
    wipeDevice(device);
    throw e;
  }
}
