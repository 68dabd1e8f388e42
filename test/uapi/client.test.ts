import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WgError } from '../../src/conf/backend.js';
import { strerror } from '../../src/conf/errno.js';
import { keyToHex } from '../../src/conf/keys.js';
import { UapiBackend, parseSetReply } from '../../src/uapi/client.js';
import { uapiSocketPath } from '../../src/uapi/socket-dir.js';
import { FakeUapiServer } from '../fakes/uapi-server.js';

const k = (b: number) => new Uint8Array(32).fill(b);
let runDir: string;
const servers: FakeUapiServer[] = [];

beforeAll(() => {
  runDir = mkdtempSync(join(tmpdir(), 'wgts-uapi-client-'));
  process.env.WGTS_RUN_DIR = runDir;
});
afterAll(async () => {
  for (const s of servers) await s.close();
  rmSync(runDir, { recursive: true, force: true });
  delete process.env.WGTS_RUN_DIR;
});

async function fake(name: string) {
  const s = await FakeUapiServer.start(runDir, { name, peers: [] });
  servers.push(s);
  return s;
}

describe('UapiBackend', () => {
  it('gets a device state and sends sets as wg does', async () => {
    const s = await fake('wgm-a');
    s.device = {
      name: 'wgm-a',
      privateKey: k(1),
      listenPort: 5,
      peers: [{ publicKey: k(2), rxBytes: 3n, txBytes: 4n, allowedIps: [] }],
    };
    const b = new UapiBackend();
    expect(await b.has('wgm-a')).toBe(true);
    const d = await b.get('wgm-a');
    expect(d.listenPort).toBe(5);
    expect(d.peers[0]!.rxBytes).toBe(3n);
    await b.set({ name: 'wgm-a', listenPort: 7, peers: [{ publicKey: k(2), remove: true, allowedIps: [] }] });
    expect(s.sets).toEqual([`set=1\nlisten_port=7\npublic_key=${keyToHex(k(2))}\nremove=true\n\n`]);
  });

  it('maps a negative errno reply to the positive errno, and a positive one as wg does', async () => {
    const s = await fake('wgm-b');
    const b = new UapiBackend();
    s.setErrno = -98;
    await expect(b.set({ name: 'wgm-b', listenPort: 1, peers: [] })).rejects.toMatchObject({ errno: 98 });
    s.setErrno = 22;
    const err = await b.set({ name: 'wgm-b', peers: [] }).catch((e: WgError) => e);
    expect(strerror((err as WgError).errno)).toBe('Unknown error -22');
    s.getReply = 'errno=19\n\n';
    await expect(b.get('wgm-b')).rejects.toMatchObject({ errno: 19 });
    s.getReply = 'garbage\n\n';
    await expect(b.get('wgm-b')).rejects.toMatchObject({ errno: 71 });
  });

  it('lists live sockets only, unlinking refused ones silently, ignoring non-sockets', async () => {
    await fake('wgm-c');
    const dir = join(runDir, 'wireguard');
    writeFileSync(join(dir, 'wgm-file.sock'), '');
    mkdirSync(join(dir, 'x.sock.d'), { recursive: true });
    const names = await new UapiBackend().list();
    expect(names).toContain('wgm-c');
    expect(names).not.toContain('wgm-file');
    expect(await new UapiBackend().has('wgm-file')).toBe(false);
    expect(await new UapiBackend().has('a/b')).toBe(false);
    expect(await new UapiBackend().has('wgm-none')).toBe(false);
  });

  it('unlinks a socket that refuses connections', async () => {
    const path = uapiSocketPath('wgm-dead');
    // A unix socket file with no listener (bound, never listened; Node's close() would unlink it).
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('python3', ['-c', `import socket;s=socket.socket(socket.AF_UNIX);s.bind(${JSON.stringify(path)})`]);
    expect(r.status).toBe(0);
    expect(existsSync(path)).toBe(true);
    expect(await new UapiBackend().has('wgm-dead')).toBe(false);
    expect(existsSync(path)).toBe(false);
  });

  it('reports a missing socket on get with the connect errno', async () => {
    await expect(new UapiBackend().get('wgm-missing')).rejects.toMatchObject({ errno: 2 });
  });
});

describe('parseSetReply', () => {
  it.each<[string, number]>([
    ['errno=0\n\n', 0],
    ['errno=-22\n\n', -22],
    ['foo=1\nerrno=-98\n\n', -98],
    ['\n', -71],
    ['errno=0\n', -71],
    ['errno=x\n\n', -71],
    ['', -71],
  ])('%j -> %d', (reply, want) => expect(parseSetReply(reply)).toBe(want));
});
