/**
 * Data-plane fixtures: start wgts-userspace or wireguard-go in a namespace, and build the usual
 * two-peer topology over a veth pair (outer 10.99.0.1/2 and fd99::1/2, inner 10.0.0.1/2 and
 * fd00::1/2), configured with the real `wg`.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Lab, type Netns, run, waitFor } from '../helpers/netns.js';

export type Impl = 'wgts' | 'go';
export const ROOT = resolve(import.meta.dirname, '../../..');
export const WGTS_BIN = resolve(ROOT, 'bin/wgts-userspace');
export const SOCK_DIR = '/var/run/wireguard';

let built: Promise<unknown> | undefined;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ (esbuild, about a second) only if the daemon bundle is missing or older than a source
 * file: `npm test` builds first, and rebuilding while another test file's daemons start would let
 * them load a half-written bundle.
 */
export function ensureBuilt(): Promise<unknown> {
  const bundle = resolve(ROOT, 'dist/wgts-userspace.mjs');
  const fresh = existsSync(bundle) && statSync(bundle).mtimeMs >= newestMtime(resolve(ROOT, 'src'));
  built ??= fresh ? Promise.resolve() : run(['node', 'scripts/build.mjs'], { cwd: ROOT, timeout: 120_000 });
  return built;
}

/**
 * Launches the daemon for `ifname` in `ns` the way wg-quick does (no -f) and returns once the
 * launcher has exited; the UAPI socket must exist by then. Registers cleanup with the lab.
 */
export async function startDaemon(lab: Lab, ns: Netns, impl: Impl, ifname: string, env: Record<string, string | undefined> = {}): Promise<void> {
  const argv = impl === 'wgts' ? [WGTS_BIN, ifname] : ['wireguard-go', ifname];
  lab.defer(() => stopDaemon(ns, ifname));
  await ns.run(argv, { env: { WG_PROCESS_FOREGROUND: undefined, ...env } });
  if (!existsSync(`${SOCK_DIR}/${ifname}.sock`)) throw new Error(`${impl}: no UAPI socket after the launcher returned`);
}

