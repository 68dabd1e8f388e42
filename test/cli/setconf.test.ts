/**
 * The write side on the wire: `wg` and `wgts` run the same set / setconf / addconf / syncconf
 * against two fake UAPI servers holding the same state; the `set=1` requests they send must be
 * byte-for-byte equal (with the Debian-vs-upstream syncconf allowance below), and so must their
 * messages and exit codes. wg reaches the fakes through a bind mount of the private socket
 * directory over /run/wireguard in its own mount namespace.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyToBase64 } from '../../src/conf/keys.js';
import type { WgDevice } from '../../src/conf/model.js';
import { syncDiff } from '../../src/conf/sync.js';
import { setCommand } from '../../src/cli/set.js';
import { addconfCommand, setconfCommand, syncconfCommand } from '../../src/cli/setconf.js';
import { showconfCommand } from '../../src/cli/showconf.js';
import type { Command } from '../../src/cli/command.js';
import { captureStdio } from '../fakes/stdio.js';
import { FakeUapiServer, runWgAgainst } from '../fakes/uapi-server.js';

const hasWg = spawnSync('wg', ['--version']).status === 0 && process.getuid?.() === 0;
let runDir: string;
let fakeWg: FakeUapiServer;
let fakeOurs: FakeUapiServer;

const key = (i: number) => {
  const k = new Uint8Array(32).fill(i);
  k[31] = 0x40;
  return k;
};
const b64 = (i: number) => keyToBase64(key(i));

function runtime(name: string): WgDevice {
  return {
    name,
    privateKey: key(1),
    listenPort: 51820,
    peers: [
      { publicKey: key(2), presharedKey: key(3), persistentKeepalive: 25, allowedIps: [], endpoint: { family: 4, host: '192.0.2.2', port: 2 } },
      { publicKey: key(4), allowedIps: [{ family: 4, addr: Uint8Array.of(10, 0, 0, 4), cidr: 32 }] },
      { publicKey: key(5), presharedKey: key(6), allowedIps: [] },
      { publicKey: key(9), persistentKeepalive: 5, allowedIps: [] },
    ],
  };
}

function file(name: string, text: string): string {
  const path = join(runDir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

const runWg = (args: string[]) => runWgAgainst(runDir, args);

const runOurs = (cmd: Command, args: string[]) => captureStdio(() => cmd.run('wg', args));

const COMMANDS: Record<string, Command> = {
  set: setCommand,
  setconf: setconfCommand,
  addconf: addconfCommand,
  syncconf: syncconfCommand,
  showconf: showconfCommand,
};

/** Runs `wg <cmd> IF ...` and ours on fresh copies of the runtime state; returns both sides. */
async function both(cmd: string, args: string[], setErrno = 0) {
  fakeWg.device = runtime('wgm-wire-a');
  fakeOurs.device = runtime('wgm-wire-b');
  fakeWg.sets.length = 0;
  fakeOurs.sets.length = 0;
  fakeWg.setErrno = fakeOurs.setErrno = setErrno;
  const wg = await runWg([cmd, 'wgm-wire-a', ...args]);
  const ours = await runOurs(COMMANDS[cmd]!, ['wgm-wire-b', ...args]);
  expect(ours.err).toBe(wg.err);
  expect(ours.out).toBe(wg.out);
  expect(ours.rc).toBe(wg.rc);
  return { wg: fakeWg.sets.slice(), ours: fakeOurs.sets.slice() };
}

beforeAll(async () => {
  runDir = mkdtempSync(join(tmpdir(), 'wgts-wire-'));
  process.env.WGTS_RUN_DIR = runDir;
  mkdirSync('/run/wireguard', { recursive: true });
  fakeWg = await FakeUapiServer.start(runDir, runtime('wgm-wire-a'));
  fakeOurs = await FakeUapiServer.start(runDir, runtime('wgm-wire-b'));
});

afterAll(async () => {
  await fakeWg.close();
  await fakeOurs.close();
  rmSync(runDir, { recursive: true, force: true });
});

const fullConf = () =>
  file(
    'full.conf',
    `[Interface]\nPrivateKey = ${b64(1)}\nFwMark = 0x10\n\n` +
      `[Peer]\nPublicKey = ${b64(2)}\nAllowedIPs = 10.0.0.2/32, fd00::2/128, ::1.2.3.4/128\nEndpoint = [2001:DB8::0:2]:2\n\n` +
      `[Peer]\nPublicKey = ${b64(7)}\nPresharedKey = ${b64(8)}\nEndpoint = 192.0.2.7:7\nPersistentKeepalive = 7\nAllowedIPs = 10.7.0.0/16\nAllowedIPs = 10.8.0.0/16\n\n` +
      `[Peer]\nPublicKey = ${b64(5)}\nPresharedKey = ${b64(6)}\n`,
  );

