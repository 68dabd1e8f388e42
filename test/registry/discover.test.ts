import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistryServer, type RegistryServer } from '../../src/registry/server.js';
import { resolverFor, type Resolver } from '../../src/registry/client.js';
import { discoverOnce, prefixesOverlap } from '../../src/registry/discover.js';
import { keyFromBase64 } from '../../src/conf/keys.js';
import type { WgDevice, WgPeer } from '../../src/conf/model.js';
import { parsePrefix } from '../../src/registry/ip.js';
import { instanceName } from '../../src/registry/zone.js';
import { MemoryBackend } from './memory-backend.js';

const ZONE = 'nat.test';
const k = (b64: string) => keyFromBase64(b64)!;
const ALICE = k('xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=');
const BOB = k('syKB97XhGnvC+kynh2KqQJPXoOoOpx/HmpMRTc+r4js=');
const CAROL = k('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=');
const REGISTRY = k('HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=');
const pfx = (...t: string[]) => t.map((x) => parsePrefix(x)!);

// The registry's view: every node's NAT-mapped endpoint, learnt from its keepalives.
let registryPeers: WgPeer[] = [];
let server: RegistryServer;
let resolve: Resolver;

beforeAll(async () => {
  server = await startRegistryServer({ listen: [{ host: '127.0.0.1', port: 0 }], zone: ZONE, getPeers: async () => registryPeers, cacheMs: 0 });
  resolve = resolverFor(server.addresses[0]!, { timeoutMs: 1000 });
});
afterAll(() => server.close());

function aliceDevice(extra: Partial<WgPeer> = {}): WgDevice {
  return {
    name: 'wgr0',
    publicKey: ALICE,
    peers: [
      { publicKey: REGISTRY, endpoint: { family: 4, host: '203.0.113.1', port: 51820 }, persistentKeepalive: 25, allowedIps: pfx('10.0.0.254/32') },
      { publicKey: BOB, persistentKeepalive: 25, allowedIps: pfx('10.0.0.2/32'), ...extra },
    ],
  };
}

