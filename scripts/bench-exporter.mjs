#!/usr/bin/env node
// Exporter benchmark (`npm run bench:exporter`).
// 1. Rendering 10,000 peers (30,000 series): src/metrics/exposition.ts against the same output built
//    through prom-client's Registry (Counter/Gauge, reset and filled per scrape, as a collector
//    would), interleaved rounds, median and worst. No root needed.
// 2. As root: whole scrapes (`curl /metrics`) of `wgts exporter` over a device with 10,000 peers,
//    for wgts-userspace and wireguard-go, each in a fresh network namespace with its own
//    /run/wireguard (a private mount namespace per command).
//   BENCH_PEERS=10000  BENCH_ROUNDS=7
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const PEERS = Number(process.env.BENCH_PEERS || 10000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 7);
const dir = mkdtempSync(join(tmpdir(), 'wgts-bench-exporter-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;

try {
  const out = join(dir, 'exposition.mjs');
  await build({ entryPoints: [join(ROOT, 'src/metrics/exposition.ts')], bundle: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'error' });
  const { renderMetrics } = await import(out);
  const client = (await import('prom-client')).default;

  const key = (i) => { const k = new Uint8Array(32); new DataView(k.buffer).setUint32(0, i); k[31] = 7; return k; };
  const peers = [];
  for (let i = 0; i < PEERS; i++) {
    peers.push({ publicKey: key(i), allowedIps: [{ family: 4, addr: new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]), cidr: 32 }],
      txBytes: BigInt(i) * 100003n, rxBytes: BigInt(i) * 7919n, lastHandshake: { sec: BigInt(1_700_000_000 + i), nsec: 0 } });
  }
  const names = new Map();
  const device = { name: 'wg0', peers };
  const ours = () => renderMetrics([{ device, names }]);

  const b64 = (k) => Buffer.from(k).toString('base64');
  const reg = new client.Registry();
  const labelNames = ['interface', 'public_key', 'allowed_ips', 'friendly_name'];
  const sent = new client.Counter({ name: 'wireguard_sent_bytes_total', help: 'Bytes sent to the peer', labelNames, registers: [reg] });
  const recv = new client.Counter({ name: 'wireguard_received_bytes_total', help: 'Bytes received from the peer', labelNames, registers: [reg] });
  const hs = new client.Gauge({ name: 'wireguard_latest_handshake_seconds', help: 'Seconds from the last handshake', labelNames, registers: [reg] });
  const theirs = async () => {
    sent.reset(); recv.reset(); hs.reset();
    for (const p of peers) {
      const l = { interface: 'wg0', public_key: b64(p.publicKey), allowed_ips: p.allowedIps.map((ip) => `${ip.addr.join('.')}/${ip.cidr}`).join(',') };
      sent.inc(l, Number(p.txBytes)); recv.inc(l, Number(p.rxBytes)); hs.set(l, Number(p.lastHandshake.sec));
    }
    return reg.metrics();
  };

  const t = { ours: [], prom: [] };
  let same = true;
  for (let r = 0; r < ROUNDS; r++) {
    let s = performance.now(); const a = ours(); t.ours.push(performance.now() - s);
    s = performance.now(); const b = (await theirs()).replace(/\n\n/g, '\n'); t.prom.push(performance.now() - s); // prom-client puts a blank line between families
    if (a !== b && same) {
      const al = a.split('\n'), bl = b.split('\n'), i = al.findIndex((l, j) => l !== bl[j]);
      console.log(`first difference, line ${i + 1}:\n  ${al[i]}\n  ${bl[i]}`);
    }
    same &&= a === b;
  }
  console.log(`render ${PEERS} peers, ${ROUNDS} interleaved rounds on ${cpus().length} cores (node ${process.version}):`);
  console.log(`| exposition.ts | ${ms(median(t.ours))} | ${ms(Math.max(...t.ours))} |`);
  console.log(`| prom-client 15.1.3 | ${ms(median(t.prom))} | ${ms(Math.max(...t.prom))} |`);
  console.log(`(identical text apart from blank lines: ${same})`);

  if (process.getuid?.() !== 0) {
    console.log('not root: whole-scrape part skipped');
  } else {
    await scrapes();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

async function scrapes() {
  const sh = (argv, opts = {}) => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts });
  const conf = ['[Interface]', `PrivateKey = ${sh([join(ROOT, 'bin/wgts'), 'genkey']).trim()}`, 'ListenPort = 43900'];
  for (let i = 0; i < PEERS; i++) {
    const k = Buffer.alloc(32); k.writeUInt32BE(i); k[31] = 9;
    conf.push('[Peer]', `PublicKey = ${k.toString('base64')}`, `AllowedIPs = 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);
  }
  const confFile = join(dir, 'big.conf');
  writeFileSync(confFile, conf.join('\n') + '\n', { mode: 0o600 });
  for (const kind of ['wgts-userspace', 'wireguard-go']) {
    const ns = `wgbench-exp-${process.pid}`;
    const sockets = join(dir, `run-${kind}`);
    mkdirSync(sockets);
    const wrap = (argv) => ['unshare', '-m', 'sh', '-c', 'mount --bind "$0" /run/wireguard && exec "$@"', sockets, 'ip', 'netns', 'exec', ns, ...argv];
    const procs = [];
    const start = (argv, env = {}) => { const [c, ...a] = wrap(argv); const p = spawn(c, a, { stdio: 'ignore', env: { ...process.env, ...env } }); procs.push(p); return p; };
    sh(['ip', 'netns', 'add', ns]);
    try {
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      start(kind === 'wireguard-go' ? ['wireguard-go', '-f', 'wgbench0'] : [join(ROOT, 'bin/wgts-userspace'), '-f', 'wgbench0'], { WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'silent' });
      const until = async (fn, what) => { for (let i = 0; i < 300; i++) { try { if (fn()) return; } catch { /* not yet */ } await new Promise((r) => setTimeout(r, 100)); } throw new Error(`timed out: ${what}`); };
      await until(() => { const [c, ...a] = wrap([join(ROOT, 'bin/wgts'), 'show', 'wgbench0', 'listen-port']); sh([c, ...a]); return true; }, kind);
      { const [c, ...a] = wrap([join(ROOT, 'bin/wgts'), 'setconf', 'wgbench0', confFile]); sh([c, ...a]); }
      start([join(ROOT, 'bin/wgts'), 'exporter', '--listen', '127.0.0.1:9586']);
      const curl = () => sh(['ip', 'netns', 'exec', ns, 'curl', '-sf', '-o', '/dev/null', '-w', '%{time_total}', 'http://127.0.0.1:9586/metrics']);
      await until(() => curl() !== '', 'exporter');
      const times = [];
      for (let r = 0; r < ROUNDS; r++) times.push(Number(curl()) * 1000);
      console.log(`| wgts exporter, ${PEERS} peers on ${kind} | ${ms(median(times))} | ${ms(Math.max(...times))} |`);
    } finally {
      for (const p of procs) p.kill('SIGKILL');
      sh(['ip', 'netns', 'del', ns]);
    }
  }
}
