/**
 * The device model to text: `formatConfig` prints exactly what `wg showconf` prints (showconf.c,
 * wg-tools.md §1.5). Imports only conf modules.
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
import type { WgAllowedIp, WgDevice } from './model.js';

/** An allowed IP as showconf prints it: the masked address and the prefix length. */
export function formatAllowedIp(ip: WgAllowedIp): string {
  const addr = maskPrefix(ip.addr, ip.cidr);
  return `${ip.family === 6 ? formatIPv6(addr) : formatIPv4(addr)}/${ip.cidr}`;
}

/** An endpoint as showconf prints it (`1.2.3.4:51820`, `[fe80::1%eth0]:51820`): ip.ts's, one copy. */
export { formatEndpoint };

/** The `wg showconf` text of a device. Contains keys: key material, never log it. */
export function formatConfig(device: WgDevice): string {
  let out = '[Interface]\n';
  if (device.listenPort) out += `ListenPort = ${device.listenPort}\n`;
  if (device.fwmark) out += `FwMark = 0x${device.fwmark.toString(16)}\n`;
  if (device.privateKey && !keyIsZero(device.privateKey)) out += `PrivateKey = ${keyToBase64(device.privateKey)}\n`;
  out += '\n';
  device.peers.forEach((peer, i) => {
    out += `[Peer]\nPublicKey = ${keyToBase64(peer.publicKey)}\n`;
    if (peer.presharedKey && !keyIsZero(peer.presharedKey)) out += `PresharedKey = ${keyToBase64(peer.presharedKey)}\n`;
    const ips = peer.allowedIps.filter((ip) => !ip.remove);
    if (ips.length > 0) out += `AllowedIPs = ${ips.map(formatAllowedIp).join(', ')}\n`;
    if (peer.endpoint) out += `Endpoint = ${formatEndpoint(peer.endpoint)}\n`;
    if (peer.persistentKeepalive) out += `PersistentKeepalive = ${peer.persistentKeepalive}\n`;
    if (i < device.peers.length - 1) out += '\n';
  });
  return out;
}
