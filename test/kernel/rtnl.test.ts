// rtnetlink without `ip`: each change made through src/netlink/rtnl.ts must leave the kernel exactly
// as the equivalent iproute2 command does (compared through `ip ... show`), and the getters must
// read back what `ip` reports.
import { afterAll, describe, expect, test } from 'vitest';
import { kernelWireguardAvailable } from '../../src/netlink/backend.js';
import * as rtnl from '../../src/netlink/rtnl.js';
import { requireVm, sh } from './helpers.js';

requireVm();

const DEV = 'wgk7';

afterAll(() => {
  sh(`ip link del ${DEV} 2>/dev/null; ip link del ${DEV}x 2>/dev/null; true`);
});

/** Runs `ours`, snapshots `show`, undoes with `undo`, runs the ip commands, snapshots again: same text. */
async function sameAsIp(ours: () => Promise<void>, ipCommands: string, show: string, undo: () => Promise<void>): Promise<string> {
  await ours();
  const mine = sh(show);
  await undo();
  expect(sh(show), `state after undo (${show})`).not.toBe(mine);
  sh(ipCommands);
  const theirs = sh(show);
  expect(mine, show).toBe(theirs);
  return mine;
}

describe('links', () => {
  test('create with MTU, up/down, MTU change, list and get; EEXIST and ENODEV', async () => {
    await rtnl.createLink(DEV, 'wireguard', { mtu: 1380 });
    expect(sh(`ip -d link show ${DEV}`)).toMatch(/mtu 1380 .*\n.*\n\s+wireguard/);
    await rtnl.setLink(DEV, { up: true, mtu: 1400 });
    const link = await rtnl.getLink(DEV);
    expect(link).toMatchObject({ name: DEV, kind: 'wireguard', mtu: 1400 });
    expect(link.flags & rtnl.IFF_UP).toBe(rtnl.IFF_UP);
    expect(sh(`ip link show ${DEV}`)).toMatch(/<POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1400/);
    await rtnl.setLink(DEV, { up: false });
    expect(sh(`ip link show ${DEV}`)).toMatch(/state DOWN/);
    await expect(rtnl.createLink(DEV)).rejects.toMatchObject({ errno: 17 });
    await expect(rtnl.getLink('nonexist0')).rejects.toMatchObject({ errno: 19 });
    const all = await rtnl.listLinks();
    expect(all.map((l) => l.index)).toEqual([...all.map((l) => l.index)].sort((a, b) => a - b));
    expect(all.find((l) => l.name === 'lo')?.kind).toBeUndefined();
    expect(await rtnl.wireguardLinks()).toContain(DEV);
    await rtnl.setLink(DEV, { up: true });
  });

  test('a veth link is not listed as WireGuard; deleteLink removes a link', async () => {
    sh(`ip link add ${DEV}x type veth peer name ${DEV}y`);
    expect(await rtnl.wireguardLinks()).not.toContain(`${DEV}x`);
    await rtnl.deleteLink(`${DEV}x`);
    expect(sh('ip -o link show')).not.toContain(`${DEV}x`);
  });
});

