/**
 * The whole set of records the registry publishes for a device, as one list, for export into
 * another DNS server (zone file or dynamic update): per peer with an endpoint its PTR under
 * `_wireguard._udp.<zone>`, and under its instance name SRV, A or AAAA, and TXT. The records are
 * the ones `wgts registry serve` answers with (records.ts builds both), with the TTL the user
 * chose. Sorted, so the same peers give the same list whatever order the device reports them in.
 * Pure.
 */
import type { Answer } from './wire.js';
import type { WgPeer } from '../conf/model.js';
import { hostRecord, ptrRecord, srvRecord, txtRecord } from './records.js';
import { instanceName } from './zone.js';

export function publishedRecords(peers: readonly WgPeer[], zone: string, ttl: number): Answer[] {
  const withEndpoint = peers
    .filter((p) => p.endpoint)
    .map((p) => ({ peer: p, name: instanceName(p.publicKey, zone) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: Answer[] = withEndpoint.map(({ peer }) => ptrRecord(zone, peer));
  for (const { peer, name } of withEndpoint) {
    out.push(srvRecord(name, peer.endpoint!.port), hostRecord(name, peer)!, txtRecord(name, peer));
  }
  return out.map((r) => ({ ...r, ttl }));
}
