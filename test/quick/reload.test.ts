/** The pure half of `wgts quick reload`: what changed between the applied record and the file. */
import { describe, expect, it } from 'vitest';
import { listDiff, restoreModel, routeKey, wantedPolicy, wantedRoutes } from '../../src/quick/reload.js';
import type { WgDevice } from '../../src/conf/model.js';

describe('reload differences', () => {
  it('lists what came and what went, in each list’s order', () => {
    expect(listDiff(['10.0.0.1/24', 'fd00::1/64'], ['10.0.0.1/24', '10.0.1.1/24'])).toEqual({ added: ['10.0.1.1/24'], removed: ['fd00::1/64'] });
    expect(listDiff(['a'], ['a'])).toEqual({ added: [], removed: [] });
  });

  it('routes as up adds them: none for Table=off, the table named, the default left to the policy', () => {
    const ips = ['10.60.0.0/24', '0.0.0.0/0', '10.0.0.0/8', '::/0'];
    expect(wantedRoutes(ips, 'off')).toEqual([]);
    expect(wantedRoutes(ips, undefined)).toEqual([{ cidr: '10.60.0.0/24' }, { cidr: '10.0.0.0/8' }]);
    expect(wantedRoutes(ips, '1234').map(routeKey)).toEqual(['1234 10.60.0.0/24', '1234 10.0.0.0/8', '1234 ::/0', '1234 0.0.0.0/0']);
    expect(wantedPolicy(ips, 'auto')).toEqual(['::/0', '0.0.0.0/0']);
    expect(wantedPolicy(ips, 'main')).toEqual([]);
  });

  it('a route kept in another table is a different route', () => {
    const { added, removed } = listDiff([{ cidr: '10.0.0.0/8' }], [{ cidr: '10.0.0.0/8', table: '1234' }], routeKey);
    expect(added).toEqual([{ cidr: '10.0.0.0/8', table: '1234' }]);
    expect(removed).toEqual([{ cidr: '10.0.0.0/8' }]);
  });

  it('restores peers with their allowed IPs replaced, and only the device fields that changed', () => {
    const key = (n: number): Uint8Array => new Uint8Array(32).fill(n);
    const before: WgDevice = {
      name: 'wg0',
      privateKey: key(1),
      listenPort: 51820,
      fwmark: 51820,
      peers: [{ publicKey: key(2), allowedIps: [{ family: 4, addr: new Uint8Array([10, 0, 0, 0]), cidr: 8 }], rxBytes: 5n }],
    } as WgDevice;
    const now: WgDevice = { name: 'wg0', privateKey: key(1), listenPort: 51821, fwmark: 51820, peers: [] };
    const m = restoreModel(before, now);
    expect(m.replacePeers).toBe(true);
    expect(m.privateKey).toBeUndefined();
    expect(m.fwmark).toBeUndefined();
    expect(m.listenPort).toBe(51820);
    expect(m.peers).toHaveLength(1);
    expect(m.peers[0]!.replaceAllowedIps).toBe(true);
    expect(m.peers[0]!.persistentKeepalive).toBe(0);
    expect(m.peers[0]!.presharedKey).toEqual(new Uint8Array(32));
    expect('rxBytes' in m.peers[0]!).toBe(false);
  });
});
