/**
 * Golden tests of every `show` form, with the real `wg` as the oracle: a fake UAPI server feeds
 * exact states (handshake ages, byte counts, keys, endpoints, errors) from a private socket
 * directory; `wg` sees that directory through a bind mount in its own mount namespace, `wgts`
 * through WGTS_RUN_DIR. Both must print the same bytes and exit with the same code.
 *
 * "ago" output depends on time(): handshake times are set relative to the current second, and an
 * attempt whose two runs straddle a second boundary is repeated (it cannot be compared).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyFromBase64 } from '../../src/conf/keys.js';
import type { WgDevice, WgPeer } from '../../src/conf/model.js';
import { SHOW_FIELDS, ago, formatBytes, prettyTime, runShow, type ShowIo } from '../../src/cli/show.js';
import { stripAnsi } from '../../src/cli/terminal.js';
import { UapiBackend } from '../../src/uapi/client.js';
import { getDevice } from '../../src/system/ipc.js';
import { keyToBase64 } from '../../src/conf/keys.js';
import { publicKeyFromPrivate } from '../../src/crypto/primitives.js';
import { FakeUapiServer, runWgAgainst } from '../fakes/uapi-server.js';

const hasWg = spawnSync('wg', ['--version']).status === 0 && process.getuid?.() === 0;

let runDir: string;
const fakes: FakeUapiServer[] = [];

const key = (i: number): Uint8Array => {
  const k = new Uint8Array(32);
  k[0] = i;
  k[31] = 0x40 + (i % 7);
  return k;
};
const v4 = (a: number, b: number, c: number, d: number, cidr: number) => ({
  family: 4 as const,
  addr: Uint8Array.of(a, b, c, d),
  cidr,
});
const v6 = (text: string, cidr: number) => {
  const words = text.split(':').map((w) => parseInt(w || '0', 16));
  const addr = new Uint8Array(16);
  words.forEach((w, i) => {
    addr[2 * i] = w >> 8;
    addr[2 * i + 1] = w & 0xff;
  });
  return { family: 6 as const, addr, cidr };
};

const YEAR = 365n * 86400n;
/** Peers of every shape, handshakes relative to `now`. */
function richDevice(name: string, now: bigint): WgDevice {
  const hs = (age: bigint | null, nsec = 0) => (age === null ? { sec: 0n, nsec: 0 } : { sec: now - age, nsec });
  const peers: WgPeer[] = [
    { publicKey: key(1), allowedIps: [], lastHandshake: hs(null) },
    {
      publicKey: key(2),
      presharedKey: key(99),
      endpoint: { family: 4, host: '192.0.2.1', port: 51820 },
      allowedIps: [v4(10, 0, 0, 2, 32), v6('fd00:0:0:0:0:0:0:2', 128), v4(0, 0, 0, 0, 0)],
      lastHandshake: hs(0n),
      rxBytes: 1023n,
      txBytes: 1024n,
      persistentKeepalive: 25,
    },
    {
      publicKey: key(3),
      endpoint: { family: 6, host: '2001:db8::1', port: 1 },
      allowedIps: [v6('0:0:0:0:0:0:102:304', 128), v6('0:0:0:0:0:ffff:102:304', 128), v6('1:0:0:1:0:0:0:0', 64)],
      lastHandshake: hs(1n, 5),
      rxBytes: 1536n,
      txBytes: 0n,
      persistentKeepalive: 1,
    },
    {
      publicKey: key(4),
      endpoint: { family: 6, host: '::ffff:198.51.100.7', port: 65535 },
      allowedIps: [v4(10, 1, 0, 0, 16)],
      lastHandshake: hs(61n),
      rxBytes: 0n,
      txBytes: 3n * 1024n * 1024n,
      persistentKeepalive: 3661,
    },
    {
      publicKey: key(5),
      allowedIps: [v4(10, 2, 0, 0, 24)],
      lastHandshake: hs(3661n, 999_999_999),
      rxBytes: 1024n ** 4n,
      txBytes: 0xffffffffffffffffn,
      persistentKeepalive: 65535,
    },
    {
      publicKey: key(6),
      allowedIps: [v4(10, 3, 0, 1, 32)],
      lastHandshake: hs(YEAR + 86400n + 7200n + 120n + 2n),
      rxBytes: 1029n, // 1.0048828125 KiB: an exact tie at two decimals, rounded to even
      txBytes: 5n * 1024n + 128n * 1024n * 1024n * 0n + 5n,
      persistentKeepalive: 60,
    },
    {
      publicKey: key(7),
      allowedIps: [v4(10, 4, 0, 1, 32)],
      lastHandshake: hs(-5n), // in the future: "clock wound backward", sorts first
      rxBytes: 1048575n,
      txBytes: 1073741823n,
    },
    { publicKey: key(8), allowedIps: [v4(10, 5, 0, 1, 32)], lastHandshake: hs(2n * YEAR + 1n) },
    { publicKey: key(9), allowedIps: [], lastHandshake: { sec: 0n, nsec: 7 } },
    { publicKey: key(10), allowedIps: [v4(10, 6, 0, 1, 32)], lastHandshake: hs(1n), persistentKeepalive: 120 },
  ];
  return {
    name,
    privateKey: keyFromBase64('SE9SUw0bB9czBZyBdDnuA9tMXYjCmUUHd5FQxhzoWFc=')!,
    publicKey: keyFromBase64('dLjbmY5Ckh2c0VVzh0pMmo2nfjZT/yF1bXmzMaLD53o=')!,
    listenPort: 51820,
    fwmark: 0xca6c,
    peers,
  };
}

