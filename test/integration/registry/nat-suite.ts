/**
 * Acceptance: NAT-to-NAT through a registry peer (the wgsd design: peers learn each other's endpoints from the registry's DNS records).
 *
 *   alice 192.168.1.2 ── r0 (NAT) 203.0.113.2 ─┐
 *   bob   192.168.2.2 ── r1 (NAT) 203.0.113.3 ─┼─ inet (bridge) ── reg 203.0.113.1, wg 10.0.0.254
 *   carol 192.168.3.2 ── r2 (NAT) 203.0.113.4 ─┘
 *
 * The routers are home routers (lab.ts buildNatNetwork: nft masquerade, unsolicited inbound dropped).
 * Alice and Bob each know only the registry's endpoint and each other's public key. After
 * `wgts registry discover` on both, they must reach each other directly within 30 s, with the
 * traffic not crossing the registry (its WireGuard counters stay flat). Then Carol, behind a third
 * NAT and configured with nothing but the registry, joins the mesh through `--add-new`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, SLOWDOWN, SUITE_TIMEOUT, buildNatNetwork, counterGrowth, labAvailable, waitFor, type Impl } from './lab.js';

const ZONE = 'nat.test';

export function defineNatSuite(impl: Impl): void {
  describe.skipIf(!labAvailable(impl))(`NAT-to-NAT through a registry (${impl})`, () => {
    const lab = new Lab();
    const R = lab.ifname('r');
    const A = lab.ifname('a');
    const B = lab.ifname('b');
    const C = lab.ifname('c');
    let keys: Record<'reg' | 'alice' | 'bob' | 'carol', { privateFile: string; publicKey: string }>;

    beforeAll(async () => {
      await buildNatNetwork(lab, ['alice', 'bob', 'carol']);
      keys = { reg: await lab.keypair('reg'), alice: await lab.keypair('alice'), bob: await lab.keypair('bob'), carol: await lab.keypair('carol') };
      await lab.wgDevice('reg', R, impl, '10.0.0.254/24');
      await lab.wgDevice('alice', A, impl, '10.0.0.1/24');
      await lab.wgDevice('bob', B, impl, '10.0.0.2/24');
      // The registry knows every node; it routes nothing between them (AllowedIPs /32 each, no forwarding).
      await lab.wg('reg', ['set', R, 'private-key', keys.reg.privateFile, 'listen-port', '51820',
        'peer', keys.alice.publicKey, 'allowed-ips', '10.0.0.1/32',
        'peer', keys.bob.publicKey, 'allowed-ips', '10.0.0.2/32']);
      // Each node: the registry with its endpoint and a keepalive (keeps the NAT mapping open and the
      // registry's view current); the other node by public key only.
      for (const [role, ifname, port, self, other, otherIp] of [
        ['alice', A, '51821', keys.alice, keys.bob, '10.0.0.2/32'],
        ['bob', B, '51822', keys.bob, keys.alice, '10.0.0.1/32'],
      ] as const) {
        await lab.wg(role, ['set', ifname, 'private-key', self.privateFile, 'listen-port', port,
          'peer', keys.reg.publicKey, 'endpoint', '203.0.113.1:51820', 'allowed-ips', '10.0.0.254/32', 'persistent-keepalive', '25',
          'peer', other.publicKey, 'allowed-ips', otherIp, 'persistent-keepalive', '25']);
      }
    }, SUITE_TIMEOUT);
    afterAll(() => lab.close(), SUITE_TIMEOUT);

    it('the registry sees both nodes at their NAT-mapped endpoints, source ports kept', async () => {
      await waitFor('both nodes to reach the registry', 10_000, async () => {
        const peers = await lab.peers('reg', R);
        return peers.every((p) => p.latestHandshake > 0) && peers;
      });
      expect((await lab.peer('reg', R, keys.alice.publicKey)).endpoint).toBe('203.0.113.2:51821');
      expect((await lab.peer('reg', R, keys.bob.publicKey)).endpoint).toBe('203.0.113.3:51822');
      // Without discovery there is no way from Alice to Bob.
      expect((await lab.peer('alice', A, keys.bob.publicKey)).endpoint).toBe('(none)');
      expect(await lab.ping('alice', '10.0.0.2')).toBe(false);
    });

    it('after discovery Alice and Bob talk directly within 30 s, not through the registry', async () => {
      const serve = lab.spawn('reg', [...lab.wgts(), 'registry', 'serve', R, '--zone', ZONE]);
      await waitFor('the registry to serve', 10_000, async () => {
        if (serve.exitCode !== null) throw new Error(lab.output(serve));
        return /serving/.test(lab.output(serve));
      });
      const started = Date.now();
      for (const [role, ifname] of [['alice', A], ['bob', B]] as const) {
        lab.spawn(role, [...lab.wgts(), 'registry', 'discover', ifname, '--registry', '10.0.0.254', '--zone', ZONE, '--interval', '2', '--add-new']);
      }
      await waitFor('a direct handshake between Alice and Bob', 30_000, async () => {
        const a = await lab.peer('alice', A, keys.bob.publicKey);
        const b = await lab.peer('bob', B, keys.alice.publicKey);
        return a.latestHandshake > 0 && b.latestHandshake > 0;
      });
      expect(Date.now() - started).toBeLessThan(30_000 * SLOWDOWN);
      // Each side's endpoint for the other is the other's NAT, never the registry.
      expect((await lab.peer('alice', A, keys.bob.publicKey)).endpoint).toBe('203.0.113.3:51822');
      expect((await lab.peer('bob', B, keys.alice.publicKey)).endpoint).toBe('203.0.113.2:51821');

      const before = await lab.peers('reg', R);
      expect(await lab.ping('alice', '10.0.0.2', 50, 1000)).toBe(true);
      expect(await lab.ping('bob', '10.0.0.1', 50, 1000)).toBe(true);
      const after = await lab.peers('reg', R);
      // 200 pings of ~1 KB went between Alice and Bob; the registry saw at most a few keepalives and DNS queries.
      for (const key of [keys.alice.publicKey, keys.bob.publicKey]) {
        const g = counterGrowth(before, after, key);
        expect(g.rx + g.tx).toBeLessThan(10_000);
      }
    });

    it('a newcomer with only the registry configured joins through --add-new; the others add it too', async () => {
      await lab.wgDevice('carol', C, impl, '10.0.0.3/24');
      await lab.wg('reg', ['set', R, 'peer', keys.carol.publicKey, 'allowed-ips', '10.0.0.3/32']);
      await lab.wg('carol', ['set', C, 'private-key', keys.carol.privateFile, 'listen-port', '51823',
        'peer', keys.reg.publicKey, 'endpoint', '203.0.113.1:51820', 'allowed-ips', '10.0.0.254/32', 'persistent-keepalive', '25']);
      await waitFor('Carol to reach the registry', 10_000, async () => (await lab.peer('reg', R, keys.carol.publicKey)).latestHandshake > 0);
      lab.spawn('carol', [...lab.wgts(), 'registry', 'discover', C, '--registry', '10.0.0.254', '--zone', ZONE, '--interval', '2', '--add-new']);
      await waitFor('a direct handshake between Carol and Alice', 30_000, async () =>
        (await lab.peers('carol', C)).some((p) => p.publicKey === keys.alice.publicKey && p.latestHandshake > 0));
      const carolPeers = await lab.peers('carol', C);
      expect(carolPeers.map((p) => p.publicKey).sort()).toEqual([keys.reg.publicKey, keys.alice.publicKey, keys.bob.publicKey].sort());
      expect(carolPeers.find((p) => p.publicKey === keys.alice.publicKey)!.endpoint).toBe('203.0.113.2:51821');
      const dump = await lab.wg('alice', ['show', A, 'allowed-ips']);
      expect(dump).toContain(`${keys.carol.publicKey}\t10.0.0.3/32`);
      expect(await lab.ping('carol', '10.0.0.1', 5)).toBe(true);
    });
  });
}
