#!/usr/bin/env node
// Registry benchmark (`npm run bench:registry`, as root): queries per second of `wgts registry
// serve` beside nsd serving the same records (written by `wgts registry export --zone-file`), on
// a wgts-userspace device with BENCH_PEERS peers (1000), in one fresh network namespace. dnsperf
// (Debian) asks SRV for every peer in turn from 8 clients on loopback, BENCH_SECONDS (10) per run,
// the servers interleaved over BENCH_ROUNDS (2) rounds, with a third, a Node dgram server that
// returns a fixed reply (the floor of the runtime); each server is one process (nsd with
// server-count 1).
// Two loads, both to every server: "cookie", where every query carries the DNS cookie (RFC 7873)
// the registry gave the bench's address (learned with one dig first; dnsperf -E sends it as is), so
// the registry may send whole answers; and "plain", dnsperf's default queries without a cookie,
// which the registry answers truncated to 3x the query (its amplification bound, answer.ts). nsd
// answers cookies too (answer-cookie), with its own. dnsperf's average response size shows what
// was sent: in the cookie load it must be the whole SRV answer's (no truncation).
// Prints qps, the ratio registry/nsd and each server's peak RSS, and appends a row per load to
// docs/benchmarks.md ("Registry with DNS cookies"). --no-write: print only. BENCH_PROFILE=DIR: a
// V8 CPU profile of the registry process into DIR.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { nsdConf } from './lib/nsd-conf.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const PEERS = Number(process.env.BENCH_PEERS || 1000);
const SECONDS = Number(process.env.BENCH_SECONDS || 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const WRITE = !process.argv.includes('--no-write');
const ZONE = 'bench.test';
const tag = randomBytes(3).toString('hex');
const NS = `wgreg-bench-${tag}`;
const IF = `wgrb${tag}`;
const REGISTRY = '127.0.0.1';
const NSD = '127.0.0.2';
const FLOOR = '127.0.0.3';
const BASE_ADDR = '127.0.0.4';
/** BENCH_BASE=DIR: also the registry of another built checkout (e.g. the commit before a change). */
const BASE = process.env.BENCH_BASE ? resolve(process.env.BENCH_BASE) : undefined;
/**
 * The floor of any server on Node's dgram: answers every datagram with a fixed 200-byte reply (id
 * copied), no DNS work at all. It shows how much of the gap to nsd is the runtime's per-packet cost.
 */
const FLOOR_SERVER = `const s = require('node:dgram').createSocket('udp4'); const reply = Buffer.alloc(200);
s.on('message', (m, r) => { const o = Buffer.from(reply); m.copy(o, 0, 0, 2); o[2] = 0x84; o[5] = 1; s.send(o, r.port, r.address); });
s.bind(53, '${FLOOR}');`;

const sh = (argv, opts = {}) => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...opts });
const nsx = (argv, opts) => sh(['ip', 'netns', 'exec', NS, ...argv], opts);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.getuid?.() !== 0) {
  console.error('bench: run as root (it creates a network namespace)');
  process.exit(1);
}
for (const tool of ['dnsperf', 'nsd', 'wg']) {
  try {
    sh(['sh', '-c', `command -v ${tool}`]);
  } catch {
    console.error(`bench: ${tool} is not installed (scripts/setup.sh installs it)`);
    process.exit(1);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'wgreg-bench-'));
