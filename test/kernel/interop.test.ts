// A kernel WireGuard device and a wgts-userspace device, in two namespaces, pass ping and TCP both
// ways. The kernel device is created and configured by wgts itself (rtnl.createLink +
// NetlinkBackend.set) in the VM's main namespace, then moved into namespace A — as the kernel
// selftest does, its UDP socket stays where it was born and reaches B over a veth pair. The
// userspace side runs bin/wgts-userspace in namespace B, configured with `wg` over UAPI.
// WGTS_INTEROP_PEER=wireguard-go swaps the userspace side for wireguard-go (to tell the two apart
// when something fails).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { NetlinkBackend } from '../../src/netlink/backend.js';
import { createLink } from '../../src/netlink/rtnl.js';
import { keyFromBase64 } from '../../src/conf/keys.js';
import { REPO, requireVm, run, sh, testKeyB64, waitFor } from './helpers.js';

requireVm();

const tag = randomBytes(3).toString('hex');
const A = `wgts-k-a-${tag}`;
const B = `wgts-k-b-${tag}`;
const KDEV = 'wgk5';
const UDEV = 'wgk6';
const impl = process.env.WGTS_INTEROP_PEER === 'wireguard-go' ? ['wireguard-go'] : [process.execPath, `${REPO}/bin/wgts-userspace`];

beforeAll(async () => {
  const ka = testKeyB64('interop-a');
  const kb = testKeyB64('interop-b');
  const pa = sh(`echo ${ka} | wg pubkey`).trim();
  const pb = sh(`echo ${kb} | wg pubkey`).trim();
  sh(`ip netns add ${A} && ip netns add ${B} && ip -n ${A} link set lo up && ip -n ${B} link set lo up`);
  sh(`ip link add vk0 type veth peer name vk1 && ip link set vk1 netns ${B}`);
  sh(`ip addr add 192.168.241.1/24 dev vk0 && ip link set vk0 up`);
  sh(`ip -n ${B} addr add 192.168.241.2/24 dev vk1 && ip -n ${B} link set vk1 up`);

  await createLink(KDEV);
  await new NetlinkBackend().set({
    name: KDEV,
    privateKey: keyFromBase64(ka)!,
    listenPort: 51900,
    peers: [
      {
        publicKey: keyFromBase64(pb)!,
        endpoint: { family: 4, host: '192.168.241.2', port: 51901 },
        allowedIps: [
          { family: 4, addr: new Uint8Array([10, 201, 0, 2]), cidr: 32 },
          { family: 6, addr: Uint8Array.from([0xfd, 1, ...new Array(13).fill(0), 2]), cidr: 128 },
        ],
      },
    ],
  });
  sh(`ip link set ${KDEV} netns ${A}`);
  sh(`ip -n ${A} addr add 10.201.0.1/24 dev ${KDEV} && ip -n ${A} addr add fd01::1/64 dev ${KDEV} && ip -n ${A} link set ${KDEV} up`);

  const started = await run(['ip', 'netns', 'exec', B, ...impl, UDEV], { env: { WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' } });
  expect(started.status, started.stderr).toBe(0);
  await waitFor(`${UDEV} UAPI socket`, () => sh(`ls /var/run/wireguard/`).includes(`${UDEV}.sock`), 60_000);
  sh(`echo ${kb} > /tmp/kb && ip netns exec ${B} wg set ${UDEV} private-key /tmp/kb listen-port 51901 peer ${pa} allowed-ips 10.201.0.1/32,fd01::1/128 endpoint 192.168.241.1:51900`);
  sh(`ip -n ${B} addr add 10.201.0.2/24 dev ${UDEV} && ip -n ${B} addr add fd01::2/64 dev ${UDEV} && ip -n ${B} link set ${UDEV} up`);
});

afterAll(() => {
  sh(`ip -n ${B} link del ${UDEV} 2>/dev/null; ip netns del ${A} 2>/dev/null; ip netns del ${B} 2>/dev/null; ip link del vk0 2>/dev/null; true`);
});

const ping = (ns: string, addr: string) => run(['ip', 'netns', 'exec', ns, 'ping', '-c', '1', '-W', '5', addr]);

describe('kernel <-> wgts-userspace', () => {
  test('ping both ways, IPv4 and IPv6', async () => {
    // The first packet waits for the handshake (JS crypto under TCG: allow time).
    await waitFor('first ping A -> B', async () => (await ping(A, '10.201.0.2')).status === 0, 90_000);
    for (const [ns, addr] of [[A, '10.201.0.2'], [B, '10.201.0.1'], [A, 'fd01::2'], [B, 'fd01::1']] as const) {
      const r = await ping(ns, addr);
      expect(r.status, `${ns} ping ${addr}: ${r.stdout}`).toBe(0);
    }
    // Both sides saw the handshake: wgts reads the kernel side.
    const dump = sh(`ip netns exec ${A} node ${REPO}/bin/wgts show ${KDEV} latest-handshakes`);
    expect(dump).toMatch(/\t[1-9][0-9]+\n$/);
  });

  test('TCP both ways (iperf3, 256 KiB each)', async () => {
    for (const [server, client, addr] of [[B, A, '10.201.0.2'], [A, B, '10.201.0.1']] as const) {
      sh(`ip netns exec ${server} iperf3 -s -1 -D -B ${addr} -p 5201 --logfile /tmp/iperf-${server}.log`);
      await waitFor(`iperf3 server in ${server}`, () => sh(`ip netns exec ${server} ss -ltn`).includes(`${addr}:5201`));
      const r = await run(['ip', 'netns', 'exec', client, 'iperf3', '-c', addr, '-p', '5201', '-n', '256K', '--connect-timeout', '20000']);
      expect(r.status, `${client} -> ${addr}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/receiver/);
    }
  });
});