const runWg = (args: string[], env: Record<string, string> = {}) => runWgAgainst(runDir, ['show', ...args], env);

async function runWgts(
  args: string[],
  env: Record<string, string> = {},
  now = BigInt(Math.floor(Date.now() / 1000)),
  isTTY = false,
): Promise<{ out: string; err: string; rc: number }> {
  let out = '';
  let err = '';
  const backend = new UapiBackend();
  const io: ShowIo = {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    env,
    isTTY,
    now: () => now,
    list: () => backend.list(),
    get: getDevice, // UAPI when the socket exists, else the kernel backend, as wg chooses
  };
  const rc = await runShow('wg', args, io);
  return { out, err, rc };
}

/** Sets the fake states for the current second, runs both, and retries if a second boundary passed. */
async function compare(args: string[], env: Record<string, string> = {}, adjust?: (wgOut: string) => string) {
  for (let attempt = 0; ; attempt++) {
    const t0 = BigInt(Math.floor(Date.now() / 1000));
    for (const f of fakes) if (f.getReply === undefined) f.device = richDevice(f.device.name, t0);
    const wg = await runWg(args, env);
    const ours = await runWgts(args, env, t0);
    const t1 = BigInt(Math.floor(Date.now() / 1000));
    if (t0 !== t1 && attempt < 5) continue;
    expect(ours.err, `stderr of ${args.join(' ')}`).toBe(wg.err);
    expect(ours.out, `stdout of ${args.join(' ')}`).toBe(adjust ? adjust(wg.out) : wg.out);
    expect(ours.rc, `exit code of ${args.join(' ')}`).toBe(wg.rc);
    return ours;
  }
}

beforeAll(async () => {
  runDir = mkdtempSync(join(tmpdir(), 'wgts-show-'));
  process.env.WGTS_RUN_DIR = runDir;
  mkdirSync('/run/wireguard', { recursive: true });
  const t = BigInt(Math.floor(Date.now() / 1000));
  fakes.push(await FakeUapiServer.start(runDir, richDevice('wgm-one', t)));
  fakes.push(await FakeUapiServer.start(runDir, { name: 'wgm-empty', peers: [] }));
  const denied = await FakeUapiServer.start(runDir, { name: 'wgm-err', peers: [] });
  denied.getReply = 'errno=13\n\n';
  fakes.push(denied);
  const bare = await FakeUapiServer.start(runDir, { name: 'wgm-bare', peers: [{ publicKey: key(42), allowedIps: [] }] });
  bare.getReply = `public_key=${'2a'.repeat(32)}\nerrno=0\n\n`;
  fakes.push(bare);
});

afterAll(async () => {
  for (const f of fakes) await f.close();
  rmSync(runDir, { recursive: true, force: true });
});

