/**
 * Peer metrics in the Prometheus text exposition format (version 0.0.4), with the names, help
 * texts, label names and label order of prometheus_wireguard_exporter (its README), so existing
 * dashboards keep working:
 *
 *     # HELP wireguard_sent_bytes_total Bytes sent to the peer
 *     # TYPE wireguard_sent_bytes_total counter
 *     wireguard_sent_bytes_total{interface="wg0",public_key="…",allowed_ips="10.0.0.2/32,10.0.0.66/32",friendly_name="Alice"} 3208804
 *
 * then wireguard_received_bytes_total (counter) and wireguard_latest_handshake_seconds (gauge, the
 * UNIX time of the last handshake, 0 for never). friendly_name is present only for peers that have
 * one (`# friendly_name=` in the tunnel's config, config-lines.ts).
 *
 * Why not prom-client, measured (docs/benchmarks.md, "Exporter"): for 10,000 peers its Registry took
 * a median 211-246 ms per scrape against 71-73 ms here, in a 1 s budget of which reading the device
 * already takes most; its values are doubles where byte counters are 64-bit; and its per-scrape
 * reset-and-refill model fits a collector that owns no state. The format needed is three families
 * of one line per peer with three escapes (the Prometheus text format 0.0.4).
 */
import { formatIP } from '../conf/ip.js';
import { keyToBase64 } from '../conf/keys.js';
import type { WgDevice } from '../conf/model.js';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One interface as the exporter sees it: its state and the friendly names by public key (base64). */
export interface DeviceMetrics {
  device: WgDevice;
  names: ReadonlyMap<string, string>;
}

/** Label value escaping of the text format: backslash, double quote and newline. */
export function escapeLabel(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

const FAMILIES = [
  { name: 'wireguard_sent_bytes_total', help: 'Bytes sent to the peer', type: 'counter' },
  { name: 'wireguard_received_bytes_total', help: 'Bytes received from the peer', type: 'counter' },
  { name: 'wireguard_latest_handshake_seconds', help: 'Seconds from the last handshake', type: 'gauge' },
] as const;

/** The whole /metrics body for the given interfaces, in their order and each one's peer order. */
export function renderMetrics(devices: readonly DeviceMetrics[]): string {
  const labels: string[] = [];
  const values: [string[], string[], string[]] = [[], [], []];
  for (const { device, names } of devices) {
    const iface = escapeLabel(device.name);
    for (const peer of device.peers) {
      const key = keyToBase64(peer.publicKey);
      const ips = peer.allowedIps.map((ip) => `${formatIP(ip.addr)}/${ip.cidr}`).join(',');
      const name = names.get(key);
      labels.push(`{interface="${iface}",public_key="${key}",allowed_ips="${ips}"${name === undefined ? '' : `,friendly_name="${escapeLabel(name)}"`}}`);
      values[0].push(String(peer.txBytes ?? 0n));
      values[1].push(String(peer.rxBytes ?? 0n));
      values[2].push(String(peer.lastHandshake?.sec ?? 0n));
    }
  }
  const parts: string[] = [];
  FAMILIES.forEach((f, i) => {
    parts.push(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`);
    const v = values[i]!;
    for (let j = 0; j < labels.length; j++) parts.push(`${f.name}${labels[j]} ${v[j]}\n`);
  });
  return parts.join('');
}
