// `wgts exporter` on kernel devices (generic netlink): two devices complete a handshake over
// loopback, are frozen (links down: no timer sends anything), and every scraped series carries the
// counters and handshake time the reference `wg show all dump` prints. The userspace backends are
// covered by test/integration/ops/exporter.test.ts.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requireVm, sh, testKeyB64, waitFor, wg, WGTS } from './helpers.js';

requireVm();

const PORT = 19586;
let exporter: ReturnType<typeof spawn> | undefined;

beforeAll(async () => {
  const [k0, k1] = [testKeyB64('exp-k0'), testKeyB64('exp-k1')];
  const [p0, p1] = [sh(`echo ${k0} | wg pubkey`).trim(), sh(`echo ${k1} | wg pubkey`).trim()];
  sh('ip link add wgke0 type wireguard && ip link add wgke1 type wireguard');
  sh(`echo ${k0} > /tmp/wgke0.key && echo ${k1} > /tmp/wgke1.key && chmod 600 /tmp/wgke0.key /tmp/wgke1.key`);
  sh(`wg set wgke0 private-key /tmp/wgke0.key listen-port 51830 peer ${p1} endpoint 127.0.0.1:51831 allowed-ips 10.98.0.2/32,fd98::2/128`);
  sh(`wg set wgke1 private-key /tmp/wgke1.key listen-port 51831 peer ${p0} endpoint 127.0.0.1:51830 allowed-ips 10.98.0.1/32`);
  sh('ip addr add 10.98.0.1/24 dev wgke0 && ip link set wgke0 up && ip link set wgke1 up');
  sh('ping -c1 -W1 -I wgke0 10.98.0.2 >/dev/null 2>&1 || true');
  await waitFor('a handshake on wgke0', () => !/\t0$/m.test(sh('wg show wgke0 latest-handshakes').split('\n')[0]!));
  sh('ip link set wgke0 down && ip link set wgke1 down');
  exporter = spawn(process.execPath, [WGTS, 'exporter', '--listen', `127.0.0.1:${PORT}`, 'wgke0', 'wgke1'], { stdio: 'ignore' });
  await waitFor('the exporter', async () => (await fetch(`http://127.0.0.1:${PORT}/metrics`).catch(() => undefined))?.status === 200, 60_000);
});

afterAll(() => {
  exporter?.kill('SIGKILL');
  sh('for i in wgke0 wgke1; do ip link del $i 2>/dev/null; done; rm -f /tmp/wgke0.key /tmp/wgke1.key; true');
});

describe('wgts exporter on kernel devices', () => {
  test('one series per peer and family, with the values of wg show dump', async () => {
    const body = await (await fetch(`http://127.0.0.1:${PORT}/metrics`)).text();
    const lines = body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    const expected: string[] = [];
    const rows = ['wgke0', 'wgke1'].flatMap((dev) =>
      sh(`wg show ${dev} dump`).trim().split('\n').slice(1).map((l) => [dev, ...l.split('\t')]),
    );
    for (const [name, i] of [['wireguard_sent_bytes_total', 7], ['wireguard_received_bytes_total', 6], ['wireguard_latest_handshake_seconds', 5]] as const) {
      for (const r of rows) expected.push(`${name}{interface="${r[0]}",public_key="${r[1]}",allowed_ips="${r[4]}"} ${r[i]}`);
    }
    expect(lines).toEqual(expected);
    expect((await wg(['show', 'wgke0', 'latest-handshakes'])).stdout).not.toMatch(/\t0\n/);
  });
});
