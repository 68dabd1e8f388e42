/**
 * docs/nat.md's relay configs, as printed there, brought up with `wgts quick` in namespaces: the
 * relay at the documented 203.0.113.1, two clients that can reach only the relay, and a ping
 * between the clients through it. Only the placeholders (keys) are filled in, and Bob's address
 * as the text says.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, implsUnderTest, labAvailable, waitFor, type Impl } from './lab.js';

/** The ```ini blocks of the section that starts with `heading`. */
function iniBlocks(markdown: string, heading: string): string[] {
  const section = markdown.slice(markdown.indexOf(heading)).split(/\n## /)[0]!;
  return [...section.matchAll(/```ini\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

for (const impl of implsUnderTest()) {
  describe.skipIf(!labAvailable(impl))(`docs/nat.md relay configs under wgts quick (${impl})`, () => {
    const lab = new Lab();
    const ifs = { relay: lab.ifname('r'), alice: lab.ifname('a'), bob: lab.ifname('b') };
    const pub: Record<string, string> = {};

    beforeAll(async () => {
      const [relayConf, clientConf] = iniBlocks(readFileSync(resolve('docs/nat.md'), 'utf8'), '## The relay');
      expect(relayConf).toBeDefined();
      expect(clientConf).toBeDefined();
      await lab.addNamespaces('relay', 'alice', 'bob');
      await lab.veth('relay', 'ra', 'alice', 'eth0', '172.16.1.1/24', '172.16.1.2/24');
      await lab.veth('relay', 'rb', 'bob', 'eth0', '172.16.2.1/24', '172.16.2.2/24');
      // The documented public address is the relay's; each client has a route to it and nowhere else.
      await lab.ip('relay', ['addr add 203.0.113.1/32 dev lo']);
      await lab.ip('alice', ['route add 203.0.113.1/32 via 172.16.1.1']);
      await lab.ip('bob', ['route add 203.0.113.1/32 via 172.16.2.1']);
      const keys: Record<string, string> = {};
      for (const who of ['relay', 'alice', 'bob'] as const) {
        const k = await lab.keypair(who);
        keys[who] = k.privateFile;
        pub[who] = k.publicKey;
      }
      const priv = (who: string) => readFileSync(keys[who]!, 'utf8').trim();
      const fill = (text: string, who: 'relay' | 'alice' | 'bob') =>
        text
          .replaceAll('VPS_PUB', pub.relay!)
          .replaceAll('ALICE_PUB', pub.alice!)
          .replaceAll('BOB_PUB', pub.bob!)
          .replace(/(VPS|ALICE)_PRIV/, priv(who));
      const confs = {
        relay: fill(relayConf!, 'relay'),
        alice: fill(clientConf!, 'alice'),
        bob: fill(clientConf!, 'bob').replace('Address = 10.0.0.1/24', 'Address = 10.0.0.2/24'),
      };
      for (const who of ['relay', 'alice', 'bob'] as const) {
        const file = join(lab.dir, `${ifs[who]}.conf`);
        writeFileSync(file, confs[who], { mode: 0o600 });
        await lab.exec(who, [...lab.wgts(), 'quick', 'up', file], undefined, lab.quickEnv(impl as Impl));
      }
    });
    afterAll(() => lab.close());

    it('the clients ping each other through the relay, and only through it', async () => {
      await waitFor('Alice to reach Bob through the relay', 15_000, () => lab.ping('alice', '10.0.0.2'));
      const before = await lab.peers('relay', ifs.relay);
      expect(await lab.ping('bob', '10.0.0.1', 20, 1000)).toBe(true);
      const after = await lab.peers('relay', ifs.relay);
      for (const key of [pub.alice!, pub.bob!]) {
        const b = before.find((p) => p.publicKey === key)!;
        const a = after.find((p) => p.publicKey === key)!;
        expect(a.rx - b.rx).toBeGreaterThan(20_000);
        expect(a.tx - b.tx).toBeGreaterThan(20_000);
      }
      expect(await lab.ping('alice', '172.16.2.2')).toBe(false);
      // The relay's PostUp turned forwarding on in its namespace; without it the path is gone.
      await lab.sysctl('relay', 'net.ipv4.ip_forward', '0');
      expect(await lab.ping('alice', '10.0.0.2')).toBe(false);
    });
  });
}