const children = [];
function start(argv) {
  const child = spawn('ip', ['netns', 'exec', NS, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  child.output = () => out;
  children.push(child);
  return child;
}
async function waitFor(what, ms, probe) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = probe();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
async function cleanup() {
  // Children end first (a profiled registry writes its profile on exit), then the namespace goes.
  await Promise.all(children.filter((c) => c.exitCode === null).map((c) => {
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    return Promise.race([exited, sleep(5000)]);
  }));
  try {
    for (const pid of sh(['ip', 'netns', 'pids', NS]).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGTERM');
  } catch {
    // namespace gone
  }
  try {
    sh(['ip', 'netns', 'del', NS]);
  } catch {
    // never made
  }
  rmSync(`/var/run/wireguard/${IF}.sock`, { force: true });
  rmSync(dir, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  void cleanup().then(() => process.exit(130));
});

/** Peak RSS (VmHWM) of the process that `pattern` finds, in MiB. */
function peakMiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/**
 * CPU seconds (user + system) per thread name of a process, busiest first: which threads of the
 * registry do the work (its UDP worker is `wgts-dns`; V8's GC helpers and libuv's pool have their own).
 */
function threadCpu(pid) {
  const tick = Number(sh(['getconf', 'CLK_TCK']).trim()) || 100;
  const by = new Map();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'latin1');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      by.set(name, (by.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / tick);
    } catch {
      // the thread ended
    }
  }
  return [...by].sort((a, b) => b[1] - a[1]).filter(([, s]) => s >= 0.05).map(([n, s]) => `${n} ${s.toFixed(1)} s`).join(', ');
}

/** The bench's source address: the registry's cookie is for it (RFC 7873 §5.2: client IP). */
const CLIENT = '127.0.0.1';

function dnsperf(server, cookie) {
  const edns = cookie ? ['-E', `10:${cookie}`] : [];
  const out = nsx(['dnsperf', '-a', CLIENT, '-s', server, '-p', '53', '-d', join(dir, 'queries'), '-c', '8', '-l', String(SECONDS), '-t', '2', ...edns]);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1]);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(out)?.[1]);
  const noerror = Number(/NOERROR (\d+)/.exec(out)?.[1] ?? 0);
  const completed = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1]);
  const size = /Average packet size:\s+request (\d+), response (\d+)/.exec(out);
  if (!(qps > 0) || (server !== FLOOR && noerror !== completed)) throw new Error(`dnsperf against ${server}: not all answers were NOERROR\n${out}`);
  return { qps, lost, request: Number(size?.[1]), response: Number(size?.[2]) };
}

