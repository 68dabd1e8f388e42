#!/usr/bin/env node
// Data-plane benchmark (`npm run bench`, as root): TCP throughput (iperf3, both directions) and ping
// RTT through wgts<->wgts, wgts<->wireguard-go@sid, wireguard-go@sid<->wireguard-go@sid (today's
// wireguard-go, Debian sid's package, fetched by scripts/wireguard-go-sid.sh) and
// wireguard-go<->wireguard-go (the host's, bookworm's 0.0.20220316), each pair in two fresh network
// namespaces joined by a veth pair on this machine, in one run; CPU (% of one core) and peak RSS of
// each daemon during the transfer. Prints ratios against wireguard-go@sid (and bookworm's) and
// appends rows to docs/benchmarks.md ("Data plane").
//
//   BENCH_SECONDS=5   iperf3 duration per direction (default 5)
//   BENCH_PAIRS=wgts-wgts,gosid-gosid   run only these pairs (wgts, gosid, go, base)
//   BENCH_ROUNDS=3    rounds (pairs interleaved); the median a->b run is reported
//   BENCH_PROFILE=DIR write V8 CPU profiles of the wgts daemons into DIR (node --cpu-prof)
//   BENCH_BASE=DIR    also run pair base-base: the wgts build in checkout DIR (built there; e.g. a
//                     `git worktree` of the commit before a change), interleaved with the others
//   BENCH_NODE_FLAGS='--max-semi-space-size=2'  node flags for the wgts daemons (not base's)
//   BENCH_FLOOD_RATE=60000  handshake flood (scripts/flood.py: 3/4 valid-mac1 initiations, 1/4 junk,
//                     datagrams/s from a third namespace at side a) while b pings a: the established
//                     peer's RTT under the flood, per pair; 0 skips it
//   --no-write        print only, do not touch docs/benchmarks.md
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const WGTS = join(ROOT, 'bin/wgts-userspace');
const BASE = process.env.BENCH_BASE ? resolve(process.env.BENCH_BASE) : undefined;
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const WRITE = !process.argv.includes('--no-write');
const PROFILE = process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : undefined;
const CLK_TCK = 100;
/** Today's wireguard-go, or undefined (with a warning) when it cannot be fetched. */
const GO_SID = (() => {
  try {
    return execFileSync('bash', [join(ROOT, 'scripts/wireguard-go-sid.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch {
    console.error('bench: today\'s wireguard-go (Debian sid) could not be fetched; its pairs are left out');
    return undefined;
  }
})();
const DAEMON = { go: ['wireguard-go'], gosid: [GO_SID] };
const tag = Math.random().toString(16).slice(2, 8);

const sh = (argv, opts = {}) => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...opts });
const nsx = (ns, argv, opts) => sh(['ip', 'netns', 'exec', ns, ...argv], opts);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.getuid?.() !== 0) {
  console.error('bench: run as root (it creates network namespaces)');
  process.exit(1);
}

function daemonPid(ifname) {
  const out = sh(['pgrep', '-f', `(wgts-userspace|wireguard-go) ${ifname}$`]).trim().split('\n').filter(Boolean);
  return Number(out[0]);
}

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

/** CPU ticks per thread group: 'main' (the JS thread), each named wgts-* I/O worker, 'other' (V8, GC, libuv). */
function threadTicks(pid) {
  const out = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = Number(tid) === pid ? 'main' : comm.startsWith('wgts-') ? comm.slice(5) : 'other';
      out[key] = (out[key] ?? 0) + Number(f[11]) + Number(f[12]);
    } catch {
      // Thread ended meanwhile.
    }
  }
  return out;
}

