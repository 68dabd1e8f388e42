/**
 * 10,000-peer get and set through netlink: wgts against `wg`, in the same VM, startup broken out.
 * Not a test: scripts/vm/bench-netlink.mjs bundles this file, runs it in the VM and records the
 * result in docs/benchmarks.md ("Kernel netlink"). Prints one `@@BENCH {json}` line.
 *
 * Each figure is the median of RUNS wall-clock runs of a fresh process (what a user sees), plus
 * in-process timings of the library calls (no node start, no module load) to show where time goes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../../src/conf/parse.js';
import { formatConfig } from '../../src/conf/write.js';
import { NetlinkBackend } from '../../src/netlink/backend.js';
import { createLink } from '../../src/netlink/rtnl.js';
import { bigConfig, WGTS } from './helpers.js';
import { SYSTEM_IO } from '../../src/system/conf-io.js';

const PEERS = Number(process.env.BENCH_PEERS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Wall-clock ms of a process run to completion (must succeed), median of RUNS. */
function timeProcess(argv: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 30 });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  }
  return median(times);
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

const node = process.execPath;
const conf = '/tmp/bench.conf';
const text = bigConfig(PEERS, 'bench');
writeFileSync(conf, text);
await createLink('wgk0');
await createLink('wgk1');

const backend = new NetlinkBackend();
const r = (x: number) => Math.round(x);
const result: Record<string, number | string> = {
  peers: PEERS,
  runs: RUNS,
  node: process.version,
  kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
};

// Startup: the floor every Node CLI pays, and wgts' own module load.
result.nodeStart = r(timeProcess([node, '-e', '0']));
result.wgtsVersion = r(timeProcess([node, WGTS, '--version']));

// SET (setconf of the whole file: parse + ~300 messages, each acknowledged).
result.wgSetconf = r(timeProcess(['wg', 'setconf', 'wgk0', conf]));
result.wgtsSetconf = r(timeProcess([node, WGTS, 'setconf', 'wgk1', conf]));
let parsed = await parseConfig(text, { file: conf, ...SYSTEM_IO });
result.libParse = r(await timeAsync(async () => (parsed = await parseConfig(text, { file: conf, ...SYSTEM_IO }))));
parsed.name = 'wgk1';
parsed.replacePeers = true;
result.libSet = r(await timeAsync(() => backend.set(parsed)));

// GET (dump of ~10,000 peers, coalesced, printed as showconf).
result.wgShowconf = r(timeProcess(['wg', 'showconf', 'wgk0']));
result.wgtsShowconf = r(timeProcess([node, WGTS, 'showconf', 'wgk1']));
result.wgDump = r(timeProcess(['wg', 'show', 'wgk0', 'dump']));
result.wgtsDump = r(timeProcess([node, WGTS, 'show', 'wgk1', 'dump']));
let got = await backend.get('wgk1');
result.libGet = r(await timeAsync(async () => (got = await backend.get('wgk1'))));
result.libFormat = r(await timeAsync(async () => formatConfig(got)));
if (got.peers.length !== PEERS) throw new Error(`get returned ${got.peers.length} peers`);
// Sanity: both devices hold the same configuration.
const a = execFileSync('wg', ['showconf', 'wgk0'], { encoding: 'utf8', maxBuffer: 1 << 30 });
const b = execFileSync('wg', ['showconf', 'wgk1'], { encoding: 'utf8', maxBuffer: 1 << 30 });
result.sameState = a === b ? 'yes' : 'NO';

console.log(`@@BENCH ${JSON.stringify(result)}`);
