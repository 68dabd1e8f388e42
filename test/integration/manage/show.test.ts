/**
 * Differential test: every `show` / `showconf` form of the real `wg` and of `wgts` against the same
 * live wireguard-go device with 45 peers of every shape, plus one peer that really handshakes and
 * moves bytes (a second wireguard-go across a veth).
 *
 * Allowances, each for a documented reason:
 * - wireguard-go lists peers in Go map order, different on every call: where wg does not sort,
 *   peer lines / blocks / sections are compared as sets; the pretty output is compared exactly for
 *   the header and the handshaken peers (wg sorts those), as a set for the rest.
 * - Debian's wg 1.0.20210914 prints the interface name only on the first line of
 *   `show all endpoints` (fixed upstream, docs/compatibility.md); wgts follows upstream, so wg's missing
 *   prefixes are added back before comparing.
 * - Counters and "ago" move with time: when wgts differs from wg, wg is run again, and the
 *   comparison is repeated if wg's two outputs differ (the state moved in between).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyToBase64 } from '../../../src/conf/keys.js';
import { generatePresharedKey, generatePrivateKey, publicKeyFromPrivate } from '../../../src/crypto/primitives.js';
import { run, type Netns, type RunResult } from '../helpers/netns.js';
import { SHOW_FIELDS } from '../../../src/cli/show.js';
import { ManageLab, confShape, haveTools, inBatches, prettyBlocks, sortedLines } from './lab.js';

const FIELDS = [...SHOW_FIELDS];

const b64 = (k: Uint8Array) => keyToBase64(k);

/** 45 peers of every shape, as a wg config. */
function peersConfig(): string {
  const lines: string[] = [];
  for (let i = 0; i < 45; i++) {
    lines.push('[Peer]', `PublicKey = ${b64(publicKeyFromPrivate(generatePrivateKey()))}`);
    if (i % 2) lines.push(`PresharedKey = ${b64(generatePresharedKey())}`);
    const ips: string[] = [];
    if (i % 4 === 1) ips.push(`10.10.${i}.1/32`);
    if (i % 4 === 2)
      ips.push(`10.20.${i}.0/24`, `fd00:${i}::/64`, `fd01::${i}/128`, `::ffff:10.30.${i}.1/128`, `0.0.0.0/${i % 9}`);
    if (i % 4 === 3) ips.push(`10.40.${i}.0/28`, `2001:db8:${i}:0:1::/80`);
    if (ips.length) lines.push(`AllowedIPs = ${ips.join(', ')}`);
    if (i % 3 === 0) lines.push(`Endpoint = 192.0.2.${i + 1}:${51820 + i}`);
    if (i % 3 === 1) lines.push(`Endpoint = [2001:db8::${i.toString(16)}]:${i + 1}`);
    if (i === 5) lines.push('Endpoint = [::ffff:198.51.100.5]:5');
    if (i % 5 === 0) lines.push('PersistentKeepalive = 25');
    if (i % 5 === 1) lines.push(`PersistentKeepalive = ${3600 + i}`);
    lines.push('');
  }
  return lines.join('\n');
}

const h = new ManageLab();
let a: Netns;
let b: Netns;
const dev = h.lab.ifname('s');
const other = h.lab.ifname('o');
const empty = h.lab.ifname('e');

