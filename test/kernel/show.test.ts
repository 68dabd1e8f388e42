// `wgts show` and `wgts showconf` print exactly what `wg` prints for kernel devices, in every form.
// Two kernel devices in the VM's namespace complete a real handshake over loopback (wgk0 sends
// into its tunnel, wgk1 answers), so handshake times and transfer counters are non-zero; a third
// device has no key at all; wgk0 also has an IPv6, a link-local (scoped) and an endpoint-less peer.
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatConfig } from '../../src/conf/write.js';
import { NetlinkBackend } from '../../src/netlink/backend.js';
import { requireVm, sh, testKeyB64, waitFor, wg, wgts, wgtsImplements, wgtsInProcess, type Result } from './helpers.js';

requireVm();

const FIELDS = [
  'public-key',
  'private-key',
  'listen-port',
  'fwmark',
  'peers',
  'preshared-keys',
  'endpoints',
  'allowed-ips',
  'latest-handshakes',
  'transfer',
  'persistent-keepalive',
  'dump',
];

/** "latest handshake: 3 seconds ago" may tick between the two runs; dump/latest-handshakes pin it exactly. */
const stableHandshake = (s: string) => s.replace(/latest handshake: .* ago/g, 'latest handshake: <t> ago');


beforeAll(async () => {
  const k0 = testKeyB64('show-k0');
  const k1 = testKeyB64('show-k1');
  const p0 = sh(`echo ${k0} | wg pubkey`).trim();
  const p1 = sh(`echo ${k1} | wg pubkey`).trim();
  sh('ip link add wgk0 type wireguard && ip link add wgk1 type wireguard && ip link add wgk2 type wireguard');
  writeFileSync(
    '/tmp/wgk0.conf',
    [
      '[Interface]',
      `PrivateKey = ${k0}`,
      'ListenPort = 51820',
      'FwMark = 0x20',
      '[Peer]',
      `PublicKey = ${p1}`,
      `PresharedKey = ${testKeyB64('show-psk')}`,
      'Endpoint = 127.0.0.1:51821',
      'AllowedIPs = 10.99.0.2/32, fd99::2/128',
      '[Peer]',
      `PublicKey = ${testKeyB64('show-scoped')}`,
      'Endpoint = [fe80::1%wgk2]:1234',
      'AllowedIPs = 10.77.0.0/16',
      '[Peer]',
      `PublicKey = ${testKeyB64('show-v6')}`,
      'Endpoint = [2001:db8::5]:443',
      'PersistentKeepalive = 25',
      'AllowedIPs = 192.168.0.0/24, ::/0',
      '[Peer]',
      `PublicKey = ${testKeyB64('show-bare')}`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    '/tmp/wgk1.conf',
    ['[Interface]', `PrivateKey = ${k1}`, 'ListenPort = 51821', '[Peer]', `PublicKey = ${p0}`,
      `PresharedKey = ${testKeyB64('show-psk')}`, 'Endpoint = 127.0.0.1:51820', 'AllowedIPs = 10.99.0.1/32', ''].join('\n'),
  );
  sh('wg setconf wgk0 /tmp/wgk0.conf && wg setconf wgk1 /tmp/wgk1.conf');
  sh('ip addr add 10.99.0.1/24 dev wgk0 && ip link set wgk0 up && ip link set wgk1 up');
  // One packet into the tunnel: the handshake completes and both sides count bytes.
  sh('ping -c1 -W1 -I wgk0 10.99.0.2 >/dev/null 2>&1 || true');
  await waitFor('a handshake on wgk0', () => !/\t0$/m.test(sh('wg show wgk0 latest-handshakes').split('\n')[0]!));
  // Freeze the counters: with both devices down no timer sends anything (no keepalive, no retried
  // handshake) between the wg and the wgts runs; a down device still reports everything.
  sh('ip link set wgk0 down && ip link set wgk1 down');
});

afterAll(() => {
  sh('for i in wgk0 wgk1 wgk2; do ip link del $i 2>/dev/null; done; true');
});

function same(ours: Result, theirs: Result, label: string, normalize = (s: string) => s): void {
  expect({ out: normalize(ours.stdout), err: ours.stderr, status: ours.status }, label).toEqual({
    out: normalize(theirs.stdout),
    err: theirs.stderr,
    status: theirs.status,
  });
}

describe('wgts show = wg show on kernel devices', () => {
  test('every field, for one interface and for all', async () => {
    const forms: string[][] = [];
    for (const f of FIELDS) forms.push(['show', 'wgk0', f], ['show', 'wgk2', f]);
    for (const f of FIELDS.filter((f) => f !== 'endpoints')) forms.push(['show', 'all', f]);
    forms.push(['show', 'interfaces'], ['show', 'wgk1', 'dump']);
    const theirs = await Promise.all(forms.map((args) => wg(args)));
    for (const [i, args] of forms.entries()) same(await wgtsInProcess(args), theirs[i]!, args.join(' '));
    // The dump really carries the live handshake and counters.
    expect(theirs[forms.findIndex((a) => a.join(' ') === 'show wgk1 dump')]!.stdout).toMatch(/\t[1-9][0-9]*\t[1-9][0-9]*\t[1-9][0-9]*\toff\n/);
  });

  test('show all endpoints prefixes every line (upstream; Debian wg prints the name once)', async () => {
    const ours = await wgtsInProcess(['show', 'all', 'endpoints']);
    let expected = '';
    for (const name of (await wg(['show', 'interfaces'])).stdout.trim().split(' ')) {
      for (const line of (await wg(['show', name, 'endpoints'])).stdout.split('\n').filter(Boolean)) {
        expected += `${name}\t${line}\n`;
      }
    }
    expect(ours).toEqual({ stdout: expected, stderr: '', status: 0 });
  });

  test('pretty: one interface, all, no arguments, keys shown or hidden', async () => {
    const forms: [string[], Record<string, string>][] = [
      [['show', 'wgk0'], {}],
      [['show', 'wgk0'], { WG_HIDE_KEYS: 'never' }],
      [['show'], {}],
      [['show', 'all'], { WG_HIDE_KEYS: 'never' }],
      [[], {}],
    ];
    for (const [args, env] of forms) {
      const [ours, theirs] = await Promise.all([wgtsInProcess(args, env), wg(args, env)]);
      same(ours, theirs, `${JSON.stringify(env)} ${args.join(' ')}`, stableHandshake);
    }
  });

  test('the real binary, end to end: dump and pretty', async () => {
    same(await wgts(['show', 'all', 'dump']), await wg(['show', 'all', 'dump']), 'bin/wgts show all dump');
    same(await wgts(['show', 'wgk0']), await wg(['show', 'wgk0']), 'bin/wgts show wgk0', stableHandshake);
  });

  test('errors: unknown device, non-WireGuard link; name too long is ENAMETOOLONG', async () => {
    for (const args of [['show', 'nonexist0'], ['show', 'lo'], ['show', 'nonexist0', 'dump']]) {
      const [ours, theirs] = await Promise.all([wgtsInProcess(args), wg(args)]);
      same(ours, theirs, args.join(' '));
    }
    const long = await wgtsInProcess(['show', 'wgkaaaaaaaaaaaaa']);
    expect(long.stderr).toBe('Unable to access interface: File name too long\n');
    expect(long.status).toBe(1);
  });
});

describe('showconf', () => {
  test('wgts showconf = wg showconf for every device (backend + formatConfig until the CLI lands)', async () => {
    const cli = await wgtsImplements('showconf');
    const backend = new NetlinkBackend();
    for (const name of ['wgk0', 'wgk1', 'wgk2']) {
      const theirs = await wg(['showconf', name]);
      expect(theirs.status).toBe(0);
      expect(formatConfig(await backend.get(name)), name).toBe(theirs.stdout);
      if (cli) same(await wgtsInProcess(['showconf', name]), theirs, `showconf ${name}`);
    }
    for (const name of ['nonexist0', 'lo']) {
      const theirs = await wg(['showconf', name]);
      await expect(backend.get(name)).rejects.toMatchObject({ errno: name === 'lo' ? 95 : 19 });
      if (cli) same(await wgtsInProcess(['showconf', name]), theirs, `showconf ${name}`);
    }
  });

  test('list = kernel links of kind wireguard in ifindex order', async () => {
    expect(await new NetlinkBackend().list()).toEqual((await wg(['show', 'interfaces'])).stdout.trim().split(' '));
  });
});