describe('addresses, routes, rules = iproute2', () => {
  test('addresses (IPv4 and IPv6)', async () => {
    const show = `ip addr show dev ${DEV} | grep inet | sed 's/valid_lft.*//'`;
    await sameAsIp(
      async () => {
        await rtnl.addAddress(DEV, '10.55.0.1/24');
        await rtnl.addAddress(DEV, 'fd55::1/64');
      },
      `ip addr add 10.55.0.1/24 dev ${DEV} && ip addr add fd55::1/64 dev ${DEV}`,
      show,
      async () => {
        await rtnl.deleteAddress(DEV, '10.55.0.1/24');
        await rtnl.deleteAddress(DEV, 'fd55::1/64');
      },
    );
    const listed = (await rtnl.listAddresses(DEV)).map((p) => `${p.family}/${p.len}`);
    expect(listed).toEqual(expect.arrayContaining(['4/24', '6/64']));
    await expect(rtnl.addAddress(DEV, '10.55.0.1/24')).rejects.toMatchObject({ errno: 17 });
  });

  test('routes in the main table and in a numbered table, both families', async () => {
    const show = `ip -4 route show table all dev ${DEV}; ip -6 route show table 51820`;
    await sameAsIp(
      async () => {
        await rtnl.addRoute({ dst: '10.56.0.0/16', ifname: DEV });
        await rtnl.addRoute({ dst: '0.0.0.0/0', ifname: DEV, table: 51820 });
        await rtnl.addRoute({ dst: '::/0', ifname: DEV, table: 51820 });
        await rtnl.addRoute({ dst: '10.57.0.0/16', ifname: DEV, table: 51820, metric: 7 });
      },
      `ip -4 route add 10.56.0.0/16 dev ${DEV} && ip -4 route add 0.0.0.0/0 dev ${DEV} table 51820 && ` +
        `ip -6 route add ::/0 dev ${DEV} table 51820 && ip -4 route add 10.57.0.0/16 dev ${DEV} table 51820 metric 7`,
      show,
      async () => {
        await rtnl.deleteRoute({ dst: '10.56.0.0/16', ifname: DEV });
        await rtnl.deleteRoute({ dst: '0.0.0.0/0', ifname: DEV, table: 51820 });
        await rtnl.deleteRoute({ dst: '::/0', ifname: DEV, table: 51820 });
        await rtnl.deleteRoute({ dst: '10.57.0.0/16', ifname: DEV, table: 51820 });
      },
    );
    const t = await rtnl.listRoutes(4, 51820);
    expect(t.map((r) => `${r.dst.len}:${r.metric ?? 0}`).sort()).toEqual(['0:0', '16:7']);
  });

  test("wg-quick's rules: not fwmark -> table, main with suppress_prefixlength 0, explicit priority", async () => {
    const show = 'ip -4 rule show; ip -6 rule show';
    const rules: rtnl.RuleSpec[] = [
      { family: 4, fwmark: 51820, invert: true, table: 51820 },
      { family: 4, table: rtnl.RT_TABLE_MAIN, suppressPrefixlen: 0 },
      { family: 6, fwmark: 51820, invert: true, table: 51820 },
      { family: 6, table: rtnl.RT_TABLE_MAIN, suppressPrefixlen: 0 },
      { family: 4, priority: 100, fwmark: 0x20, fwmask: 0xff, table: 1000 },
    ];
    const text = await sameAsIp(
      async () => {
        for (const r of rules) await rtnl.addRule(r);
      },
      'ip -4 rule add not fwmark 51820 table 51820 && ip -4 rule add table main suppress_prefixlength 0 && ' +
        'ip -6 rule add not fwmark 51820 table 51820 && ip -6 rule add table main suppress_prefixlength 0 && ' +
        'ip -4 rule add priority 100 fwmark 0x20/0xff table 1000',
      show,
      async () => {
        for (const r of rules) await rtnl.deleteRule(r);
      },
    );
    expect(text).toContain('not from all fwmark 0xca6c lookup 51820');
    expect(text).toContain('from all lookup main suppress_prefixlength 0');
    const listed = await rtnl.listRules(4);
    expect(listed).toContainEqual(expect.objectContaining({ fwmark: 51820, invert: true, table: 51820 }));
    expect(listed).toContainEqual(expect.objectContaining({ priority: 100, fwmark: 0x20, fwmask: 0xff, table: 1000 }));
    sh('ip -4 rule del priority 100; for f in -4 -6; do ip $f rule del table 51820; ip $f rule del table main suppress_prefixlength 0; done');
  });
});

describe('lookups wgts quick makes instead of ip', () => {
  test('getRoute = ip route get (device, route MTU, locked MTU), getLinkByIndex, the link MTU range', async () => {
    sh(`ip addr add 10.58.0.1/24 dev ${DEV}; ip route add 10.59.0.0/16 dev ${DEV} mtu 1300; ip route add 10.60.0.0/16 dev ${DEV} mtu lock 1200`);
    sh(`ip -6 addr add fd58::1/64 dev ${DEV} nodad; ip -6 route add fd59::/64 dev ${DEV} mtu 1280`);
    try {
      const index = (await rtnl.getLink(DEV)).index;
      for (const [dst, mtu, locked] of [
        ['10.58.0.7', undefined, undefined],
        ['10.59.1.2', 1300, undefined],
        ['10.60.1.2', 1200, true],
        ['fd58::7', undefined, undefined],
        ['fd59::7', 1280, undefined],
      ] as const) {
        const r = await rtnl.getRoute(dst);
        const ip = sh(`ip route get ${dst}`);
        expect(ip).toContain(` dev ${DEV} `);
        expect(r.oif, dst).toBe(index);
        expect(r.mtu, `${dst}: ${ip}`).toBe(mtu);
        expect(r.mtuLocked, dst).toBe(locked);
        expect(ip.includes(`mtu ${locked ? 'lock ' : ''}${mtu}`), ip).toBe(mtu !== undefined);
      }
      const byIndex = await rtnl.getLinkByIndex(index);
      expect(byIndex).toMatchObject({ name: DEV, index, kind: 'wireguard' });
      const d = sh(`ip -d link show ${DEV}`);
      expect(d).toContain(`minmtu ${byIndex.minMtu} maxmtu ${byIndex.maxMtu}`);
      await expect(rtnl.getLinkByIndex(999999)).rejects.toMatchObject({ errno: 19 });
      const viaMain = (await rtnl.listRoutes(4, rtnl.RT_TABLE_MAIN)).find((r) => r.dst.len === 16 && r.mtu === 1200);
      expect(viaMain?.mtuLocked).toBe(true);
    } finally {
      sh(`ip route del 10.59.0.0/16 dev ${DEV}; ip route del 10.60.0.0/16 dev ${DEV}; ip -6 route del fd59::/64 dev ${DEV}; ` +
        `ip addr del 10.58.0.1/24 dev ${DEV}; ip -6 addr del fd58::1/64 dev ${DEV}; true`);
    }
  });
});

describe('detection', () => {
  test('kernelWireguardAvailable: true with the module, false when forced to userspace', async () => {
    expect(await kernelWireguardAvailable()).toBe(true);
    process.env.WGTS_FORCE_USERSPACE = '1';
    try {
      expect(await kernelWireguardAvailable()).toBe(false);
    } finally {
      delete process.env.WGTS_FORCE_USERSPACE;
    }
  });
});
