/**
 * Runs wg-quick or `wgts quick` against one config inside a FRESH network namespace created for that
 * run, and a private mount namespace (tmpfs on /run/wireguard, so UAPI sockets never meet another
 * test's; tmpfs on /etc/iproute2/rt_tables.d for a named table; a fake resolvconf on PATH that logs
 * its arguments and input). Each run: setup → snapshot → up → snapshot (+ showconf) → extra commands
 * → [save] → down → snapshot. The snapshot is every piece of state wg-quick touches: links, addresses,
 * routes of every table, rules, the nft ruleset, iptables, and the sysctls.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { build, type BuildOptions } from 'esbuild';
import { afterAll, beforeAll } from 'vitest';
import { bundleOptions, buildWorkers } from '../../../scripts/build-options.mjs';
import { LAB_NETNS_PREFIX, labNetnsName, removeNetnsSync } from '../helpers/netns.js';

export const REPO = resolve(import.meta.dirname, '../../..');

/** A private directory for the built CLI, under node_modules/ so its external packages resolve. */
export function binDir(): string {
  const parent = join(REPO, 'node_modules', '.cache');
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(join(parent, 'wgq-bin-'));
}

/** Builds the CLI into a private directory (never races another suite's `npm run build`). */
export async function buildWgts(dir: string): Promise<string> {
  const options: BuildOptions = bundleOptions; // the same options as scripts/build.mjs, without splitting
  // wgts-userspace beside wgts: `wgts quick up` finds it there first, as installed.
  await Promise.all([
    build({ ...options, entryPoints: [join(REPO, 'src/cli/main.ts')], outfile: join(dir, 'wgts.mjs') }),
    build({ ...options, entryPoints: [join(REPO, 'src/userspace-fallback/daemon.ts')], outfile: join(dir, 'wgts-userspace.mjs') }),
    buildWorkers(REPO, dir),
  ]);
  for (const name of ['wgts', 'wgts-userspace']) {
    const file = join(dir, name);
    writeFileSync(file, `#!/usr/bin/env node\nimport { main } from './${name}.mjs';\nprocess.exitCode = await main(process.argv.slice(1));\n`);
    chmodSync(file, 0o755);
  }
  return join(dir, 'wgts');
}

