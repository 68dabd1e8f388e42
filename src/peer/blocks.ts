/**
 * The two texts that carry a new peer's keys: the [Peer] block appended to the server's file and
 * the client's own wg-quick configuration (wg-quick(8) keys: Address and DNS beside wg(8)'s).
 * Printing the client's private key is this module's job (the user asked for the configuration);
 * nothing else turns it into text.
 */
import { keyToBase64 } from '../conf/keys.js';
import type { Key } from '../conf/model.js';
import { formatPrefix, type Prefix } from './addresses.js';

export interface ServerPeer {
  name: string;
  publicKey: Key;
  presharedKey?: Key;
  allowedIps: readonly Prefix[];
}

/** The server's [Peer] block, as lines; `# friendly_name=NAME` exactly as the exporter reads it. */
export function serverPeerBlock(p: ServerPeer): string[] {
  const lines = ['[Peer]', `# friendly_name=${p.name}`, `PublicKey = ${keyToBase64(p.publicKey)}`];
  if (p.presharedKey) lines.push(`PresharedKey = ${keyToBase64(p.presharedKey)}`);
  lines.push(`AllowedIPs = ${p.allowedIps.map(formatPrefix).join(', ')}`);
  return lines;
}

export interface ClientConfig {
  privateKey: Key;
  addresses: readonly Prefix[];
  dns: readonly string[];
  serverPublicKey: Key;
  presharedKey?: Key;
  /** HOST:PORT as the user gave it (a name stays a name: the client resolves it). */
  endpoint: string;
  allowedIps: readonly string[];
  keepalive?: number;
}

/** The client's configuration file, for `wgts quick up`, wg-quick or a WireGuard app. */
export function clientConfigText(c: ClientConfig): string {
  const lines = ['[Interface]', `PrivateKey = ${keyToBase64(c.privateKey)}`, `Address = ${c.addresses.map(formatPrefix).join(', ')}`];
  if (c.dns.length > 0) lines.push(`DNS = ${c.dns.join(', ')}`);
  lines.push('', '[Peer]', `PublicKey = ${keyToBase64(c.serverPublicKey)}`);
  if (c.presharedKey) lines.push(`PresharedKey = ${keyToBase64(c.presharedKey)}`);
  lines.push(`Endpoint = ${c.endpoint}`, `AllowedIPs = ${c.allowedIps.join(', ')}`);
  if (c.keepalive) lines.push(`PersistentKeepalive = ${c.keepalive}`);
  return lines.join('\n') + '\n';
}
