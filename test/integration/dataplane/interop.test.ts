/**
 * wgts-userspace against the real wireguard-go, in network namespaces: handshakes initiated by each
 * side, IPv4/IPv6 inside and outside, TCP both ways, roaming, persistent keepalive on the wire.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, waitFor } from '../helpers/netns.js';
import { type Side, endpointOf, iperf, makePair, peerDump, ping, wg } from './fixture.js';

describe('wgts-userspace <-> wireguard-go', () => {
  const lab = new Lab('wgd');
  let a: Side; // wgts
  let b: Side; // wireguard-go

  beforeAll(async () => {
    [a, b] = await makePair(lab, 'wgts', 'go');
  }, 60_000);
  afterAll(() => lab.cleanup(), 30_000);

  /** Points both sides at each other's outer IPv4 address again. */
  async function outerV4(): Promise<void> {
    await wg(a, ['set', a.ifname, 'peer', b.publicKey, 'endpoint', `${b.outer4}:${b.port}`]);
    await wg(b, ['set', b.ifname, 'peer', a.publicKey, 'endpoint', `${a.outer4}:${a.port}`]);
  }

  it('handshake initiated by wgts: ping IPv4 and IPv6 inner over IPv4 outer', async () => {
    expect((await peerDump(a, b.publicKey))[4]).toBe('0'); // no handshake yet
    await ping(a, b.inner4);
    await ping(a, b.inner6);
    await ping(b, a.inner4);
    const [, , ep, , hs, rx, tx] = await peerDump(a, b.publicKey);
    expect(ep).toBe(`${b.outer4}:${b.port}`);
    expect(Number(hs)).toBeGreaterThan(0);
    expect(Number(rx)).toBeGreaterThan(0);
    expect(Number(tx)).toBeGreaterThan(0);
    // The go side saw the same handshake.
    expect(Number((await peerDump(b, a.publicKey))[4])).toBeGreaterThan(0);
  });

  it('handshake initiated by wireguard-go (fresh peers on both sides), IPv6 outer', async () => {
    // Re-creating the peers drops every session: the next packet from b starts a new handshake.
    for (const [me, other] of [[a, b], [b, a]] as const) {
      await wg(me, ['set', me.ifname, 'peer', other.publicKey, 'remove']);
      await wg(me, ['set', me.ifname, 'peer', other.publicKey, 'allowed-ips', `${other.inner4}/32,${other.inner6}/128`,
        'endpoint', `[${other.outer6}]:${other.port}`]);
    }
    expect((await peerDump(a, b.publicKey))[4]).toBe('0');
    await ping(b, a.inner4);
    await ping(b, a.inner6);
    expect(Number((await peerDump(a, b.publicKey))[4])).toBeGreaterThan(0);
    expect(await endpointOf(a, b.publicKey)).toBe(`[${b.outer6}]:${b.port}`);
  });

  it('transfer counters mirror wireguard-go\'s (selftest item 1: rx on one side = tx on the other)', async () => {
    await ping(a, b.inner4, { count: 0 }); // session up
    const before = Number((await peerDump(a, b.publicKey))[5]);
    await a.ns.run(['ping', '-n', '-c', '10', '-f', b.inner4]);
    await waitFor(async () => {
      const [, , , , , rxA, txA] = await peerDump(a, b.publicKey);
      const [, , , , , rxB, txB] = await peerDump(b, a.publicKey);
      // 10 echo replies of 84 bytes: 10 data messages of 32 + 96 bytes (padded to 16) at least.
      return rxA === txB && txA === rxB && Number(rxA) - before >= 10 * 128;
    }, { what: 'mirrored counters', timeout: 5000 });
  });

  it('iperf3 TCP both ways', async () => {
    const up = await iperf(a, b, 2);
    const down = await iperf(a, b, 2, { reverse: true });
    expect(up).toBeGreaterThan(1e6);
    expect(down).toBeGreaterThan(1e6);
  }, 60_000);

  it('roaming: wgts follows wireguard-go to a new port; wireguard-go follows wgts to a new address mid-flow', async () => {
    await outerV4();
    // b rebinds to another port (selftest item 9): its next authenticated packet moves a's endpoint.
    await wg(b, ['set', b.ifname, 'listen-port', '9999']);
    await ping(b, a.inner4, { count: 1 });
    await waitFor(async () => (await endpointOf(a, b.publicKey)) === `${b.outer4}:9999`, { what: 'wgts endpoint update' });
    await ping(a, b.inner4, { count: 2 });
    await wg(b, ['set', b.ifname, 'listen-port', String(b.port)]);
    await ping(b, a.inner4, { count: 1 });
    await waitFor(async () => (await endpointOf(a, b.publicKey)) === `${b.outer4}:${b.port}`, { what: 'wgts endpoint back' });

    // a's underlay address changes while a ping runs from a; wireguard-go must follow.
    const flow = a.ns.spawn(['ping', '-n', '-i', '0.1', '-w', '6', b.inner4]);
    await waitFor(() => flow.stdout().includes('bytes from'), { what: 'flow running' });
    // Keep the new (secondary) address when the primary goes (namespace-local sysctl).
    await a.ns.run(['sysctl', '-qw', `net.ipv4.conf.${a.link}.promote_secondaries=1`]);
    await a.ns.ip(['addr', 'add', '10.99.0.11/24', 'dev', a.link]);
    await a.ns.ip(['addr', 'del', `${a.outer4}/24`, 'dev', a.link]);
    const before = flow.stdout().split('\n').length;
    await waitFor(async () => (await endpointOf(b, a.publicKey)) === `10.99.0.11:${a.port}`, { what: 'wireguard-go endpoint update' });
    await waitFor(() => flow.stdout().split('\n').length > before + 3, { what: 'flow resumed' });
    flow.kill('SIGINT');
    await flow.exited;
    // Restore the original addressing for the following tests.
    await a.ns.ip(['addr', 'add', `${a.outer4}/24`, 'dev', a.link]);
    await a.ns.ip(['addr', 'del', '10.99.0.11/24', 'dev', a.link]);
    await ping(a, b.inner4, { count: 1 });
    await waitFor(async () => (await endpointOf(b, a.publicKey)) === `${a.outer4}:${a.port}`, { what: 'endpoint restored' });
  }, 60_000);

  it('persistent keepalive from wgts is seen on the wire at its interval', async () => {
    await outerV4();
    await ping(a, b.inner4, { count: 1 });
    // tcpdump prints one line per 32-byte keepalive (UDP payload length 32) from a to b.
    const dump = b.ns.spawn(['tcpdump', '-l', '-n', '-i', b.link, '-tt', `udp and src host ${a.outer4} and dst port ${b.port} and udp[4:2] = 40`]);
    await waitFor(() => dump.stderr().includes('listening on'), { what: 'tcpdump start' });
    await wg(a, ['set', a.ifname, 'peer', b.publicKey, 'persistent-keepalive', '1']);
    const times = await waitFor(() => {
      const t = dump.stdout().split('\n').filter(Boolean).map((l) => Number(l.split(' ')[0]));
      return t.length >= 4 ? t : false;
    }, { timeout: 8000, what: 'four keepalives' });
    await wg(a, ['set', a.ifname, 'peer', b.publicKey, 'persistent-keepalive', '0']);
    dump.kill();
    // 0 -> 1 sends one at once; then one per second while nothing else is sent.
    const gaps = times.slice(1, 4).map((t, i) => t - times[i]!);
    for (const g of gaps.slice(1)) {
      expect(g).toBeGreaterThan(0.8);
      expect(g).toBeLessThan(1.6);
    }
  }, 30_000);
});
