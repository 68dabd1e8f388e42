/**
 * `wgts reresolve` in test-made namespaces, with the name resolved through a private /etc/hosts
 * bind-mounted in a private mount namespace: a tunnel to `server.test` works; the server moves to
 * another address and the name follows; a peer with a fresh session is left alone unless --force;
 * then reresolve restores the tunnel. A second device (wireguard-go) whose peer never had a session
 * is updated by the default run, its config read from a private /etc/wireguard.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, waitFor } from '../helpers/netns.js';
import { haveTools, keyPair, OpsLab, WGTS, type Side } from './lab.js';

const ops = new OpsLab();
let a: Side;
let b: Side;
const devA = ops.lab.ifname('a');
const devA2 = ops.lab.ifname('g');
const devB = ops.lab.ifname('b');
let hosts: string;
const etcWireguard = join(ops.dir, 'etc-wireguard');

const setHosts = (addr: string) => writeFileSync(hosts, `127.0.0.1 localhost\n${addr} server.test\n`);
const endpoints = async (dev: string) => (await a.wgts(['show', dev, 'endpoints'])).stdout.trim().split('\t')[1];
const ping = () => a.ns.run(['ping', '-c', '1', '-W', '1', '10.201.0.2'], { check: false });

beforeAll(async () => {
  if (!haveTools() || !existsSync('/etc/wireguard')) return;
  [a, b] = [await ops.side(), await ops.side()];
  hosts = ops.file('hosts', '');
  setHosts('10.98.0.2');
  mkdirSync(etcWireguard, { mode: 0o700 });
  a.binds.push([hosts, '/etc/hosts'], [etcWireguard, '/etc/wireguard']);
  await ops.lab.veth(a.ns, '10.98.0.1/24', b.ns, '10.98.0.2/24');
  const [kA, kA2, kB] = [keyPair(ops, 'a'), keyPair(ops, 'a2'), keyPair(ops, 'b')];
  await a.device('wgts-userspace', devA);
  await a.device('wireguard-go', devA2);
  await b.device('wireguard-go', devB);
  // devA as `wgts quick up` would leave it, from a config that names the server (state file below).
  const conf = ops.file(`${devA}.conf`, `[Interface]\nListenPort = 43101\n\n[Peer]\nPublicKey = ${kB.pub}\nAllowedIPs = 10.201.0.2/32\nEndpoint = server.test:43102\n`);
  await a.must([WGTS, 'set', devA, 'private-key', kA.file, 'listen-port', '43101', 'peer', kB.pub, 'allowed-ips', '10.201.0.2/32', 'endpoint', 'server.test:43102']);
  const netns = (await a.must(['readlink', '/proc/self/ns/net'])).match(/\[(\d+)\]/)![1];
  const stateDir = join(ops.dir, 'state');
  mkdirSync(stateDir, { mode: 0o700 });
  ops.file(`state/${devA}@${netns}.json`, JSON.stringify({ ifname: devA, configFile: conf, journal: [], holds: [] }));
  a.env.WGTS_QUICK_STATE_DIR = stateDir;
  // devA2: configured from /etc/wireguard/devA2.conf with the old numeric address; never handshakes.
  writeFileSync(join(etcWireguard, `${devA2}.conf`), `[Interface]\n[Peer]\nPublicKey = ${kB.pub}\nAllowedIPs = 10.202.0.2/32\nEndpoint = server.test:43103\n`, { mode: 0o600 });
  await a.must([WGTS, 'set', devA2, 'private-key', kA2.file, 'peer', kB.pub, 'allowed-ips', '10.202.0.2/32', 'endpoint', '10.98.0.2:43103']);
  await b.must([WGTS, 'set', devB, 'private-key', kB.file, 'listen-port', '43102', 'peer', kA.pub, 'allowed-ips', '10.201.0.1/32']);
  for (const [side, dev, addr] of [[a, devA, '10.201.0.1/24'], [b, devB, '10.201.0.2/24']] as const) {
    await side.ns.ip(['addr', 'add', addr, 'dev', dev]);
    await side.ns.ip(['link', 'set', dev, 'up']);
  }
}, 90_000);

afterAll(() => ops.cleanup());

describe.skipIf(!haveTools() || !existsSync('/etc/wireguard'))('wgts reresolve', { timeout: 90_000 }, () => {
  it('follows the server to its new address once the session is stale or forced', async () => {
    await a.ns.run(['ping', '-c', '1', '-W', '5', '10.201.0.2']);
    expect(await endpoints(devA)).toBe('10.98.0.2:43102');
    // A live session and an unchanged name: nothing to do, nothing printed.
    expect(await a.wgts(['reresolve', devA])).toMatchObject({ code: 0, stdout: '', stderr: '' });

    // The server moves; the name follows.
    await b.ns.ip(['addr', 'del', '10.98.0.2/24', 'dev', await vethOf(b)]);
    await b.ns.ip(['addr', 'add', '10.98.0.3/24', 'dev', await vethOf(b)]);
    setHosts('10.98.0.3');
    expect((await ping()).code).not.toBe(0);

    // The session is still fresh (< 135 s): the default run leaves the peer alone.
    expect(await a.wgts(['reresolve', devA])).toMatchObject({ code: 0, stdout: '' });
    expect(await endpoints(devA)).toBe('10.98.0.2:43102');

    const forced = await a.wgts(['reresolve', devA, '--force']);
    expect(forced).toMatchObject({ code: 0, stderr: '' });
    expect(forced.stdout).toMatch(new RegExp(`^${devA}: peer .*: server\\.test moved from 10\\.98\\.0\\.2:43102 to 10\\.98\\.0\\.3:43102\\n$`));
    expect(await endpoints(devA)).toBe('10.98.0.3:43102');
    await waitFor(async () => (await ping()).code === 0, { timeout: 20_000, what: 'the tunnel back through the new address' });
  });

  it('updates a never-handshaken peer by default, with the config from /etc/wireguard', async () => {
    expect(await endpoints(devA2)).toBe('10.98.0.2:43103');
    const r = await a.wgts(['reresolve', devA2]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(await endpoints(devA2)).toBe('10.98.0.3:43103');
    // Idempotent: a second run finds nothing to change.
    expect(await a.wgts(['reresolve', devA2])).toMatchObject({ code: 0, stdout: '' });
  });

  it('reports an unresolvable name with FILE:LINE and exits 1; a missing config and bad arguments too', async () => {
    setHosts('10.98.0.3');
    writeFileSync(join(etcWireguard, `${devA2}.conf`), `[Peer]\nPublicKey = ${(await a.wgts(['show', devA2, 'peers'])).stdout.trim()}\nEndpoint = nowhere.invalid:1\n`, { mode: 0o600 });
    const r = await a.wgts(['reresolve', devA2], { WG_ENDPOINT_RESOLUTION_RETRIES: '0' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^/etc/wireguard/${devA2}\\.conf:3: .*: \`nowhere\\.invalid:1'\\n$`));
    const missing = await a.wgts(['reresolve', 'nosuchdev0']);
    expect(missing).toMatchObject({ code: 1, stderr: 'wgts reresolve: cannot read /etc/wireguard/nosuchdev0.conf, the configuration of nosuchdev0\n' });
    expect((await a.wgts(['reresolve'])).stderr).toBe('wgts reresolve: one interface expected\nUsage: wgts reresolve <interface> [--force]\n');
  });
});

/** The veth link of a side (the one link that is neither lo nor a WireGuard device). */
async function vethOf(side: Side): Promise<string> {
  const out = (await run(['ip', '-n', side.ns.name, '-o', 'link', 'show', 'type', 'veth'])).stdout;
  return out.split(':')[1]!.trim().split('@')[0]!;
}
