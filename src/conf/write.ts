/**
 * The device model to text: `formatConfig` prints exactly what `wg showconf` prints (showconf.c,
 * wg(8) `showconf`). Imports only conf modules.
 *
 * The model may come from a backend (already what the device holds) or from a parser (what was
 * asked for). For the second, the text is what showconf would print once the device applied it:
 * allowed IPs are printed masked to their prefix, as the kernel and wireguard-go store them, and
 * entries flagged `remove` are left out; zero keys and zero numbers print as absent, as a backend
 * reports them. Endpoints are printed as getnameinfo(NI_NUMERICHOST) would: glibc's IPv6 text
 * (whatever spelling the model carries), brackets for IPv6, the `%scope` kept.
 */
import { keyIsZero, keyToBase64 } from './keys.js';
import { formatEndpoint, formatIPv4, formatIPv6, maskPrefix } from './ip.js';
import { KEY_LEN, type Key, type WgAllowedIp, type WgDevice, type WgPeer } from './model.js';

/**
 * A key in base64 as wg prints it: keyToBase64's text, through Buffer's native encoder (one call
 * instead of 44 string appends; a 10,000-peer `show` prints 20,000 keys in a process whose JIT
 * has not warmed up). Contains keys: key material, never log it.
 */
export function formatKey(key: Key): string {
  if (key.length !== KEY_LEN) return keyToBase64(key); // throws its RangeError
  return Buffer.from(key.buffer, key.byteOffset, KEY_LEN).toString('base64');
}

/** Whether the address has bits set past the prefix (a parsed model may; a backend's never does). */
function hostBitsSet(addr: Uint8Array, cidr: number): boolean {
  const first = cidr >> 3;
  if (first < addr.length && addr[first]! & (0xff >> (cidr & 7))) return true;
  for (let i = first + 1; i < addr.length; i++) if (addr[i]) return true;
  return false;
}

/** An allowed IP as showconf prints it: the masked address and the prefix length. */
export function formatAllowedIp(ip: WgAllowedIp): string {
  const addr = hostBitsSet(ip.addr, ip.cidr) ? maskPrefix(ip.addr, ip.cidr) : ip.addr;
  return `${ip.family === 6 ? formatIPv6(addr) : formatIPv4(addr)}/${ip.cidr}`;
}

/** An endpoint as showconf prints it (`1.2.3.4:51820`, `[fe80::1%eth0]:51820`): ip.ts's, one copy. */
export { formatEndpoint };

/** One `[Peer]` section of showconf, without the blank line that separates it from the next. */
function formatPeer(peer: WgPeer): string {
  let out = `[Peer]\nPublicKey = ${formatKey(peer.publicKey)}\n`;
  if (peer.presharedKey && !keyIsZero(peer.presharedKey)) out += `PresharedKey = ${formatKey(peer.presharedKey)}\n`;
  let ips = '';
  for (const ip of peer.allowedIps) {
    if (ip.remove) continue;
    ips += ips ? `, ${formatAllowedIp(ip)}` : formatAllowedIp(ip);
  }
  if (ips) out += `AllowedIPs = ${ips}\n`;
  if (peer.endpoint) out += `Endpoint = ${formatEndpoint(peer.endpoint)}\n`;
  if (peer.persistentKeepalive) out += `PersistentKeepalive = ${peer.persistentKeepalive}\n`;
  return out;
}

/** The `wg showconf` text of a device. Contains keys: key material, never log it. */
export function formatConfig(device: WgDevice): string {
  let head = '[Interface]\n';
  if (device.listenPort) head += `ListenPort = ${device.listenPort}\n`;
  if (device.fwmark) head += `FwMark = 0x${device.fwmark.toString(16)}\n`;
  if (device.privateKey && !keyIsZero(device.privateKey)) head += `PrivateKey = ${formatKey(device.privateKey)}\n`;
  // One join of the peers: appending 10,000 of them to one string builds a deep rope that is
  // slow to flatten and to collect.
  const peers: string[] = [];
  for (const peer of device.peers) peers.push(formatPeer(peer));
  return `${head}\n${peers.join('\n')}`;
}