/** Pids of daemons serving `ifname` (our own processes: the name is unique to this run). */
export async function daemonPids(ifname: string): Promise<number[]> {
  const r = await run(['pgrep', '-f', `(wgts-userspace|wireguard-go) (-f )?${ifname}$`], { check: false });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

export async function stopDaemon(ns: Netns, ifname: string): Promise<void> {
  await ns.ip(['link', 'del', ifname], { check: false });
  await waitFor(async () => (await daemonPids(ifname)).length === 0, { timeout: 5000, what: `${ifname} daemon exit` }).catch(async () => {
    for (const pid of await daemonPids(ifname)) process.kill(pid, 'SIGKILL');
  });
}

export interface Side {
  ns: Netns;
  impl: Impl;
  ifname: string;
  privateKey: string;
  publicKey: string;
  port: number;
  outer4: string;
  outer6: string;
  inner4: string;
  inner6: string;
  /** The veth link name in this side's namespace. */
  link: string;
}

export async function genkey(): Promise<{ privateKey: string; publicKey: string }> {
  const privateKey = (await run(['wg', 'genkey'])).stdout.trim();
  const publicKey = (await run(['wg', 'pubkey'], { input: privateKey })).stdout.trim();
  return { privateKey, publicKey };
}

/** `wg ARGS` in the side's namespace. */
export function wg(side: Side, args: string[], opts: { check?: boolean; input?: string } = {}) {
  return side.ns.run(['wg', ...args], opts);
}

/** Sets a side's private key and port with the real wg (the key goes through stdin, never argv). */
export async function setIdentity(side: Side): Promise<void> {
  // Node's stdin pipes are socketpairs, which wg cannot fopen("/dev/stdin"): use a 0600 file.
  const dir = mkdtempSync(join(tmpdir(), 'wgd-key-'));
  const file = join(dir, 'key');
  writeFileSync(file, side.privateKey + '\n', { mode: 0o600 });
  try {
    await wg(side, ['set', side.ifname, 'private-key', file, 'listen-port', String(side.port)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Two namespaces joined by a veth pair, a daemon in each, keys and peers set (endpoints over outer
 * IPv4 unless `outer6`), inner addresses assigned and links up (left down with `up: false`). No
 * traffic has flowed yet.
 */
export async function makePair(
  lab: Lab,
  implA: Impl,
  implB: Impl,
  opts: { outer6?: boolean; keepalive?: number; up?: boolean; envA?: Record<string, string>; envB?: Record<string, string> } = {},
): Promise<[Side, Side]> {
  await ensureBuilt();
  const nsA = await lab.netns();
  const nsB = await lab.netns();
  const [la, lb] = await lab.veth(nsA, '10.99.0.1/24', nsB, '10.99.0.2/24', { v6: ['fd99::1/64', 'fd99::2/64'] });
  const mk = async (ns: Netns, impl: Impl, n: 1 | 2, link: string): Promise<Side> => ({
    ns, impl, link, ifname: lab.ifname(impl === 'go' ? 'g' : 't'), ...(await genkey()), port: 51820 + n,
    outer4: `10.99.0.${n}`, outer6: `fd99::${n}`, inner4: `10.0.0.${n}`, inner6: `fd00::${n}`,
  });
  const a = await mk(nsA, implA, 1, la);
  const b = await mk(nsB, implB, 2, lb);
  await Promise.all([startDaemon(lab, nsA, implA, a.ifname, opts.envA), startDaemon(lab, nsB, implB, b.ifname, opts.envB)]);
  for (const [me, other] of [[a, b], [b, a]] as const) {
    await setIdentity(me);
    const ep = opts.outer6 ? `[${other.outer6}]:${other.port}` : `${other.outer4}:${other.port}`;
    await wg(me, ['set', me.ifname, 'peer', other.publicKey, 'allowed-ips', `${other.inner4}/32,${other.inner6}/128`, 'endpoint', ep,
      ...(opts.keepalive ? ['persistent-keepalive', String(opts.keepalive)] : [])]);
    await me.ns.ip(['addr', 'add', `${me.inner4}/24`, 'dev', me.ifname]);
    await me.ns.ip(['addr', 'add', `${me.inner6}/64`, 'dev', me.ifname, 'nodad']);
    if (opts.up ?? true) await me.ns.ip(['link', 'set', me.ifname, 'up']);
  }
  return [a, b];
}

/** Pings `addr` from `side` until one reply arrives (deadline `timeout`), then `count` more must all succeed. */
export async function ping(side: Side, addr: string, opts: { count?: number; timeout?: number; source?: string } = {}): Promise<void> {
  const src = opts.source ? ['-I', opts.source] : [];
  await waitFor(async () => (await side.ns.run(['ping', '-n', '-c', '1', '-W', '1', ...src, addr], { check: false })).code === 0, {
    timeout: opts.timeout ?? 10_000, what: `first ping ${addr} from ${side.ifname}`,
  });
  if ((opts.count ?? 3) > 0) await side.ns.run(['ping', '-n', '-c', String(opts.count ?? 3), '-i', '0.05', '-W', '2', ...src, addr]);
}

/** One `wg show IF dump` peer line, split (public key first). */
export async function peerDump(side: Side, peerPub: string): Promise<string[]> {
  const out = (await wg(side, ['show', side.ifname, 'dump'])).stdout.trim().split('\n').slice(1);
  const line = out.map((l) => l.split('\t')).find((f) => f[0] === peerPub);
  if (!line) throw new Error(`peer not in dump of ${side.ifname}`);
  return line;
}

/** The peer's endpoint as `wg show IF endpoints` prints it. */
export async function endpointOf(side: Side, peerPub: string): Promise<string> {
  return (await peerDump(side, peerPub))[2]!;
}

/** iperf3 TCP from `client` to `server` for `seconds`; returns the receiver's bits/s. */
export async function iperf(client: Side, server: Side, seconds = 2, opts: { reverse?: boolean; addr?: string } = {}): Promise<number> {
  const port = String(5201 + Math.floor(Math.random() * 1000));
  const srv = server.ns.spawn(['iperf3', '-s', '-1', '-p', port]);
  const addr = opts.addr ?? server.inner4;
  await waitFor(async () => (await server.ns.run(['ss', '-ltn', `sport = :${port}`])).stdout.includes(port), { what: 'iperf3 server' });
  const r = await client.ns.run(['iperf3', '-c', addr, '-p', port, '-t', String(seconds), '-J', ...(opts.reverse ? ['-R'] : [])], {
    timeout: (seconds + 20) * 1000,
  });
  await Promise.race([srv.exited, new Promise((res) => setTimeout(res, 2000))]);
  srv.kill();
  const json = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return json.end.sum_received.bits_per_second;
}

/** iperf3 TCP from `a` to `b`, then from `b` to `a` (reverse mode); returns both receivers' bits/s. */
export async function iperfBothWays(a: Side, b: Side, seconds = 2): Promise<[number, number]> {
  return [await iperf(a, b, seconds), await iperf(a, b, seconds, { reverse: true })];
}

export function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}
