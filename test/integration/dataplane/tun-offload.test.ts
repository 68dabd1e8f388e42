/**
 * The TUN offload path against the kernel's own TCP (tun-offload-peer.ts, in a fresh namespace):
 * with IFF_VNET_HDR and TUNSETOFFLOAD, the kernel's TSO super-packets must come apart into segments
 * whose checksums verify and whose bytes are the server's, and our GRO super-packets must be taken
 * by the kernel as the bytes we meant; without offloads (asked for none, or the kernel refusing the
 * flags) the same exchange runs on plain packets. Then two wgts-userspace daemons, one with the
 * offloads (the default) and one on the plain path (WGTS_TUN_OFFLOAD=0), carry pings and TCP both ways.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../helpers/netns.js';
import { iperfBothWays, makePair, ping, type Side } from './fixture.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const root = process.getuid?.() === 0;
const lab = new Lab('tofl');
let bundle = '';
let dir = '';

beforeAll(async () => {
  // Inside node_modules, so the bundle's require('koffi') resolves.
  mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
  dir = mkdtempSync(join(ROOT, 'node_modules/.cache/wgts-tun-offload-'));
  bundle = join(dir, 'peer.mjs');
  await build({ entryPoints: [join(import.meta.dirname, 'tun-offload-peer.ts')], bundle: true, format: 'esm', platform: 'node', outfile: bundle, logLevel: 'error', external: ['koffi'] });
});
afterAll(async () => {
  await lab.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function exchange(mode: 'offload' | 'plain' | 'refused') {
  const ns = await lab.netns();
  const r = await ns.run(["node", bundle, mode], { timeout: 60_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    vnetHdr: boolean; offloads: number; reads: number; gsoReads: number; largestRead: number; segments: number;
    badChecksums: number; superWrites: number; writeErrors: number; upOk: boolean; downOk: boolean; error: string;
  };
}

describe.skipIf(!root)('TUN offloads with the kernel on the other side', () => {
  it('IFF_VNET_HDR + TSO: super-packets both ways, every segment verifies, bytes exact', async () => {
    const s = await exchange('offload');
    expect(s).toMatchObject({ vnetHdr: true, badChecksums: 0, writeErrors: 0, error: '', upOk: true, downOk: true });
    expect(s.offloads & 0x06).toBe(0x06); // TSO4 and TSO6
    expect(s.superWrites).toBeGreaterThan(0);
    expect(s.gsoReads).toBeGreaterThan(0);
    expect(s.largestRead).toBeGreaterThan(1500);
  }, 90_000);

  it('plain path: no header, no super-packets, same bytes', async () => {
    const s = await exchange('plain');
    expect(s).toMatchObject({ vnetHdr: false, offloads: 0, gsoReads: 0, superWrites: 0, badChecksums: 0, writeErrors: 0, upOk: true, downOk: true });
    expect(s.largestRead).toBeLessThanOrEqual(1500);
  }, 90_000);

  it('a kernel refusing the offload flags gets the plain path', async () => {
    const s = await exchange('refused');
    expect(s).toMatchObject({ vnetHdr: false, offloads: 0, gsoReads: 0, upOk: true, downOk: true });
  }, 90_000);
});

describe.skipIf(!root)('wgts-userspace with the offloads against one on the plain path', () => {
  const pairLab = new Lab('tofp');
  let a: Side;
  let b: Side;
  beforeAll(async () => {
    [a, b] = await makePair(pairLab, 'wgts', 'wgts', { envB: { WGTS_TUN_OFFLOAD: '0' } });
  }, 60_000);
  afterAll(() => pairLab.cleanup(), 30_000);

  it('opened the TUNs as asked: a with a virtio_net_hdr, b without', async () => {
    // iproute2 prints a TUN's flags with -details: "tun type tun pi off vnet_hdr on ...".
    expect((await a.ns.ip(['-d', 'link', 'show', a.ifname])).stdout).toMatch(/vnet_hdr on/);
    expect((await b.ns.ip(['-d', 'link', 'show', b.ifname])).stdout).toMatch(/vnet_hdr off/);
  });

  it('pings and iperf3 TCP both ways', async () => {
    await ping(a, b.inner4);
    await ping(b, a.inner6);
    const [there, back] = await iperfBothWays(a, b);
    expect(there).toBeGreaterThan(1e6);
    expect(back).toBeGreaterThan(1e6);
  }, 60_000);
});
