#!/usr/bin/env node
// What sending a datagram costs the writer worker (no root; loopback only): one sendto() per
// datagram (as the writer did before), sendmmsg() batches of 64, and UDP GSO trains (UDP_SEGMENT)
// of equal-size datagrams, one train per sendmsg and several per sendmmsg, each including the copy
// from a SharedArrayBuffer into the native staging area that the writer makes; and a train to a
// receiver with UDP_GRO (udp(7)), which keeps it whole. The receiving
// socket on 127.0.0.1 is never read (its buffer overflows and the kernel drops there), so what is
// measured is the sender's share: the syscall, the UDP/IP stack, loopback and the receive path up
// to the socket. CPU time of this process (process.cpuUsage), interleaved rounds, median per item.
//   BENCH_ROUNDS=7  BENCH_MS=100 (target CPU time per item and round)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS || 7);
const TARGET_US = Number(process.env.BENCH_MS || 100) * 1000;
mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
const dir = mkdtempSync(join(ROOT, 'node_modules/.cache/wgts-bench-udp-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cpuUs = () => { const u = process.cpuUsage(); return u.user + u.system; };

try {
  const out = join(dir, 'libc.mjs');
  await build({ entryPoints: [join(ROOT, 'src/system/libc.ts')], bundle: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'error', external: ['koffi'] });
  const L = await import(out);
  const { sys } = L;
  const AF_INET = 2;
  const sockaddr = (port) => {
    const sa = new Uint8Array(16);
    const dv = new DataView(sa.buffer);
    dv.setUint16(0, AF_INET, true);
    dv.setUint16(2, port, false);
    sa.set([127, 0, 0, 1], 4);
    return sa;
  };
  const mkSock = () => {
    const fd = sys.socket(AF_INET, L.SOCK_DGRAM | L.SOCK_NONBLOCK | L.SOCK_CLOEXEC, 0);
    const sa = sockaddr(0);
    if (fd < 0 || sys.bind(fd, sa, sa.length) < 0) throw new Error(`socket/bind: errno ${sys.errno()}`);
    const got = new Uint8Array(16);
    sys.getsockname(fd, got, new Uint32Array([16]));
    return { fd, port: new DataView(got.buffer).getUint16(2, false) };
  };
  const rx = mkSock();
  const tx = mkSock();
  if (!L.hasUdpSegment(tx.fd)) throw new Error('this kernel has no UDP_SEGMENT');
  const dest = sockaddr(rx.port);
  // A receiver with UDP_GRO takes a train as one datagram instead of cutting it at its socket.
  const rxGro = mkSock();
  if (sys.setsockopt(rxGro.fd, L.SOL_UDP, L.UDP_GRO, L.int32(1), 4) < 0) throw new Error(`UDP_GRO: errno ${sys.errno()}`);
  const destGro = sockaddr(rxGro.port);
  const batch = new L.SendBatch(64, 192 << 10);
  // The ring the writer copies from.
  const ring = new Uint8Array(new SharedArrayBuffer(1 << 20));

  /** One call's worth of work for each item; returns how many datagrams it sent. */
  const items = [];
  for (const size of [1452, 128]) {
    const payload = ring.subarray(0, size);
    items.push([`sendto, ${size} B`, () => (sys.sendto(tx.fd, payload, size, L.MSG_NOSIGNAL, dest, dest.length), 1)]);
    items.push([`sendmmsg of 64, ${size} B`, () => {
      for (let k = 0; k < 64; k++) {
        batch.data.set(payload, k * size);
        batch.setMessage(k, k * size, size, dest, 0);
      }
      batch.send(tx.fd, 0, 64, L.MSG_NOSIGNAL);
      return 64;
    }]);
    const perTrain = Math.min(64, Math.floor(65507 / size));
    items.push([`GSO train of ${perTrain}, ${size} B`, () => {
      for (let k = 0; k < perTrain; k++) batch.data.set(payload, k * size);
      batch.setMessage(0, 0, perTrain * size, dest, size);
      batch.send(tx.fd, 0, 1, L.MSG_NOSIGNAL);
      return perTrain;
    }]);
    items.push([`GSO train of ${perTrain} to a UDP_GRO receiver, ${size} B`, () => {
      for (let k = 0; k < perTrain; k++) batch.data.set(payload, k * size);
      batch.setMessage(0, 0, perTrain * size, destGro, size);
      batch.send(tx.fd, 0, 1, L.MSG_NOSIGNAL);
      return perTrain;
    }]);
    items.push([`sendmmsg of 3 GSO trains of ${perTrain}, ${size} B`, () => {
      for (let t = 0; t < 3; t++) {
        const base = t * perTrain * size;
        for (let k = 0; k < perTrain; k++) batch.data.set(payload, base + k * size);
        batch.setMessage(t, base, perTrain * size, dest, size);
      }
      batch.send(tx.fd, 0, 3, L.MSG_NOSIGNAL);
      return 3 * perTrain;
    }]);
  }
  const results = new Map(items.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of items) {
      let datagrams = 0;
      const t0 = cpuUs();
      let t = t0;
      while (t - t0 < TARGET_US) {
        for (let i = 0; i < 16; i++) datagrams += fn();
        t = cpuUs();
      }
      results.get(name).push(((t - t0) * 1000) / datagrams);
    }
  }
  console.log(`UDP send per datagram to loopback, CPU time, ${ROUNDS} interleaved rounds, median; ${cpus().length} cores (${cpus()[0].model}), Linux ${release()}, load ${loadavg()[0].toFixed(1)}, node ${process.version}`);
  console.log('\n| how | CPU per datagram |\n|---|---|');
  for (const [name] of items) console.log(`| ${name} | ${Math.round(median(results.get(name)))} ns |`);
  sys.close(tx.fd);
  sys.close(rx.fd);
  sys.close(rxGro.fd);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