describe.skipIf(!hasWg)('show against the real wg', () => {
  const FIELDS = [...SHOW_FIELDS];

  it('pretty, in both colour modes and with WG_HIDE_KEYS=never', async () => {
    const envs: Array<Record<string, string>> = [{}, { WG_COLOR_MODE: 'always' }, { WG_COLOR_MODE: 'never' }, { WG_HIDE_KEYS: 'never' }];
    for (const env of envs) {
      await compare(['wgm-one'], env);
      await compare(['wgm-empty'], env);
      await compare(['wgm-bare'], env);
    }
    const colored = await compare(['wgm-one'], { WG_COLOR_MODE: 'always', WG_HIDE_KEYS: 'never' });
    expect(colored.out).toContain('\x1b[32m\x1b[1minterface\x1b[0m');
  });

  it('colours by default on a terminal, as wg decides with isatty', async () => {
    for (let attempt = 0; ; attempt++) {
      const t0 = BigInt(Math.floor(Date.now() / 1000));
      fakes[0]!.device = richDevice('wgm-one', t0);
      const wg = await runWgAgainst(runDir, ['show', 'wgm-one'], {}, { tty: true });
      const ours = await runWgts(['wgm-one'], {}, t0, true);
      if (BigInt(Math.floor(Date.now() / 1000)) !== t0 && attempt < 5) continue;
      expect(ours.out).toBe(wg.out.replaceAll('\r\n', '\n'));
      expect(ours.out).toContain('\x1b[33m\x1b[1mpeer\x1b[0m');
      break;
    }
  });

  it('every field of one interface', async () => {
    for (const f of FIELDS) await compare(['wgm-one', f], { WG_COLOR_MODE: 'always' });
    await compare(['wgm-empty', 'dump']);
    await compare(['wgm-bare', 'dump']);
  });

  it('all, all with fields, interfaces, with an unreadable interface among them', async () => {
    await compare([]);
    await compare(['all'], { WG_COLOR_MODE: 'always' });
    await compare(['interfaces']);
    for (const f of FIELDS) {
      // Debian's wg 1.0.20210914 prints the interface name only on the first `all endpoints`
      // line (a bug fixed upstream, docs/compatibility.md); we follow upstream, so we add it back to wg's.
      const fixEndpoints =
        f === 'endpoints'
          ? (out: string) =>
              out
                .split('\n')
                .map((l) => (l && !l.startsWith('wgm-') ? `${lastIface}\t${l}` : ((lastIface = l.split('\t')[0]!), l)))
                .join('\n')
          : undefined;
      let lastIface = '';
      await compare(['all', f], {}, fixEndpoints);
    }
  });

  it('errors: unknown interface, bad field, usage, help', async () => {
    await compare(['wgm-nosuch']);
    await compare(['wgm-err']);
    await compare(['wgm-one', 'bogus']);
    await compare(['all', 'bogus']);
    await compare(['wgm-nosuch', 'bogus']);
    await compare(['interfaces', 'dump']);
    await compare(['a', 'b', 'c']);
    await compare(['-h', 'dump']);
  });

  it('help: wg\'s usage line, then the --json form (also for `--json --help`)', async () => {
    const jsonLine = 'Usage: wg show --json [--show-keys] [<interface> | all]\n';
    for (const h of ['-h', '--help', 'help']) {
      const wg = await runWg([h]);
      for (const args of [[h], ['--json', h], [h, '--json']]) {
        const ours = await runWgts(args);
        expect(ours.err, args.join(' ')).toBe(wg.err + jsonLine);
        expect([ours.out, ours.rc], args.join(' ')).toEqual([wg.out, 0]);
      }
    }
  });
});

