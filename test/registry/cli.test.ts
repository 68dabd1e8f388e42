import { createServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeRegistryCommand, parseHostPort } from '../../src/cli/registry.js';
import { keyFromBase64 } from '../../src/conf/keys.js';
import { parsePrefix } from '../../src/registry/ip.js';
import { queryDns } from '../../src/registry/client.js';
import { rcodeOf } from '../../src/registry/wire.js';
import { MemoryBackend } from './memory-backend.js';

const ALICE = keyFromBase64('xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=')!;
const BOB = keyFromBase64('syKB97XhGnvC+kynh2KqQJPXoOoOpx/HmpMRTc+r4js=')!;

function capture() {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  return { out: () => out, err: () => err };
}
afterEach(() => vi.restoreAllMocks());

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('wgts registry (CLI)', () => {
  const registry = new MemoryBackend({
    name: 'wgr0',
    peers: [{ publicKey: BOB, endpoint: { family: 4, host: '198.51.100.2', port: 4444 }, allowedIps: [parsePrefix('10.0.0.2/32')!] }],
  });
  const cmd = makeRegistryCommand({ backend: registry });

  it('refuses a wildcard listen address unless asked', async () => {
    const io = capture();
    expect(await cmd.run('wgts', ['serve', 'wgr0', '--listen', '0.0.0.0:5353'])).toBe(1);
    expect(await cmd.run('wgts', ['serve', 'wgr0', '--listen', '[::]:5353'])).toBe(1);
    expect(io.err()).toMatch(/refusing to serve on the wildcard address `0\.0\.0\.0'.*--allow-wildcard/);
  });

  it('needs an address when the interface has none', async () => {
    const io = capture();
    expect(await cmd.run('wgts', ['serve', 'wgrnone0'])).toBe(1);
    expect(io.err()).toMatch(/interface `wgrnone0' has no address to serve on/);
  });

  it('serves until SIGTERM, and discover (once) sets the endpoint it learns', async () => {
    const io = capture();
    const port = await freePort();
    const serving = cmd.run('wgts', ['serve', 'wgr0', '--zone', 'Example.COM.', `--listen=127.0.0.1:${port}`]);
    await vi.waitFor(() => expect(io.out()).toMatch(/serving _wireguard\._udp\.example\.com for wgr0 on 127\.0\.0\.1:\d+/));
    expect(rcodeOf(await queryDns({ host: '127.0.0.1', port }, '_wireguard._udp.example.com', 'PTR'))).toBe(0);

    const alice = new MemoryBackend({ name: 'wgr1', publicKey: ALICE, peers: [{ publicKey: BOB, allowedIps: [] }] });
    const client = makeRegistryCommand({ backend: alice });
    expect(await client.run('wgts', ['discover', 'wgr1', '--registry', `127.0.0.1:${port}`, '--zone', 'example.com'])).toBe(0);
    expect(alice.device.peers[0]!.endpoint).toEqual({ family: 4, host: '198.51.100.2', port: 4444 });
    expect(io.out()).toContain('wgr1: peer syKB97XhGnvC+kynh2KqQJPXoOoOpx/HmpMRTc+r4js=: endpoint 198.51.100.2:4444 (was (none))');

    process.emit('SIGTERM');
    expect(await serving).toBe(0);
  });

  it('with --interval, follows endpoint changes until SIGTERM', async () => {
    capture();
    const port = await freePort();
    const serving = cmd.run('wgts', ['serve', 'wgr0', `--listen=127.0.0.1:${port}`]);
    const alice = new MemoryBackend({ name: 'wgr1', peers: [{ publicKey: BOB, allowedIps: [] }] });
    const looping = makeRegistryCommand({ backend: alice }).run('wgts', ['discover', 'wgr1', '--registry', `127.0.0.1:${port}`, '--interval', '1']);
    await vi.waitFor(() => expect(alice.device.peers[0]!.endpoint?.port).toBe(4444), { timeout: 3000 });
    registry.device.peers[0]!.endpoint = { family: 4, host: '198.51.100.3', port: 5555 };
    await vi.waitFor(() => expect(alice.device.peers[0]!.endpoint).toEqual({ family: 4, host: '198.51.100.3', port: 5555 }), { timeout: 3000 });
    process.emit('SIGTERM');
    expect(await looping).toBe(0);
    expect(await serving).toBe(0);
    registry.device.peers[0]!.endpoint = { family: 4, host: '198.51.100.2', port: 4444 };
  });

  it('exits 1 and says why when the registry does not answer', async () => {
    const io = capture();
    const alice = new MemoryBackend({ name: 'wgr1', peers: [{ publicKey: BOB, allowedIps: [] }] });
    const client = makeRegistryCommand({ backend: alice });
    const port = await freePort();
    expect(await client.run('wgts', ['discover', 'wgr1', '--registry', `127.0.0.1:${port}`, '--timeout', '0.2'])).toBe(1);
    expect(io.err()).toMatch(/no answer from 127\.0\.0\.1:\d+ within 200 ms/);
  });

  it.each([
    [['discover', 'wgr1'], /needs --registry/],
    [['discover', 'wgr1', '--registry', 'registry.example:53'], /not <numeric address>/],
    [['discover', 'wgr1', '--registry', '10.0.0.1', '--interval', '0'], /--interval: `0' is not a number of seconds/],
    [['serve', 'wgr0', '--zone', 'bad..zone', '--listen', '127.0.0.1'], /not a valid DNS label/],
    [['serve', 'wgr0', '--bogus'], /Unknown option '--bogus'/],
    [['discover', 'wgr1', '--registry'], /--registry <value>' argument missing/],
    [['serve'], /exactly one interface/],
    [['frobnicate'], /unknown registry command `frobnicate'/],
  ])('rejects %j', async (args, message) => {
    const io = capture();
    expect(await cmd.run('wgts', args)).toBe(1);
    expect(io.err()).toMatch(message);
    expect(io.err()).toContain('Usage: wgts registry serve');
  });

  it('prints usage on --help (stdout, 0) and without a verb (stderr, 1)', async () => {
    const io = capture();
    expect(await cmd.run('wgts', ['--help'])).toBe(0);
    expect(io.out()).toContain('Usage: wgts registry serve <interface>');
    expect(await cmd.run('wgts', [])).toBe(1);
    expect(io.err()).toContain('Usage: wgts registry serve <interface>');
  });

  it.each([
    ['10.0.0.254', { host: '10.0.0.254', port: 53 }],
    ['10.0.0.254:5353', { host: '10.0.0.254', port: 5353 }],
    ['[fd00::1]:5353', { host: 'fd00::1', port: 5353 }],
    ['fd00::1', { host: 'fd00::1', port: 53 }],
    ['[fd00::1]', { host: 'fd00::1', port: 53 }],
  ])('parses %s', (text, expected) => {
    expect(parseHostPort(text, 'x')).toEqual(expected);
  });
});
