/**
 * An in-memory Backend for the registry tests: one device whose set() applies the model's
 * semantics that discovery relies on (update_only, endpoint, keepalive, allowed IPs added, peers
 * created), and records every request so tests can assert what was sent.
 */
import type { Backend } from '../../src/conf/backend.js';
import { WgError } from '../../src/conf/backend.js';
import { ENODEV } from '../../src/conf/errno.js';
import type { WgDevice, WgPeer } from '../../src/conf/model.js';
import { keysEqual } from '../../src/conf/keys.js';

export class MemoryBackend implements Backend {
  readonly sets: WgDevice[] = [];
  constructor(public device: WgDevice) {}

  async list(): Promise<string[]> {
    return [this.device.name];
  }

  async get(name: string): Promise<WgDevice> {
    if (name !== this.device.name) throw new WgError(ENODEV, 'No such device');
    return structuredClone(this.device);
  }

  async set(change: WgDevice): Promise<void> {
    if (change.name !== this.device.name) throw new WgError(ENODEV, 'No such device');
    this.sets.push(structuredClone(change));
    for (const p of change.peers) {
      let peer = this.device.peers.find((q) => keysEqual(q.publicKey, p.publicKey));
      if (!peer) {
        if (p.updateOnly) continue;
        peer = { publicKey: p.publicKey, allowedIps: [] } satisfies WgPeer;
        this.device.peers.push(peer);
      }
      if (p.endpoint) peer.endpoint = p.endpoint;
      if (p.persistentKeepalive !== undefined) peer.persistentKeepalive = p.persistentKeepalive;
      peer.allowedIps.push(...p.allowedIps);
    }
  }
}
