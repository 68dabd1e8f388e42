/**
 * A throwaway network lab for the registry and relay tests: network namespaces named
 * `wgts-test-<run>-wgr-<id>-<role>` (test/integration/helpers/netns.ts), veth links, WireGuard
 * devices of a chosen implementation configured by the real `wg`, and child processes, all torn
 * down by `close()`, even after a failure.
 *
 * The data plane is a parameter (`Impl`): wireguard-go, wgts-userspace (our daemon, same command
 * line as wireguard-go), both by default, and the kernel module (`ip link add ... type wireguard`)
 * where it exists (the VM). Pick with WGR_IMPLS=wireguard-go,wgts-userspace,kernel. The kernel runs
 * are part of the VM suite (test/kernel/registry.test.ts, test/kernel/registry-docs.test.ts); alone:
 *   npm run build && test/kernel/run-vm.sh node node_modules/vitest/vitest.mjs run \
 *     --config test/kernel/vitest.kernel.config.ts test/kernel/registry.test.ts
 * The wgts CLI under test is `bin/wgts` (built by `npm test`), or WGR_CLI=<path to a .mjs>.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { labNetnsName, removeNetns } from '../helpers/netns.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');

export type Impl = 'wireguard-go' | 'wgts-userspace' | 'kernel';

/** Implementations to run the suites on (WGR_IMPLS, comma-separated; both userspace ones by default). */
export function implsUnderTest(): Impl[] {
  return (process.env.WGR_IMPLS ?? 'wireguard-go,wgts-userspace').split(',').filter(Boolean) as Impl[];
}