const LOADS = ['cookie', 'plain'];
const results = Object.fromEntries(LOADS.map((l) => [l, { registry: [], nsd: [], floor: [], base: [] }]));
/** The whole SRV answer's size and the truncated one's, per server, as dig sees them (cookie load). */
const whole = {};
let rss = {};
try {
  sh(['ip', 'netns', 'add', NS]);
  nsx(['ip', 'link', 'set', 'lo', 'up']);
  nsx(['ip', 'addr', 'add', `${NSD}/8`, 'dev', 'lo']);
  nsx(['ip', 'addr', 'add', `${FLOOR}/8`, 'dev', 'lo']);
  nsx(['ip', 'addr', 'add', `${BASE_ADDR}/8`, 'dev', 'lo']);
  const daemon = start(['node', join(ROOT, 'bin/wgts-userspace'), '-f', IF]);
  await waitFor(`${IF}`, 15_000, () => existsSync(`/var/run/wireguard/${IF}.sock`));
  const conf = ['[Interface]', `PrivateKey = ${randomBytes(32).toString('base64')}`, ''];
  const names = [];
  for (let i = 0; i < PEERS; i++) {
    const key = randomBytes(32);
    conf.push('[Peer]', `PublicKey = ${key.toString('base64')}`, `AllowedIPs = 10.${(i >> 8) & 255}.${i & 255}.1/32`,
      `Endpoint = 198.51.${(i >> 8) & 255}.${i & 255}:${20000 + i}`, '');
    names.push(`${sh(['base32', '-w0'], { input: key }).trim().toLowerCase()}._wireguard._udp.${ZONE}`);
  }
  writeFileSync(join(dir, 'wg.conf'), conf.join('\n'), { mode: 0o600 });
  nsx(['wg', 'setconf', IF, join(dir, 'wg.conf')]);
  nsx(['ip', 'link', 'set', IF, 'up']);
  writeFileSync(join(dir, 'queries'), names.map((n) => `${n} SRV`).join('\n') + '\n');

  const zoneFile = join(dir, `${ZONE}.zone`);
  nsx(['node', join(ROOT, 'bin/wgts'), 'registry', 'export', IF, '--zone', ZONE, '--zone-file', zoneFile, '--ns', 'ns1.example.net']);
  writeFileSync(join(dir, 'nsd.conf'), nsdConf({ dir, address: NSD, zone: ZONE, zoneFile, answerCookie: true }));
  const nsd = start(['nsd', '-d', '-c', join(dir, 'nsd.conf')]);
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', resolve(process.env.BENCH_PROFILE)] : [];
  const registry = start(['node', ...profile, join(ROOT, 'bin/wgts'), 'registry', 'serve', IF, '--zone', ZONE, '--listen', `${REGISTRY}:53`]);
  start(['node', '-e', FLOOR_SERVER]);
  if (BASE) start(['node', join(BASE, 'bin/wgts'), 'registry', 'serve', IF, '--zone', ZONE, '--listen', `${BASE_ADDR}:53`]);
  const probe = (server) => nsx(['dig', `@${server}`, '+short', '+tries=1', '+time=2', names[0], 'SRV']).trim();
  await waitFor('the registry', 20_000, () => probe(REGISTRY));
  await waitFor('nsd', 20_000, () => probe(NSD));
  if (BASE) await waitFor('the base registry', 20_000, () => probe(BASE_ADDR));
  await waitFor('the floor server', 20_000, () => nsx(['ss', '-Hlun', 'src', `${FLOOR}:53`]).trim());
  if (probe(REGISTRY) !== probe(NSD)) throw new Error('the two servers answer differently');
  // The registry's server cookie for the bench's address: one query with a client cookie of ours.
  const digAt = (server, ...args) => nsx(['dig', `@${server}`, '-b', CLIENT, '+tries=1', '+time=2', '+ignore', ...args, names[0], 'SRV']);
  const learned = /^; COOKIE: ([0-9a-f]{48})/m.exec(digAt(REGISTRY, `+cookie=${randomBytes(8).toString('hex')}`))?.[1];
  if (!learned) throw new Error('the registry sent no server cookie');
  // What each server sends for one query of each load: the cookie load must get whole answers.
  for (const [label, server] of [['registry', REGISTRY], ['nsd', NSD]]) {
    for (const load of LOADS) {
      const out = digAt(server, load === 'cookie' ? `+cookie=${learned}` : '+nocookie');
      const tc = /;; flags: [^;]*\btc\b/.test(out);
      const size = Number(/MSG SIZE\s+rcvd: (\d+)/.exec(out)?.[1]);
      whole[`${label} ${load}`] = { tc, size };
      console.log(`${label.padEnd(8)} ${load.padEnd(6)} one SRV answer: ${size} bytes${tc ? ', truncated (TC)' : ''}`);
      if (load === 'cookie' && tc) throw new Error(`${label} truncates an SRV answer to a query with the registry's cookie:\n${out}`);
    }
  }

  for (let round = 0; round < ROUNDS; round++) {
    for (const load of LOADS) {
      for (const [label, server] of [['registry', REGISTRY], ['nsd', NSD], ['floor', FLOOR], ...(BASE ? [['base', BASE_ADDR]] : [])]) {
        const r = dnsperf(server, load === 'cookie' ? learned : null);
        results[load][label].push(r);
        console.log(`round ${round + 1} ${load.padEnd(6)} ${label.padEnd(8)} ${Math.round(r.qps)} queries/s (${r.lost} lost), average response ${r.response} bytes`);
        // dnsperf counts a truncated answer as a NOERROR one: its size tells them apart.
        const one = whole[`${label} ${load}`];
        if (one && load === 'cookie' && r.response < 0.9 * one.size) {
          throw new Error(`${label}: average response ${r.response} bytes < one whole answer's ${one.size}: some answers were cut`);
        }
      }
    }
  }
  const nsdPid = Number(readFileSync(join(dir, 'nsd.pid'), 'utf8'));
  const regPid = Number(sh(['pgrep', '-f', `wgts registry serve ${IF} `]).trim().split('\n')[0]);
  console.log(`registry CPU by thread over the whole run: ${threadCpu(regPid)}`);
  // nsd forks its server and xfrd processes: all of the namespace's processes that are nsd's.
  const nsdProcs = sh(['ip', 'netns', 'pids', NS]).split('\n').filter(Boolean).map(Number)
    .filter((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'latin1').startsWith('nsd'); } catch { return false; } });
  console.log(`nsd CPU by process over the whole run: ${nsdProcs.map((p) => threadCpu(p)).filter(Boolean).join('; ')}`);
  rss = { registry: peakMiB(regPid), nsd: peakMiB(nsdPid), device: peakMiB(Number(sh(['pgrep', '-f', `wgts-userspace -f ${IF}$`]).trim().split('\n')[0])) };
  void daemon;
  void nsd;
  void registry;
} finally {
  await cleanup();
}

