/**
 * `wgts quick up` on fakes (test/fakes/quick-system.ts): the order of the steps and what each
 * narrates for typical configs, the journal on disk ahead of every change, and the rollback of a
 * failing step — each step in turn — in reverse order, leaving the namespace as it was.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installFakeHost, type FakeQuickSystem } from '../fakes/quick-system.js';
import { PEER_A, PRIVATE_KEY, writeConfig } from '../fakes/quick-tunnel.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-quick-up-'));
process.env.WGTS_QUICK_STATE_DIR = join(dir, 'state');
const { up } = await import('../../src/quick/up.js');
const { loadTarget } = await import('../../src/quick/target.js');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SERVER = `[Interface]
PrivateKey = ${PRIVATE_KEY}
ListenPort = 51820
Address = 10.60.0.1/24, fd60::1/64
DNS = 10.60.0.53, corp.example
PreUp = echo pre %i
PostUp = echo post %i

[Peer]
PublicKey = ${PEER_A}
AllowedIPs = 10.60.0.2/32, 10.70.0.0/16
Endpoint = 192.0.2.7:51820
`;

const CLIENT = `[Interface]
PrivateKey = ${PRIVATE_KEY}
Address = 10.60.0.2/32

[Peer]
PublicKey = ${PEER_A}
AllowedIPs = 0.0.0.0/0
Endpoint = 192.0.2.7:51820
`;

let sys: FakeQuickSystem;
beforeEach(() => {
  sys = installFakeHost('eth0', 1400, ['resolvectl', 'nft']);
});
afterEach(() => {
  sys.restore();
  rmSync(join(dir, 'state'), { recursive: true, force: true });
});

function stateFiles(): string[] {
  try {
    return readdirSync(join(dir, 'state')).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
}

/** The kernel-side state of the fake namespace, for before/after comparisons. */
function snapshot(): unknown {
  return structuredClone({ links: sys.rtnl.links, routes: sys.rtnl.routes, rules: sys.rtnl.rules, addresses: [...sys.rtnl.addresses] });
}

async function target(ifname: string, text: string, natVia?: string) {
  return loadTarget(writeConfig(dir, ifname, text), natVia !== undefined ? { natVia } : {});
}

