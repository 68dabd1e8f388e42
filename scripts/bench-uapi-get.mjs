#!/usr/bin/env node
// UAPI `get` micro-benchmark (no root): the daemon's side (formatGetResponse over a 10,000-peer
// device model, as wgts-userspace answers `get=1`) and the client's side (parseGetResponse, what
// `wgts show` and the exporter do with the reply), interleaved rounds, median and worst.
//   BENCH_PEERS=10000  BENCH_ROUNDS=15  BENCH_CODEC=FILE (another version of src/uapi/codec.ts, for A/B)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const PEERS = Number(process.env.BENCH_PEERS || 10000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 15);
const dir = mkdtempSync(join(tmpdir(), 'wgts-bench-uapi-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(1)} ms`;

async function load(entry, name) {
  const out = join(dir, `${name}.mjs`);
  await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'error', external: ['koffi'] });
  return import(out);
}

try {
  const codecs = [['codec.ts', await load(join(ROOT, 'src/uapi/codec.ts'), 'codec')]];
  if (process.env.BENCH_CODEC) codecs.push([process.env.BENCH_CODEC, await load(resolve(process.env.BENCH_CODEC), 'other')]);

  // The shape of Device.ipcGet(): PSK on every third peer, an endpoint on most, 1-3 allowed IPs.
  const key = (i, tag) => { const k = new Uint8Array(32); new DataView(k.buffer).setUint32(0, i); k[31] = tag; for (let j = 4; j < 31; j++) k[j] = (i * 131 + j * 17) & 255; return k; };
  const peers = [];
  for (let i = 0; i < PEERS; i++) {
    const allowedIps = [{ family: 4, addr: new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]), cidr: 32 }];
    if (i % 2) allowedIps.push({ family: 6, addr: Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i >> 8 & 255, i & 255]), cidr: 128 });
    if (i % 5 === 0) allowedIps.push({ family: 4, addr: new Uint8Array([192, 168, i & 255, 0]), cidr: 24 });
    peers.push({
      publicKey: key(i, 1), presharedKey: i % 3 === 0 ? key(i, 2) : new Uint8Array(32), protocolVersion: 1,
      lastHandshake: { sec: BigInt(1_700_000_000 + i), nsec: i * 1000 }, txBytes: BigInt(i) * 100003n, rxBytes: BigInt(i) * 7919n,
      persistentKeepalive: i % 4 ? 25 : 0, allowedIps,
      ...(i % 7 ? { endpoint: i % 2 ? { family: 4, host: `198.51.100.${i & 255}`, port: 51820 + (i & 1023) } : { family: 6, host: `2001:db8::${(i & 0xffff).toString(16)}`, port: 51820 } } : {}),
    });
  }
  const device = { name: 'wg0', privateKey: key(0, 3), listenPort: 51820, peers };

  const times = codecs.map(() => ({ format: [], parse: [] }));
  const texts = [];
  for (let r = 0; r < ROUNDS; r++) {
    codecs.forEach(([, c], n) => {
      let s = performance.now(); const text = c.formatGetResponse(device); times[n].format.push(performance.now() - s);
      s = performance.now(); c.parseGetResponse(text, 'wg0'); times[n].parse.push(performance.now() - s);
      texts[n] = text;
    });
  }
  console.log(`UAPI get of ${PEERS} peers (${texts[0].length} bytes), ${ROUNDS} interleaved rounds on ${cpus().length} cores, load ${loadavg()[0].toFixed(1)} (node ${process.version}); median / worst:`);
  console.log('| codec | formatGetResponse | parseGetResponse |');
  codecs.forEach(([name], n) => console.log(`| ${name} | ${ms(median(times[n].format))} / ${ms(Math.max(...times[n].format))} | ${ms(median(times[n].parse))} / ${ms(Math.max(...times[n].parse))} |`));
  if (texts.length > 1) console.log(`(identical text: ${texts.every((t) => t === texts[0])})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