/** Can this machine run the lab at all? (root, `ip netns`, and the chosen implementation.) */
export function labAvailable(impl: Impl): boolean {
  if (process.getuid?.() !== 0) return false;
  if (impl === 'wireguard-go') return existsSync('/usr/bin/wireguard-go') || existsSync('/usr/local/bin/wireguard-go');
  if (impl === 'wgts-userspace') return existsSync(join(ROOT, 'dist/wgts-userspace.mjs'));
  try {
    // A wireguard link in a private, throwaway network namespace: gone when unshare exits.
    execFileSync('unshare', ['-n', 'ip', 'link', 'add', 'wgrprobe', 'type', 'wireguard'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Time stretch for deadlines: 1 natively; 5 inside the kernel test VM (test/kernel/run-vm.sh sets
 * WGTS_IN_VM=1), where qemu emulates the CPU and starting `node` alone takes seconds.
 */
export const SLOWDOWN = process.env.WGTS_IN_VM === '1' ? 5 : 1;

/** Per test and hook of the suites: the default 60 s, stretched like the deadlines in the VM (the kernel suite's own default is 120 s). */
export const SUITE_TIMEOUT = 60_000 * SLOWDOWN;

/** For runs where a skip would hide a broken machine (the VM's kernel suite): throws unless the lab can run `impl`. */
export function requireLab(impl: Impl): void {
  if (!labAvailable(impl)) {
    throw new Error(impl === 'kernel' ? 'cannot create a wireguard link in a new network namespace' : `the lab cannot run ${impl} here`);
  }
}

/** Polls `probe` until it returns a truthy value or `ms` (times SLOWDOWN) pass; throws with `what` on timeout. */
export async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  ms *= SLOWDOWN;
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface WgPeerInfo {
  publicKey: string;
  endpoint: string;
  latestHandshake: number;
  rx: number;
  tx: number;
}

/** How much a peer's counters grew between two `peers()` snapshots (matched by key: wireguard-go's order varies). */
export function counterGrowth(before: WgPeerInfo[], after: WgPeerInfo[], publicKey: string): { rx: number; tx: number } {
  const b = before.find((p) => p.publicKey === publicKey);
  const a = after.find((p) => p.publicKey === publicKey);
  if (!a || !b) throw new Error(`peer ${publicKey} missing from a snapshot`);
  return { rx: a.rx - b.rx, tx: a.tx - b.tx };
}

export class Lab {
  readonly id = randomBytes(2).toString('hex');
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly links: { ns: string; ifname: string }[] = [];
  private dirPath: string | null = null;

  /** Private working directory (key files), created on first use. */
  get dir(): string {
    this.dirPath ??= mkdtempSync(join(tmpdir(), 'wgr-'));
    return this.dirPath;
  }

  ns(role: string): string {
    return labNetnsName(`wgr-${this.id}-${role}`);
  }

  /** Interface name for a role letter: `wgr<id><r>`, unique across namespaces (UAPI sockets are global). */
  ifname(role: string): string {
    return `wgr${this.id}${role}`;
  }

  async addNamespaces(...roles: string[]): Promise<void> {
    for (const role of roles) {
      await run('ip', ['netns', 'add', this.ns(role)]);
      this.namespaces.push(this.ns(role));
      await this.exec(role, ['ip', 'link', 'set', 'lo', 'up']);
    }
  }

  /** Runs a command inside a role's namespace; resolves to stdout. */
  async exec(role: string, cmd: string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
    const p = run('ip', ['netns', 'exec', this.ns(role), ...cmd], { encoding: 'utf8', env: { ...process.env, ...env } });
    if (input !== undefined) {
      p.child.stdin!.end(input);
    }
    return (await p).stdout;
  }

  /** Runs several `ip` commands in one role's namespace (`ip -batch`). */
  async ip(role: string, lines: string[]): Promise<void> {
    await this.exec(role, ['ip', '-batch', '-'], lines.join('\n') + '\n');
  }

  async sysctl(role: string, key: string, value: string): Promise<void> {
    await this.exec(role, ['sysctl', '-qw', `${key}=${value}`]);
  }

  /** A veth pair between two namespaces, both ends up, with optional addresses. */
  async veth(a: string, aName: string, b: string, bName: string, aAddr?: string, bAddr?: string): Promise<void> {
    await run('ip', ['link', 'add', aName, 'netns', this.ns(a), 'type', 'veth', 'peer', 'name', bName, 'netns', this.ns(b)]);
    await this.ip(a, [`link set ${aName} up`, ...(aAddr ? [`addr add ${aAddr} dev ${aName}`] : [])]);
    await this.ip(b, [`link set ${bName} up`, ...(bAddr ? [`addr add ${bAddr} dev ${bName}`] : [])]);
  }

  /** A fresh key pair; the private key lives in a 0600 file under the lab directory. */
  async keypair(name: string): Promise<{ privateFile: string; publicKey: string }> {
    const priv = (await run('wg', ['genkey'])).stdout;
    const privateFile = join(this.dir, `${name}.key`);
    writeFileSync(privateFile, priv, { mode: 0o600 });
    const pub = run('wg', ['pubkey']);
    pub.child.stdin!.end(priv);
    return { privateFile, publicKey: (await pub).stdout.trim() };
  }

  /** Starts a process in a namespace; it is killed (by pid) on close(). */
  spawn(role: string, cmd: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(role), ...cmd], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    (child as ChildProcess & { output: () => string }).output = () => out;
    this.children.push(child);
    return child;
  }

  /** Output so far of a child started by spawn(). */
  output(child: ChildProcess): string {
    return (child as ChildProcess & { output?: () => string }).output?.() ?? '';
  }

  /** The wgts CLI as an argv prefix. */
  wgts(): string[] {
    return ['node', process.env.WGR_CLI ?? join(ROOT, 'bin/wgts')];
  }

  /** Environment that makes `wgts quick up` create a device of this implementation. */
  quickEnv(impl: Impl): NodeJS.ProcessEnv {
    // Hooks call `wgts` by name (as docs/nat.md's PostUp does): put this checkout's first on PATH.
    const bin = join(this.dir, 'bin');
    if (!existsSync(bin)) {
      mkdirSync(bin);
      symlinkSync(join(ROOT, 'bin/wgts'), join(bin, 'wgts'));
    }
    const path = { PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
    if (impl === 'kernel') return path;
    return {
      ...path,
      // Where the module is loaded, wgts quick (like wg-quick) would take it over any userspace program.
      WGTS_FORCE_USERSPACE: '1',
      WG_QUICK_USERSPACE_IMPLEMENTATION: impl === 'wireguard-go' ? 'wireguard-go' : join(ROOT, 'bin/wgts-userspace'),
      WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1',
    };
  }

  /** Creates a WireGuard interface of the given implementation in `role`'s namespace, up, with `addr`. */
  async wgDevice(role: string, ifname: string, impl: Impl, addr: string): Promise<void> {
    if (impl === 'kernel') {
      await this.exec(role, ['ip', 'link', 'add', ifname, 'type', 'wireguard']);
    } else {
      const cmd = impl === 'wireguard-go' ? ['wireguard-go', '-f', ifname] : ['node', join(ROOT, 'bin/wgts-userspace'), '-f', ifname];
      const child = this.spawn(role, cmd, { WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' });
      this.links.push({ ns: role, ifname });
      await waitFor(`${impl} to create ${ifname}`, 10_000, async () => {
        if (child.exitCode !== null) throw new Error(`${impl} exited: ${this.output(child)}`);
        return existsSync(`/var/run/wireguard/${ifname}.sock`) && (await this.exec(role, ['ip', 'link', 'show', ifname]));
      });
    }
    await this.ip(role, [`addr add ${addr} dev ${ifname}`, `link set ${ifname} up`]);
    await this.expectDriver(role, ifname, impl);
  }

  /**
   * Throws unless `ifname` is driven the way the run claims to test: on the kernel a `wireguard`
   * link and no UAPI socket, so `wg` and `wgts` (registry serve/discover) can only reach it over
   * generic netlink; otherwise a TUN with a UAPI socket.
   */
  async expectDriver(role: string, ifname: string, impl: Impl): Promise<void> {
    const found = await this.driver(role, ifname);
    const want = impl === 'kernel' ? { kind: 'wireguard', uapiSocket: false } : { kind: 'tun', uapiSocket: true };
    if (found.kind !== want.kind || found.uapiSocket !== want.uapiSocket) {
      throw new Error(`${ifname} (${impl}) is ${JSON.stringify(found)}, expected ${JSON.stringify(want)}`);
    }
  }

  /** How a device is driven: its link kind (`wireguard` = kernel module, `tun` = userspace) and whether it has a UAPI socket. */
  async driver(role: string, ifname: string): Promise<{ kind: string; uapiSocket: boolean }> {
    const [link] = JSON.parse(await this.exec(role, ['ip', '-j', '-d', 'link', 'show', ifname])) as { linkinfo?: { info_kind?: string } }[];
    return { kind: link?.linkinfo?.info_kind ?? '', uapiSocket: existsSync(`/var/run/wireguard/${ifname}.sock`) };
  }

  /** `wg <args>` inside the namespace (netlink needs it; UAPI does not mind). */
  wg(role: string, args: string[]): Promise<string> {
    return this.exec(role, ['wg', ...args]);
  }

  /** Parsed `wg show IF dump` peers. */
  async peers(role: string, ifname: string): Promise<WgPeerInfo[]> {
    const lines = (await this.wg(role, ['show', ifname, 'dump'])).trim().split('\n').slice(1);
    return lines.map((l) => {
      const f = l.split('\t');
      return { publicKey: f[0]!, endpoint: f[2]!, latestHandshake: Number(f[4]), rx: Number(f[5]), tx: Number(f[6]) };
    });
  }

  async peer(role: string, ifname: string, publicKey: string): Promise<WgPeerInfo> {
    const p = (await this.peers(role, ifname)).find((x) => x.publicKey === publicKey);
    if (!p) throw new Error(`${ifname} has no peer ${publicKey}`);
    return p;
  }

  /** Pings `addr` from `role`; resolves true when all `count` replies came back. */
  async ping(role: string, addr: string, count = 1, size = 56): Promise<boolean> {
    try {
      await this.exec(role, ['ping', '-q', '-c', String(count), '-i', '0.01', '-W', '1', '-s', String(size), addr]);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null && c.pid) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }
    }
    // Daemons started indirectly (e.g. by `wgts quick up`) live on in our namespaces: removeNetns ends them.
    for (const ns of this.namespaces.reverse()) await removeNetns(ns);
    for (const { ifname } of this.links) rmSync(`/var/run/wireguard/${ifname}.sock`, { force: true });
    if (this.dirPath) rmSync(this.dirPath, { recursive: true, force: true });
  }
}

/**
 * Home routers: masquerade out of `wan` (nft keeps the source port when it is free, so one local
 * port maps to one public port whatever the destination: endpoint-independent mapping), and drop
 * unsolicited inbound packets. Dropping them before conntrack confirms them matters: a confirmed
 * entry for a peer's early probe would make the router pick another port for our own later packets
 * to that peer, and the hole punching would fail.
 */
const ROUTER_NFT = `
table ip nat {
  chain masq { type nat hook postrouting priority srcnat; policy accept; oifname "wan" masquerade; }
}
table inet fw {
  chain to_router { type filter hook input priority filter; policy accept; iifname "wan" ct state new drop; }
  chain from_wan { type filter hook forward priority filter; policy accept; iifname "wan" ct state new drop; }
}
`;

/**
 * The NAT lab: a "public" bridge in namespace `inet` with the registry `reg` at 203.0.113.1, and
 * for the i-th site (0-based) a router `r<i>` at 203.0.113.(i+2) whose LAN 192.168.(i+1).0/24 holds
 * the site's host (named by `sites[i]`) at .2, default route via the router. The registry does not
 * forward.
 */
export async function buildNatNetwork(lab: Lab, sites: string[]): Promise<void> {
  await lab.addNamespaces('inet', 'reg', ...sites.flatMap((site, i) => [`r${i}`, site]));
  await lab.ip('inet', ['link add br0 type bridge', 'link set br0 up']);
  const wans: [string, string][] = [['reg', '203.0.113.1/24'], ...sites.map((_, i) => [`r${i}`, `203.0.113.${i + 2}/24`] as [string, string])];
  for (const [role, addr] of wans) {
    await lab.veth('inet', `v${role}`, role, 'wan', undefined, addr);
    await lab.ip('inet', [`link set v${role} master br0`]);
  }
  for (const [i, site] of sites.entries()) {
    await lab.veth(`r${i}`, 'lan', site, 'eth0', `192.168.${i + 1}.1/24`, `192.168.${i + 1}.2/24`);
    await lab.ip(site, [`route add default via 192.168.${i + 1}.1`]);
    await lab.sysctl(`r${i}`, 'net.ipv4.ip_forward', '1');
    await lab.exec(`r${i}`, ['nft', '-f', '-'], ROUTER_NFT);
  }
  await lab.sysctl('reg', 'net.ipv4.ip_forward', '0');
}