beforeAll(async () => {
  a = await h.lab.netns();
  b = await h.lab.netns();
  await h.lab.veth(a, '10.77.0.1/24', b, '10.77.0.2/24');
  await h.device(a, dev);
  await h.device(a, empty);
  await h.device(b, other);
  const privA = generatePrivateKey();
  const privB = generatePrivateKey();
  const psk = b64(generatePresharedKey());
  const confA =
    `[Interface]\nPrivateKey = ${b64(privA)}\nListenPort = 41001\nFwMark = 0x1234\n\n` +
    `[Peer]\nPublicKey = ${b64(publicKeyFromPrivate(privB))}\nPresharedKey = ${psk}\nAllowedIPs = 10.88.0.2/32\nEndpoint = 10.77.0.2:41002\n\n` +
    peersConfig();
  const confB =
    `[Interface]\nPrivateKey = ${b64(privB)}\nListenPort = 41002\n\n` +
    `[Peer]\nPublicKey = ${b64(publicKeyFromPrivate(privA))}\nPresharedKey = ${psk}\nAllowedIPs = 10.88.0.1/32\n`;
  expect((await h.wg(a, ['setconf', dev, h.file('a.conf', confA)])).stderr).toBe('');
  expect((await h.wg(b, ['setconf', other, h.file('b.conf', confB)])).stderr).toBe('');
  await a.ip(['addr', 'add', '10.88.0.1/24', 'dev', dev]);
  await a.ip(['link', 'set', dev, 'up']);
  await b.ip(['addr', 'add', '10.88.0.2/24', 'dev', other]);
  await b.ip(['link', 'set', other, 'up']);
  await a.run(['ping', '-c', '2', '-i', '0.2', '-W', '5', '10.88.0.2']);
}, 60_000);

afterAll(() => h.cleanup());

type Norm = (out: string) => unknown;

/**
 * wg then wgts; equal output passes at once. Otherwise wg runs again: if the two wg runs differ the
 * state moved under us (a counter, a second of "ago") and the comparison is repeated.
 */
async function same(args: string[], norm: Norm, env: Record<string, string> = {}, fixWg?: (s: string) => string) {
  const key = (r: RunResult) => JSON.stringify([r.stderr, r.code, norm(fixWg ? fixWg(r.stdout) : r.stdout)]);
  const ours = (r: RunResult) => JSON.stringify([r.stderr, r.code, norm(r.stdout)]);
  for (let attempt = 0; ; attempt++) {
    const w1 = await h.wg(a, args, env);
    const t = await h.wgts(a, args, env);
    if (key(w1) === ours(t)) return t;
    const w2 = await h.wg(a, args, env);
    if (key(w1) !== key(w2) && attempt < 20) continue;
    expect(t.stderr, `stderr: ${args.join(' ')}`).toBe(w1.stderr);
    expect(norm(t.stdout), `stdout: ${args.join(' ')}`).toEqual(norm(fixWg ? fixWg(w1.stdout) : w1.stdout));
    expect(t.code, `exit code: ${args.join(' ')}`).toBe(w1.code);
    return t;
  }
}

