/**
 * wgts-userspace on both ends, in network namespaces: handshakes from either side, IPv4/IPv6
 * inside and outside, TCP both ways; the interface moved into another namespace keeps working with
 * its UDP socket left in the birth namespace (the kernel selftest topology); and the real wg-quick
 * bringing it up and down through WG_QUICK_USERSPACE_IMPLEMENTATION.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, waitFor } from '../helpers/netns.js';
import { ROOT, SOCK_DIR, type Side, daemonPids, endpointOf, genkey, iperfBothWays, makePair, peerDump, ping, wg } from './fixture.js';

describe('wgts-userspace <-> wgts-userspace', () => {
  const lab = new Lab('wgd');
  let a: Side;
  let b: Side;

  beforeAll(async () => {
    [a, b] = await makePair(lab, 'wgts', 'wgts');
  }, 60_000);
  afterAll(() => lab.cleanup(), 30_000);

  it('handshake initiated by a, pings v4 and v6 inner over v4 outer', async () => {
    await ping(a, b.inner4);
    await ping(a, b.inner6);
    await ping(b, a.inner6);
    expect(Number((await peerDump(b, a.publicKey))[4])).toBeGreaterThan(0);
  });

  it('handshake initiated by b over IPv6 outer', async () => {
    for (const [me, other] of [[a, b], [b, a]] as const) {
      await wg(me, ['set', me.ifname, 'peer', other.publicKey, 'remove']);
      await wg(me, ['set', me.ifname, 'peer', other.publicKey, 'allowed-ips', `${other.inner4}/32,${other.inner6}/128`,
        'endpoint', `[${other.outer6}]:${other.port}`]);
    }
    await ping(b, a.inner4);
    await ping(b, a.inner6);
    expect(await endpointOf(a, b.publicKey)).toBe(`[${b.outer6}]:${b.port}`);
  });

  it('iperf3 TCP both ways', async () => {
    const [there, back] = await iperfBothWays(a, b);
    expect(there).toBeGreaterThan(1e6);
    expect(back).toBeGreaterThan(1e6);
  }, 60_000);

  it('carries large packets when the MTU is raised (selftest item 6: no 1500-byte assumptions)', async () => {
    for (const s of [a, b]) await s.ns.ip(['link', 'set', s.ifname, 'mtu', '34736']);
    // 34000-byte ICMP inside; the outer UDP datagram is fragmented on the veth.
    await a.ns.run(['ping', '-n', '-c', '3', '-i', '0.1', '-W', '3', '-s', '34000', '-M', 'do', b.inner4]);
    await b.ns.run(['ping', '-n', '-c', '3', '-i', '0.1', '-W', '3', '-s', '34000', '-M', 'do', a.inner6]);
    for (const s of [a, b]) await s.ns.ip(['link', 'set', s.ifname, 'mtu', '1420']);
  });

  it('keeps working after its interface moves to another namespace; the socket stays in the birth namespace', async () => {
    const c = await lab.netns();
    await a.ns.ip(['link', 'set', a.ifname, 'netns', c.name]);
    await c.ip(['addr', 'add', `${a.inner4}/24`, 'dev', a.ifname]);
    await c.ip(['link', 'set', a.ifname, 'up']);
    // UAPI and UDP still live where the daemon was born.
    expect((await a.ns.run(['ss', '-uln', `sport = :${a.port}`])).stdout).toContain(`:${a.port}`);
    expect((await c.run(['ss', '-uln', `sport = :${a.port}`])).stdout).not.toContain(`:${a.port}`);
    const moved: Side = { ...a, ns: c };
    await ping(moved, b.inner4);
    await ping(b, a.inner4);
    expect(Number((await peerDump(a, b.publicKey))[5])).toBeGreaterThan(0);
    // Deleting it in its new namespace still stops the daemon.
    await c.ip(['link', 'del', a.ifname]);
    await waitFor(async () => (await daemonPids(a.ifname)).length === 0, { what: 'daemon exit', timeout: 5000 });
    expect(existsSync(`${SOCK_DIR}/${a.ifname}.sock`)).toBe(false);
  });
});

describe('wg-quick with WG_QUICK_USERSPACE_IMPLEMENTATION=wgts-userspace', () => {
  const lab = new Lab('wgd');
  afterAll(() => lab.cleanup(), 30_000);

  it('wg-quick up (full tunnel, fwmark) starts wgts-userspace, traffic flows, wg-quick down stops it', async () => {
    const [q, peer] = await makePair(lab, 'go', 'go');
    // With the kernel module available wg-quick would never use a userspace implementation.
    const probe = await q.ns.ip(['link', 'add', 'wgdprobe', 'type', 'wireguard'], { check: false });
    if (probe.code === 0) {
      await q.ns.ip(['link', 'del', 'wgdprobe']);
      console.warn('kernel WireGuard present: wg-quick would not use wgts-userspace; skipped');
      return;
    }
    const name = lab.ifname('q');
    const keys = await genkey();
    const dir = mkdtempSync(join(tmpdir(), 'wgd-quick-'));
    lab.defer(() => rmSync(dir, { recursive: true, force: true }));
    const conf = join(dir, `${name}.conf`);
    writeFileSync(conf, [
      '[Interface]', `PrivateKey = ${keys.privateKey}`, 'ListenPort = 51900', 'Address = 10.0.1.1/24, fd00:1::1/64', '',
      // Full tunnel: wg-quick sets fwmark 51820 and policy rules, so the outer UDP packets only escape
      // the tunnel if the daemon really marks its sockets (SO_MARK; selftest item 18).
      '[Peer]', `PublicKey = ${peer.publicKey}`, `Endpoint = ${peer.outer4}:${peer.port}`, 'AllowedIPs = 0.0.0.0/0, ::/0', '',
    ].join('\n'), { mode: 0o600 });
    await wg(peer, ['set', peer.ifname, 'peer', keys.publicKey, 'allowed-ips', '10.0.1.1/32,fd00:1::1/128']);
    await peer.ns.ip(['addr', 'add', '10.0.1.2/24', 'dev', peer.ifname]);
    await peer.ns.ip(['addr', 'add', 'fd00:1::2/64', 'dev', peer.ifname, 'nodad']);
    const env = { WG_QUICK_USERSPACE_IMPLEMENTATION: 'wgts-userspace', PATH: `${ROOT}/bin:${process.env.PATH}`, WG_PROCESS_FOREGROUND: undefined };
    lab.defer(() => q.ns.run(['wg-quick', 'down', conf], { env, check: false }));
    const up = await q.ns.run(['wg-quick', 'up', conf], { env });
    expect(up.stderr).toContain(`wgts-userspace ${name}`);
    expect(await daemonPids(name)).toHaveLength(1);
    const side: Side = { ...q, ifname: name };
    await ping(side, '10.0.1.2');
    await ping(side, 'fd00:1::2');
    expect((await q.ns.run(['wg', 'show', name, 'listen-port'])).stdout.trim()).toBe('51900');
    expect((await q.ns.run(['wg', 'show', name, 'fwmark'])).stdout.trim()).toBe('0xca6c');
    await q.ns.run(['wg-quick', 'down', conf], { env });
    await waitFor(async () => (await daemonPids(name)).length === 0, { what: 'daemon exit after wg-quick down', timeout: 5000 });
    expect(existsSync(`${SOCK_DIR}/${name}.sock`)).toBe(false);
  }, 60_000);
});