const fmt = (xs) => xs.map((r) => Math.round(r.qps / 100) / 10).join(' / ');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const perNsd = (load, label) => results[load][label].map((r, i) => r.qps / results[load].nsd[i].qps);
const text = (xs) => xs.map((x) => x.toFixed(2)).join(' / ');
const rows = LOADS.map((load) => {
  const ratios = perNsd(load, 'registry');
  const sizes = `${Math.round(median(results[load].registry.map((r) => r.response)))} / ${Math.round(median(results[load].nsd.map((r) => r.response)))}`;
  console.log(`\n${load}: registry ${fmt(results[load].registry)} k/s, nsd ${fmt(results[load].nsd)} k/s, ratio ${text(ratios)} (median ${median(ratios).toFixed(2)}); node floor / nsd ${text(perNsd(load, 'floor'))}; average response bytes registry / nsd ${sizes}`);
  if (BASE) console.log(`base registry / nsd ${text(perNsd(load, 'base'))}`);
  return { load, ratios, sizes };
});
console.log(`peak RSS registry ${rss.registry} MiB, nsd ${rss.nsd} MiB`);

if (WRITE) {
  const doc = join(ROOT, 'docs/benchmarks.md');
  const heading = '### Registry with DNS cookies (`npm run bench:registry`)';
  let text2 = readFileSync(doc, 'utf8');
  if (!text2.includes(heading)) {
    text2 = text2.replace(/\n*$/, '\n') + `\n${heading}\n\nAs above, with two loads to every server in each round: "cookie", every query carrying the DNS ` +
      "cookie the registry gave the bench's address (learned with one dig, sent by `dnsperf -E 10:<client+server cookie>`), " +
      'the same query stream to nsd (`answer-cookie: yes`, which answers with its own cookie); and "plain", dnsperf\'s ' +
      'default queries without a cookie, which the registry answers truncated to 3× the query (its amplification bound) and ' +
      'nsd whole. Response bytes = dnsperf\'s average response size, registry / nsd (median of the rounds): in the cookie ' +
      'load the bench stops if it is below one whole SRV answer.\n\n' +
      '| date | commit | machine | peers | seconds | load | registry k queries/s | nsd k queries/s | ratio (median) | floor / nsd | base / nsd | response bytes | RSS MiB registry / nsd |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n';
  }
  let commit = '-';
  try {
    commit = sh(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD']).trim();
  } catch {
    // Not a checkout.
  }
  const machine = `${cpus().length}x ${cpus()[0]?.model.trim().split(' ').slice(0, 2).join(' ') ?? '?'}, Linux ${release()}, node ${process.version}`;
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const lines = rows.map(({ load, ratios, sizes }) =>
    `| ${date} | ${commit} | ${machine} | ${PEERS} | ${SECONDS} | ${load} | ${fmt(results[load].registry)} | ${fmt(results[load].nsd)} | ${text(ratios)} (${median(ratios).toFixed(2)}) | ${text(perNsd(load, 'floor'))} | ${BASE ? text(perNsd(load, 'base')) : '-'} | ${sizes} | ${rss.registry} / ${rss.nsd} |`);
  // Rows go after the last row of this table (prose may follow it).
  const at = text2.indexOf(heading);
  const tail = text2.slice(at).split('\n');
  let last = tail.findIndex((l) => l.startsWith('|---'));
  while (tail[last + 1]?.startsWith('|')) last++;
  tail.splice(last + 1, 0, ...lines);
  writeFileSync(doc, text2.slice(0, at) + tail.join('\n'));
  console.log('added rows to docs/benchmarks.md');
}
