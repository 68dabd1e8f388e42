#!/usr/bin/env node
// CPU cost of the userspace TUN offloads (src/userspace-fallback/offload/, no root): cutting a
// 64,000-byte TCP super-packet into 1380-byte segments (checksums computed) and coalescing those
// segments back (checksums verified), per super-packet and per segment; and the Internet checksum
// alone per 1420 bytes. CPU time, rounds interleaved, median.   BENCH_ROUNDS=7
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS || 7);
mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
const dir = mkdtempSync(join(ROOT, 'node_modules/.cache/wgts-bench-offload-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cpuUs = () => { const u = process.cpuUsage(); return u.user + u.system; };

try {
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, ['gso-segment', 'gro-coalesce', 'inet-checksum', 'virtio-net-hdr', 'tun-frames'].map((m) => `export * from '${join(ROOT, 'src/userspace-fallback/offload', m)}.js';`).join('\n'));
  await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', outfile: join(dir, 'offload.mjs'), logLevel: 'error' });
  const o = await import(join(dir, 'offload.mjs'));

  // A TSO read as the kernel hands it over: IPv4 + TCP (timestamps option), NEEDS_CSUM.
  const PAYLOAD = 64000;
  const MSS = 1380;
  const pkt = new Uint8Array(20 + 32 + PAYLOAD);
  pkt.set([0x45, 0, (pkt.length >> 8) & 255, pkt.length & 255, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
  o.setIPv4HeaderChecksum(pkt, 20);
  pkt.set([0x9c, 0x40, 0x14, 0x51, 0, 0, 0, 1, 0, 0, 0, 1, 0x80, 0x10, 0xff, 0xff, 0, 0, 0, 0, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], 20);
  for (let i = 52; i < pkt.length; i++) pkt[i] = i & 255;
  const partial = o.foldSum(o.pseudoHeaderSum(pkt, 12, 4, 6, pkt.length - 20));
  pkt[36] = partial >> 8; pkt[37] = partial & 255;
  const hdr = { flags: o.VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: o.VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: 52, gsoSize: MSS, csumStart: 20, csumOffset: 16 };
  const scratch = new Uint8Array(70000);
  const segs = [];
  o.segmentPacket(hdr, pkt, scratch, (s) => segs.push(Uint8Array.from(s)));
  const n = segs.length;
  const p1420 = pkt.subarray(0, 1420);

  const items = {
    [`segmentPacket, ${PAYLOAD} bytes -> ${n} segments`]: () => o.segmentPacket(hdr, pkt, scratch, () => {}),
    [`coalesceTcp, ${n} segments -> 1 super-packet`]: () => o.coalesceTcp(segs),
    'Internet checksum of 1420 bytes': () => o.sumBytes(p1420, 0, 1420),
  };
  const res = Object.fromEntries(Object.keys(items).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, fn] of Object.entries(items)) {
      const iters = k.startsWith('Internet') ? 200000 : 2000;
      const s = cpuUs();
      for (let i = 0; i < iters; i++) fn();
      res[k].push(((cpuUs() - s) * 1000) / iters);
    }
  }
  console.log(`userspace offloads, CPU time, ${ROUNDS} interleaved rounds, median; ${cpus().length} cores, load ${loadavg()[0].toFixed(1)}, node ${process.version}`);
  console.log('| step | per call | per segment |\n|---|---|---|');
  for (const k of Object.keys(items)) {
    const m = median(res[k]);
    const per = k.startsWith('Internet') ? '-' : `${Math.round(m / n)} ns`;
    console.log(`| ${k} | ${m >= 10000 ? `${(m / 1000).toFixed(1)} µs` : `${Math.round(m)} ns`} | ${per} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
