/**
 * wgts-userspace as the receiver of bad traffic, with wireguard-go as its real peer: an inner source
 * outside the peer's allowed IPs, a replayed data packet, 100k garbage datagrams and a flood of
 * handshake initiations (under-load mode: cookie replies), after which the real peer still connects.
 *
 * Absence is checked with a barrier instead of a sleep: after the packet that must be dropped, a
 * good packet is sent on the same path; once the good one is seen on wgts' TUN, the bad one would
 * have been seen before it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type Spawned, waitFor } from '../helpers/netns.js';
import { ROOT, type Side, daemonPids, makePair, ping, wg } from './fixture.js';

describe('wgts-userspace under hostile input (peer: wireguard-go)', () => {
  const lab = new Lab('wgd');
  let a: Side; // wgts, the target
  let b: Side; // wireguard-go
  let tunDump: Spawned; // inner UDP to port 5555 as delivered on a's TUN, payload in ASCII

  beforeAll(async () => {
    [a, b] = await makePair(lab, 'wgts', 'go');
    await ping(a, b.inner4, { count: 1 });
    tunDump = a.ns.spawn(['tcpdump', '-l', '-n', '-A', '-i', a.ifname, 'udp and dst port 5555']);
    await waitFor(() => tunDump.stderr().includes('listening on'), { what: 'tcpdump on the TUN' });
  }, 60_000);
  afterAll(() => lab.cleanup(), 30_000);

  /** Sends one inner UDP datagram `text` from b to a:5555 (optionally from another inner source). */
  async function sendInner(text: string, source?: string): Promise<void> {
    await b.ns.run(['node', '-e', SEND, a.inner4, '5555', Buffer.from(text).toString('hex'), source ?? '']);
  }

  const seen = (marker: string): number => tunDump.stdout().split(marker).length - 1;

  async function barrier(tag: string): Promise<void> {
    const marker = `barrier-${tag}-${Math.random().toString(36).slice(2)}`;
    await sendInner(marker);
    await waitFor(() => seen(marker) === 1, { what: `barrier ${tag}` });
  }

  it('drops a packet whose inner source is not in the peer\'s allowed IPs', async () => {
    await b.ns.ip(['addr', 'add', '10.0.0.9/24', 'dev', b.ifname]);
    await sendInner('spoofed-source', '10.0.0.9');
    await barrier('source');
    expect(seen('spoofed-source')).toBe(0);
    // Control: the same datagram from an allowed source arrives.
    await sendInner('allowed-source', b.inner4);
    await waitFor(() => seen('allowed-source') === 1, { what: 'allowed source delivered' });
  });

  it('drops a replayed data packet', async () => {
    // Capture the outer datagram that carries the marker (b -> a, WireGuard data, type 4).
    const outer = a.ns.spawn(['tcpdump', '-l', '-n', '-x', '-i', a.link, `udp and dst port ${a.port} and udp[8] = 4 and greater 100`]);
    await waitFor(() => outer.stderr().includes('listening on'), { what: 'tcpdump on the veth' });
    await sendInner('replay-me');
    await waitFor(() => seen('replay-me') === 1, { what: 'original delivered' });
    const hex = await waitFor(() => lastPacketHex(outer.stdout()), { what: 'captured data packet' });
    outer.kill();
    const ip = Buffer.from(hex, 'hex');
    const payload = ip.subarray((ip[0]! & 0x0f) * 4 + 8);
    expect(payload[0]).toBe(4);
    // Re-send the exact datagram from b's address and port.
    await b.ns.run(['node', '-e', SEND, a.outer4, String(a.port), payload.toString('hex'), '']);
    await barrier('replay');
    expect(seen('replay-me')).toBe(1);
  });

  it('survives 100k garbage datagrams and a handshake-initiation flood, answers with cookies, and the real peer still connects', async () => {
    const pid = (await daemonPids(a.ifname))[0];
    expect(pid).toBeGreaterThan(0);
    const cookies = b.ns.spawn(['tcpdump', '-l', '-n', '-i', b.link, `udp and src port ${a.port} and udp[8] = 3`]);
    await waitFor(() => cookies.stderr().includes('listening on'), { what: 'tcpdump for cookie replies' });
    // The flood generator runs in b's namespace; it needs the receiver's public key for a valid mac1.
    const r = await b.ns.run(['node', '--input-type=module', '-e', FLOOD, a.outer4, String(a.port), a.publicKey], { cwd: ROOT, timeout: 120_000 });
    expect(r.stdout).toMatch(/sent 100000 garbage, 5000 initiations/);
    await waitFor(() => cookies.stdout().split('\n').filter(Boolean).length > 0, { what: 'a cookie reply', timeout: 10_000 });
    cookies.kill();
    // Still alive, same process, still answering UAPI.
    expect(await daemonPids(a.ifname)).toEqual([pid]);
    expect((await wg(a, ['show', a.ifname, 'listen-port'])).stdout.trim()).toBe(String(a.port));
    // The real peer makes a fresh handshake (cookie round trip if still under load) and gets through.
    await wg(b, ['set', b.ifname, 'peer', a.publicKey, 'remove']);
    await wg(b, ['set', b.ifname, 'peer', a.publicKey, 'allowed-ips', `${a.inner4}/32,${a.inner6}/128`, 'endpoint', `${a.outer4}:${a.port}`]);
    await ping(b, a.inner4, { timeout: 30_000, count: 2 });
  }, 120_000);
});

/** The hex of the last packet in `tcpdump -x` output, or undefined. */
function lastPacketHex(out: string): string | undefined {
  const packets: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{2,4}\s?)+)/.exec(line);
    if (m) packets[packets.length - 1] += m[1]!.replace(/\s+/g, '');
    else if (line.trim()) packets.push('');
  }
  return packets.filter(Boolean).at(-1);
}

/** node -e SEND HOST PORT HEX [SOURCE]: one UDP datagram. */
const SEND = `
const [host, port, hex, source] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
s.bind({ address: source || undefined, port: 0 }, () => s.send(Buffer.from(hex, 'hex'), Number(port), host, () => s.close()));
`;

/** Flood generator: 100k random datagrams, then 5000 initiations with a valid mac1 (random content). */
const FLOOD = `
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
const [host, portText, pubB64] = process.argv.slice(1);
const port = Number(portText);
const pub = Buffer.from(pubB64, 'base64');
const mac1Key = blake2s(Buffer.concat([Buffer.from('mac1----'), pub]));
const sock = dgram.createSocket('udp4');
const sendAll = async (make, n) => {
  for (let i = 0; i < n; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, n - i) }, () => new Promise((res) => sock.send(make(), port, host, () => res()))));
  }
};
await sendAll(() => randomBytes(1 + Math.floor(Math.random() * 200)), 100000);
await sendAll(() => {
  const m = randomBytes(148);
  m[0] = 1; m[1] = 0; m[2] = 0; m[3] = 0;
  m.set(blake2s(m.subarray(0, 116), { key: mac1Key, dkLen: 16 }), 116);
  m.fill(0, 132);
  return m;
}, 5000);
sock.close();
console.log('sent 100000 garbage, 5000 initiations');
`;