describe('quick up on fakes', () => {
  it('runs the steps in wg-quick order and narrates each change (a server with hooks, DNS and --nat-via)', async () => {
    await up(await target('wgs0', SERVER, 'eth0'));
    const conf = join(dir, 'wgs0.conf');
    expect(sys.narration).toEqual([
      '[#] ip link add dev wgs0 type wireguard',
      '[#] echo pre wgs0',
      `[#] wgts addconf wgs0 <(wgts quick strip ${conf})`,
      '[#] ip -4 address add 10.60.0.1/24 dev wgs0',
      '[#] ip -6 address add fd60::1/64 dev wgs0',
      '[#] ip link set mtu 1320 up dev wgs0',
      '[#] resolvectl dns wgs0 10.60.0.53',
      '[#] resolvectl domain wgs0 ~. corp.example',
      '[#] resolvectl default-route wgs0 yes',
      '[#] ip -4 route add 10.70.0.0/16 dev wgs0',
      '[#] sysctl -q net.ipv4.ip_forward=1',
      '[#] sysctl -q net.ipv6.conf.all.forwarding=1',
      '[#] nft -f -',
      '[#] echo post wgs0',
    ]);
    const link = sys.rtnl.links.find((l) => l.name === 'wgs0')!;
    expect(link).toMatchObject({ kind: 'wireguard', mtu: 1320, flags: 1 });
    expect((await sys.backend.get('wgs0')).listenPort).toBe(51820);
    // 10.60.0.2/32 is inside the Address's connected route: skipped, as wg-quick skips it.
    expect(sys.rtnl.routes.filter((r) => r.oif === link.index).map((r) => `${r.dst.family}/${r.dst.len}`)).toEqual(['4/24', '6/64', '4/16']);
    expect(stateFiles()).toHaveLength(1);
  });

  it('narrates the default-route policy of a full tunnel: fwmark, fallback, rules, route, src_valid_mark, firewall', async () => {
    await up(await target('wgc0', CLIENT));
    expect(sys.narration.slice(3)).toEqual([
      '[#] ip link set mtu 1320 up dev wgc0',
      '[#] wgts set wgc0 fwmark 51820',
      '[#] ip -4 route add unreachable 0.0.0.0/0 table 51820 metric 4294967295',
      '[#] ip -4 rule add not fwmark 51820 table 51820',
      '[#] ip -4 rule add table main suppress_prefixlength 0',
      '[#] ip -4 route add 0.0.0.0/0 dev wgc0 table 51820',
      '[#] sysctl -q net.ipv4.conf.all.src_valid_mark=1',
      '[#] nft -f -',
    ]);
    expect(sys.rtnl.rules.filter((r) => r.family === 4).map((r) => r.priority).sort()).toEqual([0, 32764, 32765, 32766, 32767]);
  });

  it('has each undo in the state file before the change it takes back', async () => {
    type Action = { kind: string; step: string; argv?: string[]; key?: string };
    const seen: { change: string; journal: Action[] }[] = [];
    const record = (change: string): void => {
      const [name] = stateFiles();
      const journal = name ? (JSON.parse(readFileSync(join(dir, 'state', name), 'utf8')) as { journal: Action[] }).journal : [];
      seen.push({ change, journal });
    };
    sys.rtnl.beforeChange = record;
    sys.runner.beforeChange = record;
    await up(await target('wgc0', CLIENT.replace('Address = 10.60.0.2/32', 'Address = 10.60.0.2/32\nDNS = 10.60.0.53'), 'eth0'));
    const journalAt = (change: string, nth = 0): Action[] => {
      const found = seen.filter((x) => x.change === change)[nth];
      expect(found, change).toBeDefined();
      return found!.journal;
    };
    const has = (journal: Action[], p: (a: Action) => boolean): boolean => journal.some(p);
    expect(has(journalAt('createLink wgc0'), (a) => a.kind === 'link-delete')).toBe(true);
    expect(has(journalAt('resolvectl dns wgc0 10.60.0.53'), (a) => a.argv?.join(' ') === 'resolvectl revert wgc0')).toBe(true);
    expect(has(journalAt('addRoute 0.0.0.0/0'), (a) => a.kind === 'route-delete')).toBe(true);
    expect(journalAt('addRule 4 table 51820').filter((a) => a.kind === 'rule-delete')).toHaveLength(1);
    expect(journalAt('addRule 4 table 254').filter((a) => a.kind === 'rule-delete')).toHaveLength(2);
    expect(has(journalAt('sysctl -q net.ipv4.conf.all.src_valid_mark=1'), (a) => a.key === 'net.ipv4.conf.all.src_valid_mark')).toBe(true);
    expect(has(journalAt('nft -f -', 0), (a) => a.step === 'firewall')).toBe(true);
    expect(has(journalAt('sysctl -q net.ipv4.ip_forward=1'), (a) => a.key === 'net.ipv4.ip_forward')).toBe(true);
    expect(has(journalAt('nft -f -', 1), (a) => a.step === 'nat' && a.argv?.[0] === 'nft')).toBe(true);
    // A rule's intent is made precise (its priority) once the kernel has answered.
    const [name] = stateFiles();
    const final = JSON.parse(readFileSync(join(dir, 'state', name!), 'utf8')) as { journal: { kind: string; priority?: number }[] };
    expect(final.journal.filter((a) => a.kind === 'rule-delete').map((a) => a.priority)).toEqual([32765, 32764]);
  });

  const failures: [string, (s: FakeQuickSystem) => void][] = [
    ['link', (s) => s.rtnl.failNext('createLink', 95)],
    ['PreUp', (s) => (s.runner.failWhen = (l) => (l === 'echo pre wgs0' ? 3 : undefined))],
    ['config', (s) => s.backend.failNextSet(22)],
    ['address', (s) => s.rtnl.failNext('addAddress', 17)],
    ['mtu', (s) => s.rtnl.failNext('setLink', 22)],
    ['dns', (s) => (s.runner.failWhen = (l) => (l.startsWith('resolvectl domain') ? 1 : undefined))],
    ['routes', (s) => s.rtnl.failNext('addRoute', 22)],
    ['nat', (s) => (s.runner.failWhen = (l) => (l === 'nft -f -' ? 1 : undefined))],
    ['PostUp', (s) => (s.runner.failWhen = (l) => (l === 'echo post wgs0' ? 4 : undefined))],
  ];
  for (const [step, fail] of failures) {
    it(`undoes everything in reverse when step \`${step}' fails`, async () => {
      const before = snapshot();
      fail(sys);
      const t = await target('wgs0', SERVER, 'eth0');
      const error = await up(t).catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(Error);
      expect(error!.message).toMatch(new RegExp(`^step \`${step}' failed: .*; everything done before it was undone$`));
      expect(snapshot()).toEqual(before);
      expect(stateFiles()).toEqual([]);
      // What came after the failing change is the undo of what came before it, last first.
      const undo = sys.narration.slice(sys.failedAt);
      const expected = [
        step === 'nat' || step === 'PostUp' ? ['[#] nft -f -', '[#] sysctl -q net.ipv6.conf.all.forwarding=0', '[#] sysctl -q net.ipv4.ip_forward=0'] : [],
        ['dns', 'routes', 'nat', 'PostUp'].includes(step) ? ['[#] resolvectl revert wgs0'] : [],
        step === 'link' ? [] : ['[#] ip link delete dev wgs0'],
      ].flat();
      expect(undo).toEqual(expected);
    });
  }

  it('takes back a full tunnel’s policy, last first, when its firewall fails', async () => {
    const before = snapshot();
    sys.runner.failWhen = (l) => (l === 'nft -f -' ? 1 : undefined);
    const error = await up(await target('wgc0', CLIENT)).catch((e: unknown) => e as Error);
    expect(error?.message).toMatch(/^step `routes' failed: `nft -f -' failed with exit status 1/);
    expect(sys.narration.slice(sys.failedAt)).toEqual([
      '[#] nft -f -',
      '[#] sysctl -q net.ipv4.conf.all.src_valid_mark=0',
      '[#] ip -4 rule delete pref 32764 table main',
      '[#] ip -4 rule delete pref 32765 table 51820',
      '[#] ip -4 route delete unreachable 0.0.0.0/0 table 51820 metric 4294967295',
      '[#] ip link delete dev wgc0',
    ]);
    expect(snapshot()).toEqual(before);
    expect(stateFiles()).toEqual([]);
  });
});
