/**
 * A fake WireGuard backend (the Backend of src/conf/backend.ts) for quick's unit tests: device
 * state in memory, `set` applied with the kernel's semantics (fields only when given, peers upserted
 * by public key, replace-peers / replace-allowed-ips / remove), a device existing while `exists`
 * says its link does. `get` hands out copies (callers wipe them). `failNextSet(errno)` makes the
 * next set fail.
 */
import { type Backend, WgError } from '../../src/conf/backend.js';
import { ENODEV } from '../../src/conf/errno.js';
import type { WgAllowedIp, WgDevice } from '../../src/conf/model.js';

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameAllowedIp(a: WgAllowedIp, b: WgAllowedIp): boolean {
  return a.family === b.family && a.cidr === b.cidr && sameBytes(a.addr, b.addr);
}

export class FakeBackend implements Backend {
  private readonly devices = new Map<string, WgDevice>();
  /** Every set, copied as given. */
  readonly sets: WgDevice[] = [];
  private failure: number | undefined;
  /** Called when an injected failure is thrown. */
  onFail: () => void = () => undefined;

  constructor(private readonly exists: (name: string) => boolean) {}

  failNextSet(errno: number): void {
    this.failure = errno;
  }

  async list(): Promise<string[]> {
    return [...this.devices.keys()].filter(this.exists);
  }

  private device(name: string): WgDevice {
    if (!this.exists(name)) {
      this.devices.delete(name);
      throw new WgError(ENODEV, `no device ${name}`);
    }
    let d = this.devices.get(name);
    if (!d) this.devices.set(name, (d = { name, peers: [] }));
    return d;
  }

  async get(name: string): Promise<WgDevice> {
    return structuredClone(this.device(name));
  }

  async set(change: WgDevice): Promise<void> {
    this.sets.push(structuredClone(change));
    if (this.failure !== undefined) {
      const errno = this.failure;
      this.failure = undefined;
      this.onFail();
      throw new WgError(errno, 'fake set failure');
    }
    const d = this.device(change.name);
    if (change.privateKey !== undefined) d.privateKey = change.privateKey.slice();
    if (change.listenPort !== undefined) d.listenPort = change.listenPort;
    if (change.fwmark !== undefined) d.fwmark = change.fwmark;
    if (change.replacePeers) d.peers = [];
    for (const p of change.peers) {
      const at = d.peers.findIndex((x) => sameBytes(x.publicKey, p.publicKey));
      if (p.remove) {
        if (at >= 0) d.peers.splice(at, 1);
        continue;
      }
      if (at < 0 && p.updateOnly) continue;
      const peer = at >= 0 ? d.peers[at]! : { publicKey: p.publicKey.slice(), allowedIps: [] };
      if (at < 0) d.peers.push(peer);
      if (p.presharedKey !== undefined) peer.presharedKey = p.presharedKey.slice();
      if (p.endpoint !== undefined) peer.endpoint = structuredClone(p.endpoint);
      if (p.persistentKeepalive !== undefined) peer.persistentKeepalive = p.persistentKeepalive;
      if (p.replaceAllowedIps) peer.allowedIps = [];
      for (const ip of p.allowedIps) {
        const i = peer.allowedIps.findIndex((x) => sameAllowedIp(x, ip));
        if (ip.remove) {
          if (i >= 0) peer.allowedIps.splice(i, 1);
        } else if (i < 0) peer.allowedIps.push(structuredClone(ip));
      }
    }
  }
}