/** Pretty output: header exact; handshaken peers (sorted by wg) exact and first; the rest as a set. */
function prettyNorm(out: string) {
  return out.split(/\n(?=\x1b\[0m|interface: )/).map((devOut) => {
    const { header, peers } = prettyBlocks(devOut);
    const trimmed = peers.map((p) => p.trimEnd());
    const shaken = trimmed.filter((p) => p.includes('latest handshake'));
    return { header, shaken, rest: trimmed.filter((p) => !p.includes('latest handshake')).sort() };
  });
}

/**
 * `show all endpoints` from Debian's wg: it prints `<iface>\t` once per device before the peer loop,
 * so the name sits on the first peer line only, and a device without peers leaves a dangling
 * `<iface>\t` that runs into the next device's first line. Rebuild upstream's form from that.
 */
function fixAllEndpoints(out: string): string {
  let iface = '';
  const lines: string[] = [];
  for (const l of out.split('\n')) {
    const parts = l.split('\t');
    if (parts.length >= 3) {
      iface = parts[parts.length - 3]!;
      lines.push(parts.slice(-3).join('\t'));
    } else if (parts.length === 2 && parts[1] !== '') lines.push(`${iface}\t${l}`);
    else if (parts.length === 1) lines.push(l);
  }
  return lines.join('\n').replace(/\n?$/, '\n');
}

describe.skipIf(!haveTools())('show/showconf vs wg on a live wireguard-go device', { timeout: 120_000 }, () => {
  it('has what the test needs: a handshake and traffic on one peer', async () => {
    const r = await h.wg(a, ['show', dev, 'latest-handshakes']);
    expect(r.stdout.split('\n').filter((l) => l && !l.endsWith('\t0'))).toHaveLength(1);
    expect((await h.wg(a, ['show', dev, 'peers'])).stdout.trim().split('\n')).toHaveLength(46);
  });

  it('pretty, colours on and off, keys shown', async () => {
    const envs: Array<Record<string, string>> = [{}, { WG_COLOR_MODE: 'always' }, { WG_HIDE_KEYS: 'never', WG_COLOR_MODE: 'never' }];
    // One at a time: "ago" changes every second; a comparison that straddles a second is retried.
    await inBatches(envs, 1, async (env) => {
      await same(['show', dev], prettyNorm, env);
      await same(['show', empty], prettyNorm, env);
      await same(['show'], prettyNorm, env);
      await same(['show', 'all'], prettyNorm, env);
    });
  });

  it('every field, for one interface and for all', async () => {
    await inBatches(FIELDS, 4, async (f) => {
      await same(['show', dev, f], sortedLines, { WG_COLOR_MODE: 'always' });
      await same(['show', 'all', f], sortedLines, {}, f === 'endpoints' ? fixAllEndpoints : undefined);
    });
    await same(['show', 'interfaces'], (s) => s.trim().split(' ').sort());
  });

  it('showconf', async () => {
    await same(['showconf', dev], confShape);
    await same(['showconf', empty], confShape);
  });

  it('errors and usage', async () => {
    const ident = (s: string) => s;
    const cases = [
      ['show', 'wgmnosuch0'],
      ['show', dev, 'bogus'],
      ['show', 'all', 'bogus'],
      ['show', 'interfaces', 'x'],
      ['showconf'],
      ['showconf', 'wgmnosuch0'],
      ['showconf', '--help'],
      ['show', 'a', 'b', 'c'],
    ];
    await inBatches(cases, 4, (args) => same(args, ident));
  });

  it('show --help: wg\'s usage, then the --json form wgts adds', async () => {
    const w = await h.wg(a, ['show', '--help']);
    const t = await h.wgts(a, ['show', '--help']);
    const argv0 = /^Usage: (\S+) show/.exec(t.stderr)?.[1];
    expect(t.stderr).toBe(w.stderr.replace(/^Usage: \S+/, `Usage: ${argv0}`) + `Usage: ${argv0} show --json [--show-keys] [<interface> | all]\n`);
    expect([t.stdout, t.code]).toEqual([w.stdout, w.code]);
  });

  it('non-root: Permission denied on the UAPI socket, for show and set', async () => {
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    for (const args of [['show', dev], ['show'], ['set', dev, 'listen-port', '5']]) {
      const w = await run(h.wrap(a, [...nobody, 'wg', ...args]), { check: false });
      const t = await run(h.wrap(a, [...nobody, h.wgtsPath, ...args]), { check: false });
      expect(t.stderr, args.join(' ')).toBe(w.stderr);
      expect(t.stdout, args.join(' ')).toBe(w.stdout);
      expect(t.code, args.join(' ')).toBe(w.code);
    }
  });

  it('show --json agrees with dump', async () => {
    const json = JSON.parse((await h.wgts(a, ['show', '--json', '--show-keys', dev])).stdout);
    const dump = (await h.wg(a, ['show', dev, 'dump'])).stdout.trim().split('\n');
    const d = json.interfaces[0];
    expect([d.privateKey, d.publicKey, String(d.listenPort), d.fwmark ? `0x${d.fwmark.toString(16)}` : 'off']).toEqual(
      dump[0]!.split('\t'),
    );
    const fromJson = d.peers
      .map((p: Record<string, unknown>) =>
        [
          p.publicKey,
          p.presharedKey ?? '(none)',
          p.endpoint ?? '(none)',
          (p.allowedIps as string[]).join(',') || '(none)',
          p.latestHandshakeUnix,
          p.rxBytes,
          p.txBytes,
          p.persistentKeepalive || 'off',
        ].join('\t'),
      )
      .sort();
    // Counters may have moved between the two runs only for the one live peer.
    const live = (l: string) => !l.startsWith(d.peers.find((p: { rxBytes: number }) => p.rxBytes > 0)?.publicKey);
    expect(fromJson.filter(live)).toEqual(dump.slice(1).sort().filter(live));
  });
});

