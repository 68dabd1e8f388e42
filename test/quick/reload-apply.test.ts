/**
 * `wgts quick reload` on fakes (test/fakes/quick-system.ts): the difference between what `up`
 * applied and the file now is applied (peers, addresses, MTU, routes, NAT) and narrated; a failing
 * step puts the tunnel back as it was — device, link, routes and state file.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatIP } from '../../src/conf/ip.js';
import { formatAllowedIp } from '../../src/conf/write.js';
import { installFakeHost, type FakeQuickSystem } from '../fakes/quick-system.js';
import { PEER_A, PEER_B, PRIVATE_KEY, writeConfig } from '../fakes/quick-tunnel.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-quick-reload-'));
process.env.WGTS_QUICK_STATE_DIR = join(dir, 'state');
const { up } = await import('../../src/quick/up.js');
const { reload } = await import('../../src/quick/reload.js');
const { loadTarget } = await import('../../src/quick/target.js');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BEFORE = `[Interface]
PrivateKey = ${PRIVATE_KEY}
ListenPort = 51820
Address = 10.60.0.1/24, fd60::1/64

[Peer]
PublicKey = ${PEER_A}
AllowedIPs = 10.60.0.2/32, 10.70.0.0/16
Endpoint = 192.0.2.7:51820
`;

const AFTER = `[Interface]
PrivateKey = ${PRIVATE_KEY}
ListenPort = 51820
Address = 10.60.0.1/24, 10.61.0.1/24
MTU = 1280

[Peer]
PublicKey = ${PEER_A}
AllowedIPs = 10.60.0.2/32, 10.80.0.0/16
Endpoint = 192.0.2.7:51820

[Peer]
PublicKey = ${PEER_B}
AllowedIPs = 10.90.0.0/16
`;

let sys: FakeQuickSystem;
beforeEach(() => {
  sys = installFakeHost('eth0', 1500, ['nft']);
});
afterEach(() => {
  sys.restore();
  rmSync(join(dir, 'state'), { recursive: true, force: true });
});

/** The link, its addresses and routes (as sets: a put-back one comes last), and the device's peers. */
async function tunnel(): Promise<unknown> {
  const link = sys.rtnl.links.find((l) => l.name === 'wgr0')!;
  const device = await sys.backend.get('wgr0');
  return {
    mtu: link.mtu,
    addresses: (await sys.rtnl.listAddresses('wgr0')).map((a) => `${formatIP(a.addr)}/${a.len}`).sort(),
    routes: sys.rtnl.routes.filter((r) => r.oif === link.index).map((r) => `${r.table} ${formatIP(r.dst.addr)}/${r.dst.len}`).sort(),
    peers: device.peers.map((p) => `${Buffer.from(p.publicKey).toString('base64')} ${p.allowedIps.map(formatAllowedIp).join(',')}`),
    listenPort: device.listenPort,
  };
}

function state(): { applied?: { addresses: string[]; mtu: number }; reloading?: boolean } {
  const [name] = readdirSync(join(dir, 'state')).filter((n) => n.endsWith('.json'));
  return JSON.parse(readFileSync(join(dir, 'state', name!), 'utf8')) as ReturnType<typeof state>;
}

describe('quick reload on fakes', () => {
  it('applies what changed in the file, narrated as up narrates it, and records it as applied', async () => {
    const conf = writeConfig(dir, 'wgr0', BEFORE);
    await up(await loadTarget(conf, {}));
    writeConfig(dir, 'wgr0', AFTER);
    sys.narration.length = 0;
    await reload(await loadTarget(conf, { natVia: 'eth0' }));
    expect(sys.narration).toEqual([
      `[#] wgts syncconf wgr0 <(wgts quick strip ${conf})`,
      '[#] ip -4 address add 10.61.0.1/24 dev wgr0',
      '[#] ip -6 address del fd60::1/64 dev wgr0',
      '[#] ip link set mtu 1280 up dev wgr0',
      '[#] ip -4 route add 10.90.0.0/16 dev wgr0',
      '[#] ip -4 route add 10.80.0.0/16 dev wgr0',
      '[#] ip -4 route delete 10.70.0.0/16 dev wgr0',
      '[#] sysctl -q net.ipv4.ip_forward=1',
      '[#] nft -f -',
    ]);
    expect(await tunnel()).toMatchObject({
      mtu: 1280,
      peers: [`${PEER_A} 10.60.0.2/32,10.80.0.0/16`, `${PEER_B} 10.90.0.0/16`],
      listenPort: 51820,
    });
    expect(state()).toMatchObject({ applied: { addresses: ['10.60.0.1/24', '10.61.0.1/24'], mtu: 1280, natVia: 'eth0' }, reloading: false });
  });

  const failures: [string, (s: FakeQuickSystem) => void][] = [
    ['config', (s) => s.backend.failNextSet(22)],
    ['address', (s) => s.rtnl.failNext('deleteAddress', 22)],
    ['mtu', (s) => s.rtnl.failNext('setLink', 22)],
    ['routes', (s) => s.rtnl.failNext('addRoute', 22)],
    ['nat', (s) => (s.runner.failWhen = (l) => (l === 'nft -f -' ? 1 : undefined))],
  ];
  for (const [step, fail] of failures) {
    it(`puts everything back when step \`${step}' fails`, async () => {
      const conf = writeConfig(dir, 'wgr0', BEFORE);
      await up(await loadTarget(conf, {}));
      const before = await tunnel();
      const applied = state().applied;
      writeConfig(dir, 'wgr0', AFTER);
      fail(sys);
      const error = await reload(await loadTarget(conf, { natVia: 'eth0' })).catch((e: unknown) => e as Error);
      expect(error?.message).toMatch(new RegExp(`^reload step \`${step}' failed: .*; the tunnel is as it was before the reload$`));
      expect(await tunnel()).toEqual(before);
      expect(state()).toEqual(expect.objectContaining({ applied, reloading: false }));
      // Forwarding turned on for the NAT is turned off again.
      const sysctls = sys.runner.ran.filter((c) => c.argv[0] === 'sysctl').map((c) => c.argv.join(' '));
      if (step === 'nat') expect(sysctls).toEqual(['sysctl -q net.ipv4.ip_forward=1', 'sysctl -q net.ipv4.ip_forward=0']);
      else expect(sysctls).toEqual([]);
    });
  }

  it('takes back a default-route policy that failed halfway (its rules and fallback, not only what finished)', async () => {
    const conf = writeConfig(dir, 'wgr0', BEFORE);
    await up(await loadTarget(conf, {}));
    const rules = structuredClone(sys.rtnl.rules);
    const before = await tunnel();
    writeConfig(dir, 'wgr0', BEFORE.replace('AllowedIPs = 10.60.0.2/32, 10.70.0.0/16', 'AllowedIPs = 10.60.0.2/32, 10.70.0.0/16, 0.0.0.0/0'));
    sys.runner.failWhen = (l) => (l === 'nft -f -' ? 1 : undefined);
    const error = await reload(await loadTarget(conf, {})).catch((e: unknown) => e as Error);
    expect(error?.message).toMatch(/^reload step `routes' failed: .*; the tunnel is as it was before the reload$/);
    expect(sys.rtnl.rules).toEqual(rules);
    expect(sys.rtnl.routes.filter((r) => r.table === 51820)).toEqual([]);
    expect(await tunnel()).toEqual(before);
    expect(JSON.stringify(state())).not.toContain('rule-delete');
  });
});
