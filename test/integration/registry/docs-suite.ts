/**
 * docs/nat.md, as printed, in namespaces: the configs of both topologies brought up with
 * `wgts quick`, and the walkthrough's registry commands run as written. Only the placeholders are
 * filled in (keys, and the interface name for `wg0`), plus Bob's side, which the text describes as
 * Alice's mirror image.
 *
 * One implementation per call: docs.test.ts runs it on a userspace implementation (host, CI),
 * test/kernel/registry-docs.test.ts on the kernel module (the VM suite), where `wgts quick` creates
 * kernel `wireguard` links and every wgts command reaches them over generic netlink.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, SUITE_TIMEOUT, buildNatNetwork, counterGrowth, labAvailable, waitFor, type Impl } from './lab.js';

const DOC = readFileSync(resolve('docs/nat.md'), 'utf8');

/** The section of docs/nat.md under `heading`, up to the next `## ` heading. */
function section(heading: string): string {
  return DOC.slice(DOC.indexOf(heading)).split(/\n## /)[0]!;
}

/** The ```ini blocks of a section. */
function iniBlocks(text: string): string[] {
  return [...text.matchAll(/```ini\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

type Who = 'vps' | 'alice' | 'bob';

/** Keys for the three machines and a filler for the doc's placeholders. */
async function keysFor(lab: Lab) {
  const priv: Record<string, string> = {};
  const pub: Record<string, string> = {};
  for (const who of ['vps', 'alice', 'bob'] as const) {
    const k = await lab.keypair(who);
    priv[who] = readFileSync(k.privateFile, 'utf8').trim();
    pub[who] = k.publicKey;
  }
  /** Fills in a config the doc wrote for the VPS or for Alice, for `who`; Bob mirrors Alice. */
  const fill = (text: string, who: Who) => {
    let t = text.replace(/(VPS|ALICE)_PRIV/, priv[who]!);
    if (who === 'bob') {
      t = t.replace('Address = 10.0.0.1/24', 'Address = 10.0.0.2/24').replace('BOB_PUB', 'ALICE_PUB').replace('AllowedIPs = 10.0.0.2/32', 'AllowedIPs = 10.0.0.1/32');
    }
    return t.replaceAll('VPS_PUB', pub.vps!).replaceAll('ALICE_PUB', pub.alice!).replaceAll('BOB_PUB', pub.bob!);
  };
  return { pub, fill };
}

/**
 * Brings up the two configs of a doc section under `wgts quick`: the first for the VPS (in
 * `vpsRole`'s namespace), the second for Alice and, mirrored, for Bob. Returns the public keys.
 */
async function upDocConfigs(lab: Lab, impl: Impl, heading: string, vpsRole: string, ifs: Record<Who, string>) {
  const [vpsConf, laptopConf] = iniBlocks(section(heading));
  const { pub, fill } = await keysFor(lab);
  for (const [who, role, conf] of [['vps', vpsRole, vpsConf], ['alice', 'alice', laptopConf], ['bob', 'bob', laptopConf]] as const) {
    const file = join(lab.dir, `${ifs[who]}.conf`);
    writeFileSync(file, fill(conf!, who), { mode: 0o600 });
    await lab.exec(role, [...lab.wgts(), 'quick', 'up', file], undefined, lab.quickEnv(impl));
    // `wgts quick` chose the backend itself: make sure it is the one this run is named for.
    await lab.expectDriver(role, ifs[who], impl);
  }
  return pub;
}

export function defineDocsSuite(impl: Impl): void {
  describe.skipIf(!labAvailable(impl))(`docs/nat.md under wgts quick (${impl})`, () => {
    describe('two laptops behind NAT, one small VPS', () => {
      const lab = new Lab();
      const ifs = { vps: lab.ifname('v'), alice: lab.ifname('a'), bob: lab.ifname('b') };
      let pub: Record<string, string>;

      beforeAll(async () => {
        await buildNatNetwork(lab, ['alice', 'bob']);
        pub = await upDocConfigs(lab, impl, '## Two laptops behind NAT', 'reg', ifs);
      }, SUITE_TIMEOUT);
      afterAll(() => lab.close(), SUITE_TIMEOUT);

      it('the documented commands give Alice and Bob a direct tunnel', async () => {
        const serveLine = 'wgts registry serve wg0 --zone example.internal';
        const discoverLine = 'wgts registry discover wg0 --registry 10.0.0.254 --zone example.internal --interval 10';
        expect(DOC).toContain(serveLine);
        expect(DOC).toContain(discoverLine);
        const argv = (line: string, ifname: string) => [...lab.wgts(), ...line.replace('wg0', ifname).split(' ').slice(1)];
        const serve = lab.spawn('reg', argv(serveLine, ifs.vps));
        await waitFor('the registry to serve', 10_000, async () => {
          if (serve.exitCode !== null) throw new Error(lab.output(serve));
          return /serving/.test(lab.output(serve));
        });
        lab.spawn('alice', argv(discoverLine, ifs.alice));
        lab.spawn('bob', argv(discoverLine, ifs.bob));
        await waitFor('a direct handshake', 30_000, async () => (await lab.peer('alice', ifs.alice, pub.bob!)).latestHandshake > 0);
        expect((await lab.peer('alice', ifs.alice, pub.bob!)).endpoint).toBe('203.0.113.3:51820');
        const before = await lab.peers('reg', ifs.vps);
        expect(await lab.ping('alice', '10.0.0.2', 20, 1000)).toBe(true);
        const after = await lab.peers('reg', ifs.vps);
        const g = counterGrowth(before, after, pub.alice!);
        expect(g.rx + g.tx).toBeLessThan(10_000);
      }, SUITE_TIMEOUT);
    });

    describe('the relay', () => {
      const lab = new Lab();
      const ifs = { vps: lab.ifname('r'), alice: lab.ifname('a'), bob: lab.ifname('b') };
      let pub: Record<string, string>;

      beforeAll(async () => {
        await lab.addNamespaces('relay', 'alice', 'bob');
        await lab.veth('relay', 'ra', 'alice', 'eth0', '172.16.1.1/24', '172.16.1.2/24');
        await lab.veth('relay', 'rb', 'bob', 'eth0', '172.16.2.1/24', '172.16.2.2/24');
        // The documented public address is the relay's; each client has a route to it and nowhere else.
        await lab.ip('relay', ['addr add 203.0.113.1/32 dev lo']);
        await lab.ip('alice', ['route add 203.0.113.1/32 via 172.16.1.1']);
        await lab.ip('bob', ['route add 203.0.113.1/32 via 172.16.2.1']);
        pub = await upDocConfigs(lab, impl, '## The relay', 'relay', ifs);
      }, SUITE_TIMEOUT);
      afterAll(() => lab.close(), SUITE_TIMEOUT);

      it('the clients ping each other through the relay, and only through it', async () => {
        await waitFor('Alice to reach Bob through the relay', 15_000, () => lab.ping('alice', '10.0.0.2'));
        const before = await lab.peers('relay', ifs.vps);
        expect(await lab.ping('bob', '10.0.0.1', 20, 1000)).toBe(true);
        const after = await lab.peers('relay', ifs.vps);
        for (const key of [pub.alice!, pub.bob!]) {
          const g = counterGrowth(before, after, key);
          expect(g.rx).toBeGreaterThan(20_000);
          expect(g.tx).toBeGreaterThan(20_000);
        }
        expect(await lab.ping('alice', '172.16.2.2')).toBe(false);
        // The relay's PostUp turned forwarding on in its namespace; without it the path is gone.
        await lab.sysctl('relay', 'net.ipv4.ip_forward', '0');
        expect(await lab.ping('alice', '10.0.0.2')).toBe(false);
      }, SUITE_TIMEOUT);
    });
  });
}
