/**
 * Which peers `wgts reresolve` should look up again, and which endpoints then changed — the job of
 * wireguard-tools' contrib/reresolve-dns, without I/O: the caller reads the config, the device and
 * the resolver.
 *
 * A peer is a candidate when its Endpoint in the tunnel's config is a host name (a literal address
 * cannot move) and, unless forced, its latest handshake is older than STALE_SECONDS or never
 * happened: a peer with a fresh session is reachable where it is. Imports only conf/ modules.
 */
import { readSections, valueOf } from './config-lines.js';
import { formatEndpoint, parseIPv4, parseIPv6 } from './ip.js';
import { keyFromBase64, keyToBase64 } from './keys.js';
import type { WgDevice, WgEndpoint } from './model.js';
import { deleteWgSpaces, splitEndpoint } from './parse.js';

/**
 * A session older than this cannot be alive: Rekey-After-Time (120 s) + Rekey-Timeout (5 s) +
 * Keepalive-Timeout (10 s), the timers of the WireGuard paper §6.1 — the threshold contrib's
 * reresolve-dns uses too.
 */
export const STALE_SECONDS = 135;

export interface NamedEndpoint {
  /** Base64 public key of the peer. */
  publicKey: string;
  /** The Endpoint value as written (whitespace deleted, as wg reads it). */
  endpoint: string;
  host: string;
  line: number;
}

/** Peers of a config whose Endpoint names a host (not a literal address), in file order. */
export function namedEndpoints(text: string): NamedEndpoint[] {
  const out: NamedEndpoint[] = [];
  for (const s of readSections(text)) {
    if (s.kind !== 'peer') continue;
    const ep = s.keys.filter((k) => k.key.toLowerCase() === 'endpoint').at(-1);
    const key = keyFromBase64(deleteWgSpaces(valueOf(s, 'PublicKey')?.value ?? ''));
    if (!ep || !key) continue;
    const endpoint = deleteWgSpaces(ep.value);
    let host: string;
    try {
      host = splitEndpoint(endpoint).host;
    } catch {
      continue; // a malformed Endpoint is lint's to report; `quick up` would have refused it
    }
    const bare = host.split('%')[0]!;
    if (parseIPv4(bare) || parseIPv6(bare)) continue;
    out.push({ publicKey: keyToBase64(key), endpoint, host, line: ep.line });
  }
  return out;
}

export type Skip = 'fresh' | 'not-on-device';

/** Sorts the named endpoints into those to resolve now and those skipped, with the reason. */
export function candidates(
  named: readonly NamedEndpoint[],
  device: WgDevice,
  nowSeconds: number,
  force: boolean,
): { resolve: NamedEndpoint[]; skipped: { peer: NamedEndpoint; why: Skip }[] } {
  const byKey = new Map(device.peers.map((p) => [keyToBase64(p.publicKey), p]));
  const out = { resolve: [] as NamedEndpoint[], skipped: [] as { peer: NamedEndpoint; why: Skip }[] };
  for (const n of named) {
    const peer = byKey.get(n.publicKey);
    if (!peer) {
      out.skipped.push({ peer: n, why: 'not-on-device' });
      continue;
    }
    const last = Number(peer.lastHandshake?.sec ?? 0n);
    if (!force && last !== 0 && nowSeconds - last <= STALE_SECONDS) out.skipped.push({ peer: n, why: 'fresh' });
    else out.resolve.push(n);
  }
  return out;
}

/** The device's current endpoint of a peer as wg prints it, or undefined. */
export function currentEndpoint(device: WgDevice, publicKey: string): string | undefined {
  const peer = device.peers.find((p) => keyToBase64(p.publicKey) === publicKey);
  return peer?.endpoint ? formatEndpoint(peer.endpoint) : undefined;
}

/** Whether a freshly resolved endpoint differs from what the device has now. */
export function moved(device: WgDevice, publicKey: string, resolved: WgEndpoint): boolean {
  return currentEndpoint(device, publicKey) !== formatEndpoint(resolved);
}
