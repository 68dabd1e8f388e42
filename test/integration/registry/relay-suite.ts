/**
 * Acceptance: the bounce server (relay) topology: two peers that cannot reach each other talk through a third.
 *
 *   c1 172.16.1.2 ── relay 172.16.1.1 | 172.16.2.1 ── c2 172.16.2.2
 *   wg 10.0.0.1        wg 10.0.0.254                  wg 10.0.0.2
 *
 * The clients can reach only the relay (no route between their underlay networks). Each client has
 * one peer, the relay, with AllowedIPs = the whole VPN subnet 10.0.0.0/24; the relay has each
 * client as a peer with its /32 and IP forwarding on, so a packet from c1 to 10.0.0.2 enters the
 * relay's wg interface, is routed back out of it, and is encrypted again for c2.
 *
 * One implementation per call: relay.test.ts runs it on the userspace implementations (host, CI),
 * test/kernel/registry.test.ts on the kernel module (the VM suite, also in CI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, SUITE_TIMEOUT, counterGrowth, labAvailable, waitFor, type Impl } from './lab.js';

export function defineRelaySuite(impl: Impl): void {
  describe.skipIf(!labAvailable(impl))(`relay (bounce server) (${impl})`, () => {
    const lab = new Lab();
    const RELAY = lab.ifname('r');
    const C1 = lab.ifname('1');
    const C2 = lab.ifname('2');
    let relayKey: { privateFile: string; publicKey: string };
    let c1Key: { privateFile: string; publicKey: string };
    let c2Key: { privateFile: string; publicKey: string };

    beforeAll(async () => {
      await lab.addNamespaces('relay', 'c1', 'c2');
      await lab.veth('relay', 'r1', 'c1', 'eth0', '172.16.1.1/24', '172.16.1.2/24');
      await lab.veth('relay', 'r2', 'c2', 'eth0', '172.16.2.1/24', '172.16.2.2/24');
      relayKey = await lab.keypair('relay');
      c1Key = await lab.keypair('c1');
      c2Key = await lab.keypair('c2');
      await lab.wgDevice('relay', RELAY, impl, '10.0.0.254/24');
      await lab.wgDevice('c1', C1, impl, '10.0.0.1/24');
      await lab.wgDevice('c2', C2, impl, '10.0.0.2/24');
      await lab.wg('relay', ['set', RELAY, 'private-key', relayKey.privateFile, 'listen-port', '51820',
        'peer', c1Key.publicKey, 'allowed-ips', '10.0.0.1/32',
        'peer', c2Key.publicKey, 'allowed-ips', '10.0.0.2/32']);
      for (const [role, ifname, key, relayAddr] of [['c1', C1, c1Key, '172.16.1.1'], ['c2', C2, c2Key, '172.16.2.1']] as const) {
        await lab.wg(role, ['set', ifname, 'private-key', key.privateFile,
          'peer', relayKey.publicKey, 'endpoint', `${relayAddr}:51820`, 'allowed-ips', '10.0.0.0/24', 'persistent-keepalive', '25']);
      }
      await waitFor('both clients to shake hands with the relay', 10_000, async () =>
        (await lab.peers('relay', RELAY)).every((p) => p.latestHandshake > 0));
    }, SUITE_TIMEOUT);
    afterAll(() => lab.close(), SUITE_TIMEOUT);

    it('without forwarding on the relay, client-to-client traffic goes nowhere', async () => {
      await lab.sysctl('relay', 'net.ipv4.ip_forward', '0');
      expect(await lab.ping('c1', '10.0.0.2')).toBe(false);
    });

    it('with forwarding on, c1 and c2 ping each other through the relay', async () => {
      await lab.sysctl('relay', 'net.ipv4.ip_forward', '1');
      const before = await lab.peers('relay', RELAY);
      expect(await waitFor('c1 to reach c2 through the relay', 10_000, () => lab.ping('c1', '10.0.0.2'))).toBe(true);
      expect(await lab.ping('c1', '10.0.0.2', 50, 1000)).toBe(true);
      expect(await lab.ping('c2', '10.0.0.1', 50, 1000)).toBe(true);
      const after = await lab.peers('relay', RELAY);
      // Every echo crossed the relay twice (in from one client, out to the other): both of its peers
      // carried at least 100 x 1 KB in each direction.
      for (const key of [c1Key.publicKey, c2Key.publicKey]) {
        const g = counterGrowth(before, after, key);
        expect(g.rx).toBeGreaterThan(100_000);
        expect(g.tx).toBeGreaterThan(100_000);
      }
      // And the clients know only the relay, and cannot reach each other outside the tunnel.
      expect(await lab.ping('c1', '172.16.2.2')).toBe(false);
      expect((await lab.peers('c1', C1)).map((p) => p.publicKey)).toEqual([relayKey.publicKey]);
      expect((await lab.peers('c2', C2)).map((p) => p.publicKey)).toEqual([relayKey.publicKey]);
    });
  });
}