describe.skipIf(!hasWg)('requests on the wire, wg vs wgts', () => {
  it('set with every option', async () => {
    const psk = file('psk', `${b64(11)}\n`);
    const r = await both('set', [
      'listen-port', '7000', 'fwmark', '0x20', 'private-key', '/dev/null',
      'peer', b64(2), 'remove', 'endpoint', '192.0.2.1:1',
      'peer', b64(4), 'preshared-key', psk, 'endpoint', '[fe80::1%lo]:4', 'persistent-keepalive', '0',
      'allowed-ips', '10.1.0.0/16, fd00::/8,0.0.0.0/0', 'allowed-ips', '10.2.0.1/32',
      'peer', b64(5), 'preshared-key', '/dev/null', 'allowed-ips', '',
    ]);
    expect(r.ours).toEqual(r.wg);
    expect(r.ours).toHaveLength(1);
  });

  it('setconf, addconf and errors', async () => {
    const f = fullConf();
    for (const cmd of ['setconf', 'addconf']) {
      const r = await both(cmd, [f]);
      expect(r.ours).toEqual(r.wg);
    }
    const e = await both('setconf', [f], -98);
    expect(e.ours).toEqual(e.wg);
    const e2 = await both('set', ['listen-port', '1'], -22);
    expect(e2.ours).toEqual(e2.wg);
  });

  it('syncconf (allowing for upstream clearing psk/keepalive)', async () => {
    const r = await both('syncconf', [fullConf()]);
    // Upstream additionally clears the psk of key(2) and the keepalive of key(2) (the file gives
    // neither, the device has both): exactly those two lines are what Debian's wg does not send.
    const upstreamOnly = [`preshared_key=${'0'.repeat(64)}`, 'persistent_keepalive_interval=0'];
    const ours = r.ours[0]!.split('\n');
    const wgLines = r.wg[0]!.split('\n');
    expect(ours.filter((l) => !upstreamOnly.includes(l))).toEqual(wgLines);
    expect(ours.length - wgLines.length).toBe(2);
    const empty = await both('syncconf', [file('empty.conf', `[Interface]\nListenPort = 3\n`)]);
    expect(empty.ours).toEqual(empty.wg);
  });

  it('showconf', async () => {
    await both('showconf', []);
  });
});

describe('syncDiff', () => {
  it('removes absent peers first, clears psk/keepalive the file omits, keeps the rest', () => {
    const fileModel: WgDevice = {
      name: 'x',
      replacePeers: true,
      peers: [
        { publicKey: key(9), allowedIps: [], replaceAllowedIps: true },
        { publicKey: key(2), allowedIps: [], replaceAllowedIps: true, presharedKey: key(3) },
        { publicKey: key(8), allowedIps: [], replaceAllowedIps: true },
      ],
    };
    const out = syncDiff(fileModel, runtime('x'));
    expect(out.replacePeers).toBe(false);
    const keys = out.peers.map((p) => p.publicKey[0]);
    expect(keys).toEqual([5, 4, 9, 2, 8]); // removals in reverse key order, then the file's peers
    expect(out.peers[0]!.remove && out.peers[1]!.remove).toBe(true);
    expect(out.peers[2]!.persistentKeepalive).toBe(0); // key(9): device has keepalive 5, file none
    expect(out.peers[2]!.presharedKey).toBeUndefined(); // device has no psk for key(9)
    expect(out.peers[3]!.presharedKey).toEqual(key(3)); // file gives one: kept
    expect(out.peers[3]!.persistentKeepalive).toBe(0);
    expect(out.peers[4]!.persistentKeepalive).toBeUndefined(); // new peer: nothing to clear
  });
  it('leaves the model alone when either side has no peers', () => {
    const f: WgDevice = { name: 'x', replacePeers: true, peers: [] };
    expect(syncDiff(f, runtime('x')).replacePeers).toBe(true);
    const g: WgDevice = { name: 'x', replacePeers: true, peers: [{ publicKey: key(2), allowedIps: [] }] };
    expect(syncDiff(g, { name: 'x', peers: [] }).replacePeers).toBe(true);
  });
});