describe('discoverOnce against a registry on loopback', () => {
  registryPeers = [
    { publicKey: ALICE, endpoint: { family: 4, host: '198.51.100.10', port: 51820 }, allowedIps: pfx('10.0.0.1/32') },
    { publicKey: BOB, endpoint: { family: 4, host: '198.51.100.20', port: 40000 }, allowedIps: pfx('10.0.0.2/32') },
    { publicKey: CAROL, endpoint: { family: 6, host: '2001:db8::3', port: 51820 }, allowedIps: pfx('10.0.0.3/32', '10.0.0.2/32', 'fd00::3/128') },
  ];

  it("sets a peer's endpoint from SRV + A, re-arming its keepalive in the same request", async () => {
    const be = new MemoryBackend(aliceDevice());
    const r = await discoverOnce({ backend: be, ifname: 'wgr0', zone: ZONE, resolve });
    expect(r.errors).toEqual([]);
    expect(r.updated).toEqual([{ publicKey: BOB, endpoint: { family: 4, host: '198.51.100.20', port: 40000 } }]);
    expect(be.sets).toEqual([
      {
        name: 'wgr0',
        peers: [
          { publicKey: BOB, updateOnly: true, persistentKeepalive: 0, allowedIps: [] },
          { publicKey: BOB, updateOnly: true, endpoint: { family: 4, host: '198.51.100.20', port: 40000 }, persistentKeepalive: 25, allowedIps: [] },
        ],
      },
    ]);
    // A second pass finds nothing to change and sends nothing.
    const again = await discoverOnce({ backend: be, ifname: 'wgr0', zone: ZONE, resolve });
    expect(again.updated).toEqual([]);
    expect(be.sets).toHaveLength(1);
  });

  it('sends a single block when the peer has no keepalive, and leaves peers with a fresh handshake alone', async () => {
    const be = new MemoryBackend(aliceDevice({ persistentKeepalive: 0 }));
    await discoverOnce({ backend: be, ifname: 'wgr0', zone: ZONE, resolve });
    expect(be.sets[0]!.peers).toEqual([
      { publicKey: BOB, updateOnly: true, endpoint: { family: 4, host: '198.51.100.20', port: 40000 }, allowedIps: [] },
    ]);

    const now = 1_700_000_000_000;
    const fresh = new MemoryBackend(aliceDevice({ lastHandshake: { sec: BigInt(now / 1000 - 100), nsec: 0 } }));
    expect((await discoverOnce({ backend: fresh, ifname: 'wgr0', zone: ZONE, resolve, now: () => now })).updated).toEqual([]);
    const stale = new MemoryBackend(aliceDevice({ lastHandshake: { sec: BigInt(now / 1000 - 136), nsec: 0 } }));
    expect((await discoverOnce({ backend: stale, ifname: 'wgr0', zone: ZONE, resolve, now: () => now })).updated).toHaveLength(1);
  });

  it('with addNew, adds PTR-listed peers it lacks (not itself), without prefixes routed elsewhere', async () => {
    const be = new MemoryBackend(aliceDevice());
    const r = await discoverOnce({ backend: be, ifname: 'wgr0', zone: ZONE, resolve, addNew: true, keepalive: 25 });
    expect(r.added.map((a) => a.publicKey)).toEqual([CAROL]);
    const carol = be.device.peers.find((p) => p.publicKey[0] === CAROL[0])!;
    expect(carol).toEqual({
      publicKey: CAROL,
      endpoint: { family: 6, host: '2001:db8::3', port: 51820 },
      persistentKeepalive: 25,
      allowedIps: pfx('10.0.0.3/32', 'fd00::3/128'), // 10.0.0.2/32 stays with Bob
    });
  });

  it('reports an unreachable registry as errors and changes nothing', async () => {
    const dead = resolverFor({ host: '127.0.0.1', port: 9 }, { timeoutMs: 200, attempts: 1 });
    const be = new MemoryBackend(aliceDevice());
    const r = await discoverOnce({ backend: be, ifname: 'wgr0', zone: ZONE, resolve: dead, addNew: true });
    expect(r.errors.length).toBeGreaterThanOrEqual(2);
    expect(be.sets).toEqual([]);
  });

  it('wipes the private and preshared keys of the device it read, and still updates', async () => {
    const be = new MemoryBackend(aliceDevice({ presharedKey: new Uint8Array(32).fill(7) }));
    be.device.privateKey = new Uint8Array(32).fill(9);
    const read: WgDevice[] = [];
    const spy = { ...be, list: () => be.list(), set: (d: WgDevice) => be.set(d), get: async (n: string) => (read.push(await be.get(n)), read.at(-1)!) };
    const r = await discoverOnce({ backend: spy, ifname: 'wgr0', zone: ZONE, resolve });
    expect(r.updated).toHaveLength(1);
    expect(read).toHaveLength(1);
    expect(read[0]!.privateKey).toEqual(new Uint8Array(32));
    expect(read[0]!.peers.map((p) => p.presharedKey)).toEqual([undefined, new Uint8Array(32)]);
    expect(read[0]!.publicKey).toEqual(ALICE); // public keys are left alone
  });

  it('adds a peer whose 40 allowed IPs span several TXT strings, with every prefix (the answer comes over TCP)', async () => {
    const many = [...Array.from({ length: 20 }, (_, i) => `10.40.${i}.0/24`), ...Array.from({ length: 20 }, (_, i) => `fd40:${i}::/64`)];
    const saved = registryPeers;
    registryPeers = [...saved, { publicKey: REGISTRY.map((b) => b ^ 0xff), endpoint: { family: 4, host: '198.51.100.40', port: 40040 }, allowedIps: pfx(...many) }];
    try {
      const be = new MemoryBackend(aliceDevice());
      const r = await discoverOnce({ backend: be, ifname: 'wgr0', zone: ZONE, resolve, addNew: true });
      expect(r.errors).toEqual([]);
      const added = be.device.peers.find((p) => p.endpoint?.port === 40040)!;
      expect(added.allowedIps).toEqual(pfx(...many));
    } finally {
      registryPeers = saved;
    }
  });

  it("rejects a TXT record whose pub= is not the name's key", async () => {
    const forged: Resolver = async (name, type) => {
      const real = await resolve(instanceName(CAROL, ZONE), type);
      return { ...real, questions: [{ name, type }], answers: real.answers!.map((a) => ({ ...a, name })), additionals: real.additionals!.map((a) => ({ ...a, name })) };
    };
    const be = new MemoryBackend(aliceDevice());
    const r = await discoverOnce({ backend: be, ifname: 'wgr0', zone: ZONE, resolve: forged });
    expect(r.errors.join('\n')).toMatch(/pub= does not match/);
    expect(be.sets).toEqual([]);
  });
});

describe('prefixesOverlap', () => {
  it.each([
    ['10.0.0.0/8', '10.1.2.3/32', true],
    ['10.0.0.1/32', '10.0.0.2/32', false],
    ['0.0.0.0/0', '192.0.2.1/32', true],
    ['fd00::/8', 'fd12::1/128', true],
    ['fd00::/16', 'fd01::/16', false],
    ['10.0.0.0/8', 'fd00::/8', false],
  ])('%s vs %s -> %s', (a, b, expected) => {
    expect(prefixesOverlap(parsePrefix(a)!, parsePrefix(b)!)).toBe(expected);
    expect(prefixesOverlap(parsePrefix(b)!, parsePrefix(a)!)).toBe(expected);
  });
});