/** Builds `wgts` once for a test file (beforeAll) and removes it after; returns a getter for its path. */
export function useWgts(): () => string {
  let dir = '';
  let bin = '';
  beforeAll(async () => {
    dir = binDir();
    bin = await buildWgts(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return () => bin;
}

export function uniqueName(prefix = 'wgq'): string {
  return `${prefix}${randomBytes(3).toString('hex')}`;
}

export function genKeyPair(): { priv: string; pub: string } {
  const priv = execFileSync('wg', ['genkey'], { encoding: 'utf8' }).trim();
  const pub = execFileSync('wg', ['pubkey'], { input: priv, encoding: 'utf8' }).trim();
  return { priv, pub };
}

export interface RunSpec {
  /** `wg-quick` or the path of our `wgts` (run as `wgts quick`). */
  tool: 'wg-quick' | string;
  ifname: string;
  config: string;
  /** Shell run after up (and its snapshot), before down, e.g. `wg set $IF peer ... allowed-ips ...`. */
  between?: string;
  /** Run `save` after `between`, and capture the file. */
  save?: boolean;
  /** Extra shell run during setup (after the base network). */
  setup?: string;
  /** Skip `down` (e.g. rollback tests where up failed). */
  noDown?: boolean;
  /** More config files next to the main one (name → text), e.g. a second tunnel. */
  files?: Record<string, string>;
  /** Shell run at the very end (after the last snapshot), e.g. to take down a second tunnel. */
  after?: string;
  /** Extra arguments after `up NAME` (e.g. --nat-via). */
  upArgs?: string[];
  env?: Record<string, string>;
  /** The userspace implementation; `null` leaves WG_QUICK_USERSPACE_IMPLEMENTATION unset (wgts' default). */
  impl?: string | null;
  /** `hidden`: nft not executable (wg-quick then uses iptables-restore); `failing`: `nft -f` fails. */
  nft?: 'hidden' | 'failing';
  /** `failing`: `resolvconf -a` fails; `absent`: no resolvconf at all (not even the fake). */
  resolvconf?: 'failing' | 'absent';
  /** Programs of /usr/sbin made absent. */
  hide?: string[];
  /** A fake `resolvectl` on PATH that logs its changes (to the resolvconf log) and answers `dns|domain IF`. */
  fakeResolvectl?: boolean;
  /**
   * Run every `wgts quick` (not wg-quick, not the scenario's own shell) in a private mount namespace
   * where each `ip` binary is bind-mounted over by a recorder that logs its arguments and fails:
   * RunResult.ipCalls must stay empty. `trapCheck` proves the trap works (an `ip` run under it).
   */
  noIp?: boolean;
}

export interface RunResult {
  before: string;
  afterUp: string;
  afterDown: string;
  upRc: number;
  upErr: string;
  upOut: string;
  downRc: number;
  downErr: string;
  downOut: string;
  showconf: string;
  saved: string;
  strip: string;
  stripRc: number;
  resolvconfLog: string;
  configAfter: string;
  /** Whatever the scenario's shell wrote to $OUT/extra. */
  extra: string;
  /** noIp: the `ip` invocations recorded while wgts ran (one line each), and the trap's self-check. */
  ipCalls: string;
  trapCheck: string;
}

const SNAPSHOT = String.raw`
snapshot() {
  echo '## links'; ip -o link show | sed -E 's/ +/ /g'
  echo '## addresses'; ip -o addr show | sed -E 's/ +/ /g'
  echo '## routes4'; ip -4 route show table all
  echo '## routes6'; ip -6 route show table all
  echo '## rules4'; ip -4 rule show
  echo '## rules6'; ip -6 rule show
  echo '## nft'; nft list ruleset 2>&1
  echo '## iptables'; iptables-save 2>/dev/null | grep -v '^#'; ip6tables-save 2>/dev/null | grep -v '^#'
  echo '## sysctl'; sysctl net.ipv4.conf.all.src_valid_mark net.ipv4.ip_forward net.ipv6.conf.all.forwarding
}
`;

/**
 * Shell that makes programs absent in this mount namespace (bash's `type -p` still finds a
 * non-executable file, so they must really go): /usr/sbin and /usr/bin, where they hold one of them,
 * are replaced by directories of links to all the others.
 */
function hidePrograms(work: string, names: string[]): string {
  const test = names.map((n) => `[ "\${f##*/}" = ${n} ]`).join(' || ');
  return ['sbin', 'bin']
    .map(
      (d) => `if ls ${names.map((n) => `/usr/${d}/${n}`).join(' ')} 2>/dev/null | grep -q .; then
mkdir ${work}/orig-${d} ${work}/${d} && mount --bind /usr/${d} ${work}/orig-${d} &&
for f in ${work}/orig-${d}/*; do ${test} || ln -s "$f" ${work}/${d}/; done &&
mount --bind ${work}/${d} /usr/${d}
fi`,
    )
    .join('\n');
}

/** Runs one scenario in its own network namespace (created and deleted here). */
export function runScenario(spec: RunSpec): RunResult {
  const work = mkdtempSync(join(tmpdir(), 'wgq-run-'));
  const ns = labNetnsName(`quick-${randomBytes(4).toString('hex')}`);
  const confDir = join(work, 'etc');
  mkdirSync(confDir, { mode: 0o700 });
  const confPath = join(confDir, `${spec.ifname}.conf`);
  writeFileSync(confPath, spec.config, { mode: 0o600 });
  for (const [name, text] of Object.entries(spec.files ?? {})) writeFileSync(join(confDir, name), text, { mode: 0o600 });
  const fakeBin = join(work, 'fakebin');
  mkdirSync(fakeBin);
  writeFileSync(
    join(fakeBin, 'resolvconf'),
    `#!/bin/bash\n{ printf 'resolvconf'; printf ' %s' "$@"; echo; [[ $1 == -a ]] && cat; } >> ${join(work, 'resolvconf.log')}\n` +
      (spec.resolvconf === 'failing' ? `[[ $1 == -a ]] && { echo 'resolvconf: injected failure' >&2; exit 1; }\n` : '') +
      'exit 0\n',
  );
  if (spec.fakeResolvectl) {
    // changes are logged and kept; `resolvectl dns|domain IF` answers from what was kept, as resolved does
    const st = join(work, 'resolved');
    writeFileSync(
      join(fakeBin, 'resolvectl'),
      `#!/bin/bash\nif [[ $# == 2 && ( $1 == dns || $1 == domain ) ]]; then printf 'Link 9 (%s):' "$2"; [ -f ${st}.$1 ] && printf ' %s' $(cat ${st}.$1); echo; exit 0; fi\n` +
        `{ printf 'resolvectl'; printf ' %s' "$@"; echo; } >> ${join(work, 'resolvconf.log')}\n` +
        `case $1 in dns|domain) echo "\${@:3}" > ${st}.$1;; revert) rm -f ${st}.*;; esac\n`,
    );
    chmodSync(join(fakeBin, 'resolvectl'), 0o755);
  }
  if (spec.nft === 'failing') {
    writeFileSync(join(fakeBin, 'nft'), `#!/bin/bash\n[[ $1 == -f ]] && { echo 'nft: injected failure' >&2; exit 1; }\nexec /usr/sbin/nft "$@"\n`);
    chmodSync(join(fakeBin, 'nft'), 0o755);
  }
  chmodSync(join(fakeBin, 'resolvconf'), 0o755);
  if (spec.resolvconf === 'absent') rmSync(join(fakeBin, 'resolvconf'));
  if (spec.noIp) {
    writeFileSync(join(work, 'ip-trap'), `#!/bin/sh\necho "ip $*" >> ${join(work, 'ip-calls')}\necho 'ip: blocked by the test' >&2\nexit 1\n`);
    chmodSync(join(work, 'ip-trap'), 0o755);
    // every ip on PATH or in the usual places, through symlinks (/sbin -> usr/sbin, /usr/sbin/ip -> /bin/ip)
    writeFileSync(
      join(work, 'no-ip'),
      `#!/bin/bash\nfor f in $(type -ap ip) /usr/bin/ip /usr/sbin/ip /bin/ip /sbin/ip /usr/local/bin/ip /usr/local/sbin/ip; do\n` +
        `  [ -e "$f" ] || continue\n  mount --bind ${join(work, 'ip-trap')} "$(readlink -f "$f")" || exit 99\ndone\nexec "$@"\n`,
    );
    chmodSync(join(work, 'no-ip'), 0o755);
  }
  const noIp = spec.noIp ? `unshare -m ${join(work, 'no-ip')} ` : '';
  const cmdOf = (action: string): string =>
    spec.tool === 'wg-quick' ? `wg-quick ${action}` : `${noIp}${spec.tool} quick ${action}`;
  const out = (n: string): string => join(work, n);
  const script = String.raw`
set -u
mkdir -p /run/wireguard && mount -t tmpfs tmpfs /run/wireguard
# the kernel VM's minimal /dev has no /dev/fd, which bash's <(…) (and so wg-quick) needs
[ -n "${'$'}{WGTS_IN_VM:-}" ] && [ ! -e /dev/fd ] && ln -s /proc/self/fd /dev/fd
mkdir -p /etc/iproute2/rt_tables.d && mount -t tmpfs tmpfs /etc/iproute2/rt_tables.d
echo '1234 wgqtab' > /etc/iproute2/rt_tables.d/wgq.conf
${spec.nft === 'hidden' || spec.hide ? hidePrograms(work, [...(spec.nft === 'hidden' ? ['nft'] : []), ...(spec.hide ?? [])]) : ''}
export PATH=${fakeBin}:$PATH WGTS_QUICK_STATE_DIR=${join(work, 'state')} WG_QUICK_USERSPACE_IMPLEMENTATION=${'${WG_QUICK_USERSPACE_IMPLEMENTATION:-wireguard-go}'}
export LOG_LEVEL=silent OUT=${work}
${spec.impl === null ? 'unset WG_QUICK_USERSPACE_IMPLEMENTATION' : spec.impl ? `export WG_QUICK_USERSPACE_IMPLEMENTATION=${spec.impl}` : ''}
IF=${spec.ifname}
CONF=${confPath}
ip link set lo up
sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
ip link add wgqd0 type veth peer name wgqd1
ip link set wgqd1 up
ip link set wgqd0 mtu 1400 up
ip addr add 192.168.77.1/24 dev wgqd0
ip -6 addr add fd77::1/64 dev wgqd0 nodad
ip route add default via 192.168.77.254 dev wgqd0
ip -6 route add default via fd77::fe dev wgqd0
# the veth pair gets its carrier and link-local addresses asynchronously: let it settle before "before"
for i in $(seq 100); do
  s=$(ip -o addr show; ip -o link show)
  [[ $s != *NO-CARRIER* && $s != *tentative* && $(ip -o -6 addr show dev wgqd1) == *fe80::* ]] && break
  sleep 0.02
done
${spec.setup ?? ''}
${SNAPSHOT}
snapshot > ${out('before')}
${cmdOf('strip')} $CONF > ${out('strip')} 2>&1; echo $? > ${out('strip.rc')}
${cmdOf('up')} $CONF ${(spec.upArgs ?? []).join(' ')} > ${out('up.out')} 2> ${out('up.err')}; echo $? > ${out('up.rc')}
# a userspace device binds its (random) port asynchronously after link up: wait for it, 2 s at most
for i in $(seq 40); do p=$(wg show $IF listen-port 2>/dev/null) || break; [ "$p" != 0 ] && break; sleep 0.05; done
# the tunnel's IPv6 link-local address stays tentative for a moment after link up: let it settle
for i in $(seq 100); do [[ $(ip -o addr show) != *tentative* ]] && break; sleep 0.02; done
snapshot > ${out('afterUp')}
wg showconf $IF 2>/dev/null | sed -E 's/^ListenPort = .*/ListenPort = <port>/' > ${out('showconf')}
${spec.between ?? ''}
${spec.save ? `${cmdOf('save')} $CONF > /dev/null 2>&1; cp $CONF ${out('saved')}` : ''}
${spec.noDown ? '' : `${cmdOf('down')} $CONF > ${out('down.out')} 2> ${out('down.err')}; echo $? > ${out('down.rc')}`}
snapshot > ${out('afterDown')}
cp $CONF ${out('configAfter')}
${spec.after ?? ''}
${spec.noIp ? `touch ${out('ip-calls')}; cp ${out('ip-calls')} ${out('ip-calls.wgts')}; ${noIp}ip -V > /dev/null 2>&1; echo "rc=$?" >> ${out('ip-calls')}; mv ${out('ip-calls')} ${out('trap-check')}` : ''}
# a daemon whose link is gone exits by itself; wait for it so the namespace is left clean
for i in $(seq 50); do [ -z "$(ls /run/wireguard)" ] && break; sleep 0.05; done
`;
  try {
    execFileSync('ip', ['netns', 'add', ns]);
    spawnSync('ip', ['netns', 'exec', ns, 'unshare', '-m', 'bash', '-c', script], {
      env: { ...process.env, ...spec.env },
      stdio: 'ignore',
      // TCG emulation in the kernel VM makes every process start slow
      timeout: process.env.WGTS_IN_VM ? 400_000 : 60_000,
    });
    const read = (n: string): string => (existsSync(out(n)) ? readFileSync(out(n), 'utf8') : '');
    return {
      before: read('before'),
      afterUp: read('afterUp'),
      afterDown: read('afterDown'),
      upRc: Number(read('up.rc') || -1),
      upErr: read('up.err'),
      upOut: read('up.out'),
      downRc: Number(read('down.rc') || -1),
      downErr: read('down.err'),
      downOut: read('down.out'),
      showconf: read('showconf'),
      saved: read('saved'),
      strip: read('strip'),
      stripRc: Number(read('strip.rc') || -1),
      resolvconfLog: read('resolvconf.log'),
      configAfter: read('configAfter'),
      extra: read('extra'),
      ipCalls: read('ip-calls.wgts'),
      trapCheck: read('trap-check'),
    };
  } finally {
    removeNetnsSync(ns); // a daemon of a run cut short by the timeout, too
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Masks what differs between two identical runs: link-local addresses (random on a TUN), MACs,
 * lifetimes; and sorts the lines of the address and route sections, whose listing order follows
 * those random addresses (rules, nft and everything else keep their order).
 */
export function maskVolatile(s: string): string {
  const masked = s
    .replace(/fe80::[0-9a-f:]+/g, 'fe80::<ll>')
    .replace(/link\/ether [0-9a-f:]+ brd/g, 'link/ether <mac> brd')
    .replace(/(valid_lft|preferred_lft) \S+/g, '$1 <t>')
    .replace(new RegExp(`${LAB_NETNS_PREFIX}\\d+-quick-[0-9a-f]+`, 'g'), '<ns>');
  return masked
    .split(/(?=^## )/m)
    .map((section) => {
      if (!/^## (addresses|routes[46])\n/.test(section)) return section;
      const [title, ...lines] = section.split('\n');
      const tail = lines[lines.length - 1] === '' ? lines.pop() : undefined;
      return [title, ...lines.sort(), ...(tail !== undefined ? [tail] : [])].join('\n');
    })
    .join('');
}

/**
 * What "down leaves the namespace as it was" may differ in, with wg-quick as with wgts:
 * src_valid_mark is never reverted (wg-quick's choice, kept); iptables(-nft) leaves the built-in
 * tables and chains it created, empty with ACCEPT policies (as good as absent), after `-D` removed
 * the last rule — nothing in iptables can delete a built-in table.
 */
export function asBefore(s: string): string {
  return s
    .replace(/net\.ipv4\.conf\.all\.src_valid_mark = \d/, 'net.ipv4.conf.all.src_valid_mark = <x>')
    .replace(/^\*\w+\n(:\S+ ACCEPT \[\d+:\d+\]\n)*COMMIT\n/gm, '')
    .replace(/^table ip6? (filter|nat|mangle|raw) \{\n(\tchain \w+ \{\n\t\ttype [^\n]*policy accept;\n\t\}\n\n?)*\}\n/gm, '');
}
