/**
 * `peer list`: the peers of the file (with their names) joined by public key with the running
 * device's view (endpoint, latest handshake, transfer). Peers only on the device come last, without
 * a name; with the interface down, only the file's peers, without run-time data.
 */
import { keyFromBase64, keyToBase64 } from '../conf/keys.js';
import { wipeDevice, type WgPeer } from '../conf/model.js';
import { formatAllowedIp, formatEndpoint } from '../conf/write.js';
import { runningDevice } from './apply.js';
import { layout } from './config-file.js';
import { configTarget, readConfigText } from './files.js';

export interface PeerRow {
  name: string | null;
  publicKey: string;
  /** Allowed IPs: the device's when it has the peer, else the file's. */
  allowedIps: string[];
  endpoint: string | null;
  /** Seconds since the epoch; 0n = never; undefined when the device does not have the peer. */
  latestHandshake?: bigint;
  rxBytes?: bigint;
  txBytes?: bigint;
  inFile: boolean;
  onDevice: boolean;
}

export interface PeerListing {
  ifname: string;
  configFile: string;
  running: boolean;
  peers: PeerRow[];
}

function runtime(p: WgPeer): Pick<PeerRow, 'allowedIps' | 'endpoint' | 'latestHandshake' | 'rxBytes' | 'txBytes'> {
  return {
    allowedIps: p.allowedIps.map(formatAllowedIp),
    endpoint: p.endpoint ? formatEndpoint(p.endpoint) : null,
    latestHandshake: p.lastHandshake?.sec ?? 0n,
    rxBytes: p.rxBytes ?? 0n,
    txBytes: p.txBytes ?? 0n,
  };
}

export async function listPeers(iface: string): Promise<PeerListing> {
  const { ifname, configFile } = await configTarget(iface);
  const l = layout(await readConfigText(configFile));
  const running = await runningDevice(ifname);
  const device = new Map<string, WgPeer>();
  for (const p of running?.device.peers ?? []) device.set(keyToBase64(p.publicKey), p);
  try {
    const rows: PeerRow[] = [];
    for (const s of l.peers) {
      // The file's spelling of a key may differ from the canonical one only in ways wg rejects; normalise anyway.
      const key = s.publicKey ? keyFromBase64(s.publicKey) : null;
      const canonical = key ? keyToBase64(key) : (s.publicKey ?? '');
      const live = device.get(canonical);
      device.delete(canonical);
      rows.push({
        name: s.name !== undefined ? Buffer.from(s.name, 'latin1').toString('utf8') : null,
        publicKey: canonical,
        ...(live ? runtime(live) : { allowedIps: s.allowedIps, endpoint: null }),
        inFile: true,
        onDevice: live !== undefined,
      });
    }
    for (const [key, p] of device) rows.push({ name: null, publicKey: key, ...runtime(p), inFile: false, onDevice: true });
    return { ifname, configFile, running: running !== undefined, peers: rows };
  } finally {
    if (running) wipeDevice(running.device);
  }
}