describe('show units (no wg needed)', () => {
  it('durations, ago and bytes', () => {
    expect(stripAnsi(prettyTime(3726n))).toBe('1 hour, 2 minutes, 6 seconds');
    expect(stripAnsi(prettyTime(3661n))).toBe('1 hour, 1 minute, 1 second');
    expect(stripAnsi(prettyTime(YEAR + 1n))).toBe('1 year, 1 second');
    expect(ago(5n, 5n)).toBe('Now');
    expect(stripAnsi(ago(6n, 5n))).toBe('(System clock wound backward; connection problems may ensue.)');
    expect(stripAnsi(formatBytes(1023n))).toBe('1023 B');
    expect(stripAnsi(formatBytes(3n * 1024n * 1024n))).toBe('3.00 MiB');
    expect(stripAnsi(formatBytes(1024n ** 4n))).toBe('1.00 TiB');
    expect(stripAnsi(formatBytes(1029n))).toBe('1.00 KiB'); // 1.0048828125 -> half-even
    expect(stripAnsi(formatBytes(1034n))).toBe('1.01 KiB');
  });

  it('strips ESC [ ... letter only when colour is off, per printf call', () => {
    expect(stripAnsi('\x1b[0m')).toBe('');
    expect(stripAnsi('a\x1b[1;32mb')).toBe('ab');
    expect(stripAnsi('ab\x1b[')).toBe('ab\x1b['); // too close to the end: kept, as wg keeps it
    expect(stripAnsi('\x1b[12')).toBe('');
  });

  it('--json: schema, redaction, exact counters, errors', async () => {
    const now = BigInt(Math.floor(Date.now() / 1000));
    for (const f of fakes) if (f.getReply === undefined) f.device = richDevice(f.device.name, now);
    const r = await runWgts(['--json', 'wgm-one'], {}, now);
    expect(r.rc).toBe(0);
    expect(r.out).toContain('"txBytes": 18446744073709551615');
    const doc = JSON.parse(r.out);
    expect(doc.schema).toBe(1);
    const dev = doc.interfaces[0];
    expect(Object.keys(dev)).toEqual(['name', 'publicKey', 'privateKey', 'listenPort', 'fwmark', 'peers']);
    expect(dev).toMatchObject({ name: 'wgm-one', privateKey: '(hidden)', listenPort: 51820, fwmark: 0xca6c });
    expect(dev.publicKey).toBe(keyToBase64(publicKeyFromPrivate(richDevice('x', 0n).privateKey!)));
    const p2 = dev.peers.find((p: { persistentKeepalive: number }) => p.persistentKeepalive === 25);
    expect(Object.keys(p2)).toEqual([
      'publicKey',
      'presharedKey',
      'endpoint',
      'allowedIps',
      'latestHandshake',
      'latestHandshakeUnix',
      'latestHandshakeAgeSeconds',
      'rxBytes',
      'txBytes',
      'persistentKeepalive',
    ]);
    expect(p2).toMatchObject({
      presharedKey: '(hidden)',
      endpoint: '192.0.2.1:51820',
      allowedIps: ['10.0.0.2/32', 'fd00::2/128', '0.0.0.0/0'],
      latestHandshakeUnix: Number(now),
      latestHandshakeAgeSeconds: 0,
      rxBytes: 1023,
      txBytes: 1024,
    });
    expect(p2.latestHandshake).toBe(new Date(Number(now) * 1000).toISOString().replace('.000Z', '.000000000Z'));
    const never = dev.peers[0];
    expect(never).toMatchObject({ latestHandshake: null, latestHandshakeUnix: 0, latestHandshakeAgeSeconds: null });
    const shown = JSON.parse((await runWgts(['wgm-one', '--show-keys', '--json'], {}, now)).out);
    expect(shown.interfaces[0].privateKey).toBe('SE9SUw0bB9czBZyBdDnuA9tMXYjCmUUHd5FQxhzoWFc=');
    const all = await runWgts(['--json'], {}, now);
    expect(all.rc).toBe(0);
    const docAll = JSON.parse(all.out);
    expect(docAll.interfaces.map((d: { name: string }) => d.name).sort()).toEqual(
      ['wgm-bare', 'wgm-empty', 'wgm-err', 'wgm-one'],
    );
    expect(docAll.interfaces.find((d: { name: string }) => d.name === 'wgm-err')).toEqual({
      name: 'wgm-err',
      error: 'Permission denied',
    });
    expect(all.err).toBe('Unable to access interface wgm-err: Permission denied\n');
    const bad = await runWgts(['--json', 'wgm-nosuch']);
    expect(bad.rc).toBe(1);
    expect(bad.out).toBe('');
    expect((await runWgts(['--json', 'wgm-one', 'dump'])).rc).toBe(1);
    expect((await runWgts(['--show-keys', 'wgm-one'])).err).toMatch(/^Usage: wg show --json/);
  });
});

describe('documented jq example for stale peers', () => {
  // One document: a fresh peer, a stale one, and one that never completed a handshake (age null).
  const doc = JSON.stringify({
    schema: 1,
    interfaces: [{ name: 'wg0', peers: [
      { publicKey: 'fresh=', latestHandshakeAgeSeconds: 5 },
      { publicKey: 'stale=', latestHandshakeAgeSeconds: 600 },
      { publicKey: 'never=', latestHandshakeAgeSeconds: null },
    ] }],
  });
  const filters = (text: string): string[] => [...text.matchAll(/jq (?:\\?-r )?'([^']*latestHandshakeAgeSeconds[^']*)'/g)].map((m) => m[1]!);
  const sources = { 'man/wgts.8': readFileSync('man/wgts.8', 'utf8').replaceAll('\\-', '-'), 'README.md': readFileSync('README.md', 'utf8') };
  it.each(Object.entries(sources))('%s selects stale and never-handshaken peers', (_, text) => {
    const found = filters(text);
    expect(found.length).toBeGreaterThan(0);
    for (const f of found) {
      const out = execFileSync('jq', ['-r', f], { input: doc, encoding: 'utf8' });
      expect(out).toBe('stale=\nnever=\n');
    }
  });
});

