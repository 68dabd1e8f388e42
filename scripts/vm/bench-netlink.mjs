#!/usr/bin/env node
// Kernel netlink benchmark: bundles test/kernel/bench-netlink.ts, runs it in the test VM
// (test/kernel/run-vm.sh) and appends a row to docs/benchmarks.md, section "Kernel netlink".
// Run as root after `npm run build`: node scripts/vm/bench-netlink.mjs  (BENCH_PEERS, BENCH_RUNS)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleOptions } from '../build-options.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(repo, '.vm-cache', 'bench', 'bench-netlink.mjs');
mkdirSync(dirname(out), { recursive: true });
await build({
  entryPoints: [join(repo, 'test/kernel/bench-netlink.ts')],
  outfile: out,
  ...bundleOptions,
});

// The bundle lives under .vm-cache; node resolves `netlink` from the repo's node_modules via NODE_PATH.
// run-vm.sh passes only WGTS_* into the VM: BENCH_RUNS and BENCH_PEERS go on the command line.
const benchEnv = ['BENCH_RUNS', 'BENCH_PEERS'].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`);
const text = execFileSync(
  'bash',
  [join(repo, 'test/kernel/run-vm.sh'), 'env', `NODE_PATH=${join(repo, 'node_modules')}`, ...benchEnv, 'node', out],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 },
);
process.stdout.write(text);
const line = text.split('\n').find((l) => l.startsWith('@@BENCH '));
if (!line) throw new Error('no @@BENCH line in the VM output');
const r = JSON.parse(line.slice('@@BENCH '.length));

const commit = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
const date = new Date().toISOString().slice(0, 10);
const x = (a, b) => (a / b).toFixed(2);
const row =
  `| ${date} | ${commit} | ${r.kernel} | ${r.peers} | ${r.nodeStart} | ${r.wgtsVersion} ` +
  `| ${r.wgSetconf} | ${r.wgtsSetconf} (${x(r.wgtsSetconf, r.wgSetconf)}×) | ${r.libParse} + ${r.libSet} ` +
  `| ${r.wgShowconf} | ${r.wgtsShowconf} (${x(r.wgtsShowconf, r.wgShowconf)}×) | ${r.wgDump} | ${r.wgtsDump} (${x(r.wgtsDump, r.wgDump)}×) ` +
  `| ${r.libGet} + ${r.libFormat} | ${r.sameState} |`;

const docPath = join(repo, 'docs', 'benchmarks.md');
let doc = readFileSync(docPath, 'utf8');
const heading = '## Kernel netlink (`node scripts/vm/bench-netlink.mjs`)';
if (!doc.includes(heading)) {
  doc +=
    `\n${heading}\n\n` +
    'A 10,000-peer configuration (bigConfig in test/kernel/helpers.ts: PSK on every 3rd peer, IPv4/IPv6\n' +
    'endpoints, 1-3 allowed IPs each) set and read back through generic netlink on Debian\'s kernel in the\n' +
    'test VM (qemu TCG, 2 vCPUs, no KVM — absolute times are ~10-20× native; compare within a row).\n' +
    'All times are milliseconds, median of the runs, wall clock of a fresh process unless marked "lib"\n' +
    '(in-process library calls: no node start, no module load). `wg` is Debian\'s 1.0.20210914.\n' +
    'Startup: `node -e 0` is the floor of any Node CLI; `wgts --version` adds loading the bundle.\n\n' +
    '| date | commit | kernel | peers | node -e 0 | wgts --version | wg setconf | wgts setconf | lib parse + set ' +
    '| wg showconf | wgts showconf | wg show dump | wgts show dump | lib get + format | same state |\n' +
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n';
}
// Insert after the last row of this section's table (other sections may follow it).
const at = doc.indexOf(heading);
const next = doc.indexOf('\n## ', at + heading.length);
const end = next < 0 ? doc.length : next;
const lastRow = doc.lastIndexOf('\n|', end - 1);
const eol = doc.indexOf('\n', lastRow + 1);
doc = doc.slice(0, eol + 1) + row + '\n' + doc.slice(eol + 1);
writeFileSync(docPath, doc);
console.log(row);
