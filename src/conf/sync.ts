/**
 * The syncconf diff (sync_conf in wg's setconf.c, upstream 1.0.20260223): turns a setconf-style
 * model of a file into an update that leaves the device equal to the file without replacing
 * peers, so sessions of peers that stay are kept. Imports only conf modules.
 */
import { keyIsZero } from './keys.js';
import type { Key, WgDevice, WgPeer } from './model.js';
import { KEY_LEN } from './model.js';

function compareKeys(a: Key, b: Key): number {
  for (let i = 0; i < KEY_LEN; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * Given the file's model (replacePeers set, as setconf makes it) and the device's current state,
 * returns the model to send. As wg:
 * - a file without peers, or a device without peers, is sent unchanged (replace all peers);
 * - otherwise replacePeers is dropped, every device peer absent from the file gets an explicit
 *   remove (placed before the file's peers), and for a peer in both, a preshared key or keepalive
 *   the device has but the file does not mention is cleared (zero key, 0).
 * Endpoints are never cleared. The file model is modified and returned.
 */
export function syncDiff(file: WgDevice, runtime: WgDevice): WgDevice {
  if (file.peers.length === 0 || runtime.peers.length === 0) return file;
  file.replacePeers = false;
  type Origin = { peer: WgPeer; fromFile: boolean };
  const all: Origin[] = [
    ...file.peers.map((peer) => ({ peer, fromFile: true })),
    ...runtime.peers.map((peer) => ({ peer, fromFile: false })),
  ];
  all.sort((a, b) => compareKeys(a.peer.publicKey, b.peer.publicKey) || Number(a.fromFile) - Number(b.fromFile));
  const removals: WgPeer[] = [];
  for (let i = 0; i < all.length; i++) {
    const { peer, fromFile } = all[i]!;
    if (fromFile) continue;
    const next = all[i + 1];
    const match = next && next.fromFile && compareKeys(peer.publicKey, next.peer.publicKey) === 0 ? next.peer : undefined;
    if (!match) {
      removals.unshift({ publicKey: Uint8Array.from(peer.publicKey), remove: true, allowedIps: [] });
      continue;
    }
    if (peer.presharedKey && !keyIsZero(peer.presharedKey) && match.presharedKey === undefined)
      match.presharedKey = new Uint8Array(KEY_LEN);
    if (peer.persistentKeepalive && match.persistentKeepalive === undefined) match.persistentKeepalive = 0;
  }
  file.peers = [...removals, ...file.peers];
  return file;
}
