/**
 * wgts-userspace's UDP GSO send path (writer-worker.ts) between real daemons: one sending its
 * datagram trains with UDP_SEGMENT (the default), one on the plain path (WGTS_UDP_GSO=0), over IPv4
 * outer addresses; and both with GSO over IPv6 ones. TCP through the tunnel both ways must flow:
 * a train cut wrong by the kernel, or a datagram lost or reordered, would fail authentication on
 * the other side or stall the transfer. The cutting itself is checked byte for byte on loopback in
 * test/userspace-fallback/udp-gso.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../helpers/netns.js';
import { iperfBothWays, makePair, ping, type Side } from './fixture.js';

const root = process.getuid?.() === 0;

describe.skipIf(!root)('wgts-userspace with UDP GSO against one without', () => {
  const lab = new Lab('ugso');
  let a: Side;
  let b: Side;
  beforeAll(async () => {
    [a, b] = await makePair(lab, 'wgts', 'wgts', { envB: { WGTS_UDP_GSO: '0' } });
  }, 60_000);
  afterAll(() => lab.cleanup(), 30_000);

  it('pings and iperf3 TCP both ways', async () => {
    await ping(a, b.inner4);
    await ping(b, a.inner6);
    const [there, back] = await iperfBothWays(a, b);
    expect(there).toBeGreaterThan(1e6);
    expect(back).toBeGreaterThan(1e6);
  }, 60_000);
});

describe.skipIf(!root)('wgts-userspace with UDP GSO over IPv6', () => {
  const lab = new Lab('ugs6');
  let a: Side;
  let b: Side;
  beforeAll(async () => {
    [a, b] = await makePair(lab, 'wgts', 'wgts', { outer6: true });
  }, 60_000);
  afterAll(() => lab.cleanup(), 30_000);

  it('iperf3 TCP both ways', async () => {
    await ping(a, b.inner4);
    const [there, back] = await iperfBothWays(a, b);
    expect(there).toBeGreaterThan(1e6);
    expect(back).toBeGreaterThan(1e6);
  }, 60_000);
});