/** Peak RSS (VmHWM), or the current one (VmRSS) with field 'VmRSS'. */
function rssKiB(pid, field = 'VmHWM') {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Sets up a pair; on failure removes what it made (links first: the daemons exit with their TUN). */
async function setupPair(implA, implB, n) {
  const nsA = `wgd-bench-${tag}-${n}a`;
  const nsB = `wgd-bench-${tag}-${n}b`;
  const side = (ns, impl, i) => ({ ns, impl, ifname: `wgdb${tag}${n}${i}`, port: 51820 + i, outer: `10.98.0.${i}`, inner: `10.0.98.${i}` });
  const a = side(nsA, implA, 1);
  const b = side(nsB, implB, 2);
  try {
    return await buildPair(a, b, n);
  } catch (err) {
    teardown({ a, b });
    await sleep(500);
    deleteNamespaces({ a, b });
    throw err;
  }
}

async function buildPair(a, b, n) {
  const [implA, implB, nsA, nsB] = [a.impl, b.impl, a.ns, b.ns];
  for (const s of [a, b]) {
    sh(['ip', 'netns', 'add', s.ns]);
    sh(['ip', '-n', s.ns, 'link', 'set', 'lo', 'up']);
  }
  sh(['ip', 'link', 'add', `wgdv${tag}${n}a`, 'netns', nsA, 'type', 'veth', 'peer', 'name', `wgdv${tag}${n}b`, 'netns', nsB]);
  const keydir = mkdtempSync(join(tmpdir(), 'wgd-bench-'));
  for (const [s, link] of [[a, `wgdv${tag}${n}a`], [b, `wgdv${tag}${n}b`]]) {
    sh(['ip', '-n', s.ns, 'addr', 'add', `${s.outer}/24`, 'dev', link]);
    sh(['ip', '-n', s.ns, 'link', 'set', link, 'up']);
    const env = { ...process.env };
    delete env.WG_PROCESS_FOREGROUND;
    // The daemon re-runs itself with process.execArgv, so the profiling flags reach the child.
    const bin = s.impl === 'base' ? join(BASE, 'bin/wgts-userspace') : WGTS;
    const flags = [...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []), ...(s.impl === 'wgts' ? NODE_FLAGS : [])];
    const wgts = flags.length > 0 ? [process.execPath, ...flags, bin, s.ifname] : [bin, s.ifname];
    nsx(s.ns, DAEMON[s.impl] ? [...DAEMON[s.impl], s.ifname] : wgts, { env });
    s.key = sh(['wg', 'genkey']).trim();
    s.pub = sh(['wg', 'pubkey'], { input: s.key }).trim();
    s.keyfile = join(keydir, s.ifname);
    writeFileSync(s.keyfile, s.key + '\n', { mode: 0o600 });
  }
  for (const [me, other] of [[a, b], [b, a]]) {
    nsx(me.ns, ['wg', 'set', me.ifname, 'private-key', me.keyfile, 'listen-port', String(me.port),
      'peer', other.pub, 'allowed-ips', `${other.inner}/32`, 'endpoint', `${other.outer}:${other.port}`]);
    sh(['ip', '-n', me.ns, 'addr', 'add', `${me.inner}/24`, 'dev', me.ifname]);
    sh(['ip', '-n', me.ns, 'link', 'set', me.ifname, 'up']);
  }
  rmSync(keydir, { recursive: true, force: true });
  for (let i = 0; ; i++) {
    try {
      nsx(a.ns, ['ping', '-c', '1', '-W', '1', b.inner]);
      break;
    } catch (err) {
      if (i > 20) throw new Error(`${implA}<->${implB}: no handshake`, { cause: err });
    }
  }
  a.pid = daemonPid(a.ifname);
  b.pid = daemonPid(b.ifname);
  return { a, b };
}

function teardown({ a, b }) {
  for (const s of [a, b]) {
    try {
      sh(['ip', '-n', s.ns, 'link', 'del', s.ifname]);
    } catch {
      // Already gone.
    }
  }
}

async function waitExit(pids) {
  for (let i = 0; i < 100 && pids.some((p) => existsSync(`/proc/${p}`)); i++) await sleep(50);
  for (const s of pids) if (existsSync(`/proc/${s}`)) process.kill(s, 'SIGKILL');
}

function deleteNamespaces({ a, b }) {
  for (const s of [a, b]) {
    try {
      sh(['ip', 'netns', 'del', s.ns]);
    } catch {
      // Already gone.
    }
  }
}

/** iperf3 from a to b (or reverse); returns receiver Mbit/s and each daemon's CPU % over the run. */
async function iperf({ a, b }, reverse) {
  const server = spawn('ip', ['netns', 'exec', b.ns, 'iperf3', '-s', '-1'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (nsx(b.ns, ['ss', '-ltn', 'sport = :5201']).includes('5201')) break;
    await sleep(50);
  }
  const t0 = performance.now();
  const c0 = [cpuTicks(a.pid), cpuTicks(b.pid)];
  const th0 = !DAEMON[a.impl] ? threadTicks(a.pid) : undefined;
  const out = await new Promise((res, rej) => {
    const c = spawn('ip', ['netns', 'exec', a.ns, 'iperf3', '-c', b.inner, '-t', String(SECONDS), '-J', ...(reverse ? ['-R'] : [])]);
    let text = '';
    c.stdout.on('data', (d) => (text += d));
    c.on('close', (code) => (code === 0 ? res(text) : rej(new Error(`iperf3 exited ${code}`))));
  });
  const wall = (performance.now() - t0) / 1000;
  const c1 = [cpuTicks(a.pid), cpuTicks(b.pid)];
  const th1 = !DAEMON[a.impl] ? threadTicks(a.pid) : undefined;
  server.kill();
  const threads = th0 && th1
    ? Object.fromEntries(Object.keys(th1).map((k) => [k, ((th1[k] - (th0[k] ?? 0)) / CLK_TCK / wall) * 100]))
    : undefined;
  const json = JSON.parse(out);
  return {
    mbps: json.end.sum_received.bits_per_second / 1e6,
    retrans: json.end.sum_sent.retransmits ?? 0,
    cpu: [0, 1].map((i) => ((c1[i] - c0[i]) / CLK_TCK / wall) * 100),
    threads,
  };
}

const FLOOD_RATE = Number(process.env.BENCH_FLOOD_RATE ?? 60000);

/**
 * b pings a (80 pings, 50 ms apart) while a third namespace floods a with handshake initiations
 * (scripts/flood.py at FLOOD_RATE for 7 s; the pings start after a second of it). Returns the
 * median RTT (ms), the share of pings lost, and what the generator managed to send.
 */
async function floodRtt({ a, b }, n) {
  const nsC = `wgd-bench-${tag}-${n}c`;
  sh(['ip', 'netns', 'add', nsC]);
  try {
    sh(['ip', 'link', 'add', `wgdf${tag}${n}a`, 'netns', a.ns, 'type', 'veth', 'peer', 'name', `wgdf${tag}${n}c`, 'netns', nsC]);
    for (const [ns, link, addr] of [[a.ns, `wgdf${tag}${n}a`, '10.97.0.1/24'], [nsC, `wgdf${tag}${n}c`, '10.97.0.2/24']]) {
      sh(['ip', '-n', ns, 'addr', 'add', addr, 'dev', link]);
      sh(['ip', '-n', ns, 'link', 'set', link, 'up']);
    }
    const gen = spawn('ip', ['netns', 'exec', nsC, 'python3', join(ROOT, 'scripts/flood.py'), '10.97.0.1', String(a.port), a.pub, String(FLOOD_RATE), '7'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let sent = '';
    gen.stdout.on('data', (d) => (sent += d));
    const done = new Promise((r) => gen.on('close', r));
    await sleep(1000);
    let out = '';
    try {
      out = nsx(b.ns, ['ping', '-n', '-c', '80', '-i', '0.05', '-W', '2', a.inner]);
    } catch (err) {
      out = String(err.stdout ?? ''); // every ping lost
    }
    await done;
    const rtts = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((p, q) => p - q);
    return { median: rtts.length ? rtts[Math.floor(rtts.length / 2)] : NaN, loss: 1 - rtts.length / 80, sent: sent.trim() };
  } finally {
    try {
      sh(['ip', 'netns', 'del', nsC]);
    } catch {
      // Already gone.
    }
  }
}


/**
 * Appends table rows at the end of a section of docs/benchmarks.md (the section is the last one
 * the script owns). After a paragraph, the rows start a table of their own with the section's
 * header again: Markdown reads rows that follow text as more text.
 */
function appendToSection(lines, heading, rows) {
  const h = lines.indexOf(heading);
  let end = h + 1;
  while (end < lines.length && !lines[end].startsWith('## ')) end++;
  while (end > h && lines[end - 1].trim() === '') end--;
  const header = lines.slice(h, end).findLastIndex((l) => l.startsWith('| date |'));
  const head = header !== -1 && !lines[end - 1].startsWith('|') ? ['', lines[h + header], lines[h + header + 1]] : [];
  lines.splice(end, 0, ...head, ...rows);
}
function pingRtt({ a, b }) {
  const out = nsx(a.ns, ['ping', '-n', '-q', '-c', '50', '-i', '0.02', b.inner]);
  const m = /= [\d.]+\/([\d.]+)\/[\d.]+\/[\d.]+ ms/.exec(out);
  return m ? Number(m[1]) : NaN;
}

const ALL = [
  ['wgts', 'wgts'],
  ...(GO_SID ? [['wgts', 'gosid'], ['gosid', 'gosid']] : []),
  ['go', 'go'],
  ...(BASE ? [['base', 'base']] : []),
];
const NAMES = { wgts: 'wgts', go: 'wireguard-go', gosid: 'wireguard-go@sid', base: 'wgts@base' };
const wanted = process.env.BENCH_PAIRS ? process.env.BENCH_PAIRS.split(',') : undefined;
const pairs = ALL.filter(([x, y]) => !wanted || wanted.includes(`${x}-${y}`));
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const runs = new Map();
let n = 0;
// Pairs are interleaved round by round, so a burst of load from elsewhere on the machine hits them alike.
for (let round = 0; round < ROUNDS; round++) {
  for (const [x, y] of pairs) {
    const label = `${NAMES[x]}<->${NAMES[y]}`;
    process.stderr.write(`bench: round ${round + 1}/${ROUNDS} ${label} ...\n`);
    const pair = await setupPair(x, y, n++);
    try {
      // Idle: after the handshake and one ping, before any load.
      const idle = [rssKiB(pair.a.pid, 'VmRSS'), rssKiB(pair.b.pid, 'VmRSS')];
      const rtt = pingRtt(pair);
      const fwd = await iperf(pair, false);
      const rev = await iperf(pair, true);
      const rss = [rssKiB(pair.a.pid), rssKiB(pair.b.pid)];
      const flood = FLOOD_RATE > 0 ? await floodRtt(pair, n) : undefined;
      if (!runs.has(label)) runs.set(label, []);
      runs.get(label).push({ label, x, y, rtt, fwd, rev, rss, idle, flood });
    } finally {
      const pids = [pair.a.pid, pair.b.pid];
      teardown(pair);
      await waitExit(pids);
      deleteNamespaces(pair);
    }
  }
}
const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor((xs.length - 1) / 2)];
/**
 * The run with the median a->b throughput stands for its pair (its CPU comes with it); b->a and the
 * RTT are medians over the runs of their own (one run's 50 pings swing with the machine's load).
 */
const results = [...runs.values()].map((rs) => {
  const sorted = [...rs].sort((p, q) => p.fwd.mbps - q.fwd.mbps);
  const med = sorted[Math.floor((sorted.length - 1) / 2)];
  return {
    ...med,
    rev: { ...med.rev, mbps: median(rs.map((r) => r.rev.mbps)) },
    rtt: median(rs.map((r) => r.rtt).filter(Number.isFinite)),
    all: rs.map((r) => r.fwd.mbps),
    rtts: rs.map((r) => r.rtt),
  };
});

/** Ratios are against today's wireguard-go; bookworm's stays as a second column. */
const base = results.find((r) => r.x === 'gosid' && r.y === 'gosid');
const old = results.find((r) => r.x === 'go' && r.y === 'go');
/** Peak RSS a/b, the idle RSS (median over the runs, to 0.1 MiB: it has a bound of 50) in parentheses: "134 (49.7) / 177 (49.7)". */
const rssCell = (r) => [0, 1].map((i) => {
  const idle = runs.get(r.label).map((x) => x.idle[i]).sort((p, q) => p - q);
  return `${fmt(r.rss[i] / 1024)} (${fmt(idle[Math.floor((idle.length - 1) / 2)] / 1024, 1)})`;
}).join(' / ');
const fmt = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '-');
const ratio = (r, to = base) => (to ? `${fmt(r.fwd.mbps / to.fwd.mbps, 2)} / ${fmt(r.rev.mbps / to.rev.mbps, 2)}` : '-');
const rttRatio = (r) => (base ? fmt(r.rtt / base.rtt, 2) : '-');
console.log(`\n${'pair'.padEnd(36)} ${'a->b Mbit/s'.padStart(12)} ${'b->a Mbit/s'.padStart(12)} ${'ratio@sid'.padStart(12)} ${'ratio@bookworm'.padStart(15)} ${'RTT ms'.padStart(8)} ${'RTT@sid'.padStart(8)}  CPU% a/b (a->b)  RSS MiB a/b`);
for (const r of results) {
  if (r.fwd.threads) {
    const t = Object.entries(r.fwd.threads).sort((p, q) => q[1] - p[1]).map(([k, v]) => `${k} ${fmt(v)}%`).join(', ');
    const rss = runs.get(r.label).map((x) => `${fmt(x.idle[0] / 1024, 1)}->${fmt(x.rss[0] / 1024)}`).join(' ');
    console.log(`  ${r.label} a->b runs ${r.all.map((v) => fmt(v)).join('/')} Mbit/s; RTT runs ${r.rtts.map((v) => fmt(v, 2)).join('/')} ms; a RSS MiB idle->peak ${rss}; wgts (a) CPU by thread: ${t}`);
  }
}
for (const r of results) {
  console.log(`${r.label.padEnd(36)} ${fmt(r.fwd.mbps).padStart(12)} ${fmt(r.rev.mbps).padStart(12)} ${ratio(r).padStart(12)} ${ratio(r, old).padStart(15)} ${fmt(r.rtt, 3).padStart(8)} ${rttRatio(r).padStart(8)}  ${fmt(r.fwd.cpu[0])}/${fmt(r.fwd.cpu[1])}`.padEnd(128) + `  ${rssCell(r)}`);
}

/** Under the flood: each pair's median over its rounds (a = the flooded target). */
const floods = FLOOD_RATE > 0 ? [...runs.values()].map((rs) => {
  const med = (f) => { const v = rs.map(f).sort((p, q) => p - q); return v[Math.floor((v.length - 1) / 2)]; };
  return { label: rs[0].label, x: rs[0].x, median: med((r) => r.flood.median), loss: med((r) => r.flood.loss), sent: rs.map((r) => r.flood.sent).join('; ') };
}) : [];
const floodBase = floods.find((f) => f.x === 'gosid');
const floodOld = floods.find((f) => f.x === 'go');
const floodRatio = (f, to) => (to ? fmt(f.median / to.median, 2) : '-');
if (floods.length > 0) {
  console.log(`\nestablished-peer RTT under a ${FLOOD_RATE}/s handshake flood of a (median over rounds; ratio to wireguard-go@sid, bookworm's):`);
  for (const f of floods) {
    console.log(`${f.label.padEnd(36)} ${fmt(f.median, 2).padStart(9)} ms  loss ${fmt(100 * f.loss)}%  ratio ${floodRatio(f, floodBase)} / ${floodRatio(f, floodOld)}  (generator: ${f.sent})`);
  }
}

if (WRITE) {
  const doc = join(ROOT, 'docs/benchmarks.md');
  const heading = '## Data plane against today\'s wireguard-go (`npm run bench`)';
  let text = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n';
  if (!text.includes(heading)) {
    // The section goes before the first other section: scripts that append to the end of the file
    // (bench-startup.sh) then keep landing in their own table.
    const first = text.indexOf('\n## ');
    const tail = first === -1 ? '' : text.slice(first + 1);
    text = (first === -1 ? text : text.slice(0, first + 1));
    text += `\n${heading}\n\nscripts/bench.mjs: two namespaces joined by a veth pair per implementation pair, iperf3 TCP ` +
      `(one stream, each way) and 50 pings through the tunnel, pairs interleaved over several rounds, median run shown (RTT: median over the runs); ` +
      'CPU is % of one core per daemon during a->b, RSS is the daemon\'s peak (VmHWM), in parentheses its RSS when ' +
      'idle (handshake done, before the load); the last column splits the wgts daemon\'s CPU by thread (main = the JS ' +
      'thread with the protocol and crypto; rx/tx = the reader and writer I/O workers, mostly kernel time in their ' +
      'syscalls; other = V8 and GC threads). ' +
      'Ratio = throughput / wireguard-go@sid<->wireguard-go@sid (Debian sid\'s 0.0.20250522, with batched I/O and ' +
      'offloads) in the same run (a->b / b->a); the bookworm column divides by bookworm\'s wireguard-go 0.0.20220316; ' +
      'RTT@sid = RTT / wireguard-go@sid\'s.\n\n' +
      '| date | commit | machine | pair | a->b Mbit/s | b->a Mbit/s | ratio | ratio@bookworm | RTT ms | RTT@sid | CPU % a/b | RSS MiB a/b | wgts (a) CPU % by thread, a->b |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n';
    writeFileSync(doc, text + (tail ? `\n${tail}` : ''));
  }
  let commit = '-';
  try {
    commit = sh(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD']).trim();
  } catch {
    // Not a checkout.
  }
  const machine = `${cpus().length}x ${cpus()[0]?.model.trim() ?? '?'}, Linux ${release()}, node ${process.version}`;
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const rows = results.map((r) =>
    `| ${date} | ${commit} | ${machine} | ${r.label} | ${fmt(r.fwd.mbps)} | ${fmt(r.rev.mbps)} | ${ratio(r)} | ${ratio(r, old)} | ${fmt(r.rtt, 3)} | ${rttRatio(r)} | ` +
    `${fmt(r.fwd.cpu[0])}/${fmt(r.fwd.cpu[1])} | ${rssCell(r)} | ` +
    `${r.fwd.threads ? Object.entries(r.fwd.threads).sort((p, q) => q[1] - p[1]).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') : '-'} |`);
  const lines = readFileSync(doc, 'utf8').split('\n');
  appendToSection(lines, heading, rows);
  writeFileSync(doc, lines.join('\n').replace(/\n*$/, '\n'));
  console.log(`\nappended ${rows.length} rows to docs/benchmarks.md`);
  if (floods.length > 0) {
    const fh = '## Handshake flood: established-peer RTT (`npm run bench`)';
    const ls = readFileSync(doc, 'utf8').split('\n');
    if (!ls.includes(fh)) {
      // Right after the data-plane section (appending at the end would land in another script's table).
      let at = ls.indexOf(heading) + 1;
      while (at < ls.length && !ls[at].startsWith('## ')) at++;
      ls.splice(at, 0, fh, '', 'scripts/bench.mjs with BENCH_FLOOD_RATE (default 60000): while a third namespace floods side a ' +
        'with scripts/flood.py (three of four datagrams handshake initiations with a valid mac1, one junk; the rate ' +
        'the generator reached is noted), b pings a through the tunnel (80 pings, 50 ms apart). Median over the ' +
        'rounds; ratio = median RTT / wireguard-go@sid\'s in the same run, ratio@bookworm the same against bookworm\'s ' +
        'wireguard-go 0.0.20220316.', '',
        '| date | commit | machine | pair (a flooded) | flood/s | median RTT ms | loss % | ratio | ratio@bookworm | generator |',
        '|---|---|---|---|---|---|---|---|---|---|', '');
    }
    appendToSection(ls, fh, floods.map((f) =>
      `| ${date} | ${commit} | ${machine} | ${f.label} | ${FLOOD_RATE} | ${fmt(f.median, 2)} | ${fmt(100 * f.loss)} | ${floodRatio(f, floodBase)} | ${floodRatio(f, floodOld)} | ${f.sent} |`));
    writeFileSync(doc, ls.join('\n').replace(/\n*$/, '\n'));
  }
}
