/**
 * Interop of the registry's DNS answers with a standard client: ISC `dig` (Debian bind9-dnsutils)
 * must parse, without a warning, what `wgts registry serve` sends, and read the records wgsd
 * documents (man/wgts-registry.8): PTR per peer with an endpoint, SRV `0 0 <port>
 * <instance>` with A/AAAA and TXT (`txtvers=1`, `pub=`, `allowed=`) in Additional, the same A/AAAA/TXT
 * asked directly, TTL 0, NXDOMAIN with the synthetic SOA (TTL 60) otherwise; over UDP, over TCP, and
 * after a truncated UDP answer (dig retries over TCP by itself). Instance names are computed here
 * with coreutils `base32`, not with src/registry/base32.ts. Skipped where dig is not installed.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistryServer, type RegistryServer } from '../../../src/registry/server.js';
import { parseAddress } from '../../../src/registry/ip.js';
import { formatIP } from '../../../src/conf/ip.js';
import { keyFromBase64 } from '../../../src/conf/keys.js';
import type { WgPeer } from '../../../src/conf/model.js';
import { parseDig, type DigResult } from './dig-output.js';

const HAVE_DIG = spawnSync('dig', ['-v']).status === 0;
const ZONE = 'example.com';
const SVC = `_wireguard._udp.${ZONE}`;
const ALICE = 'xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=';
const DAVE = 'HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=';
const CAROL = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

/** `<lower-case base32 of the key>._wireguard._udp.<zone>`, by coreutils. */
const instance = (b64: string) =>
  `${execFileSync('base32', ['-w0'], { input: Buffer.from(b64, 'base64') }).toString().trim().toLowerCase()}.${SVC}`;

/** A peer as the device reports it: key, optional `[host]:port` endpoint, allowed prefixes. */
function devicePeer(b64: string, endpoint: [host: string, port: number] | null, prefixes: string[]): WgPeer {
  return {
    publicKey: keyFromBase64(b64)!,
    ...(endpoint && { endpoint: { family: endpoint[0].includes(':') ? 6 : 4, host: endpoint[0], port: endpoint[1] } }),
    allowedIps: prefixes.map((p) => ({ ...parseAddress(p.split('/')[0]!)!, cidr: Number(p.split('/')[1]) })),
  };
}

/** Runs `dig` against the server (asynchronously: the server lives in this process) and reads its presentation-format output. */
async function dig(server: RegistryServer, name: string, type: string, ...opts: string[]): Promise<DigResult> {
  const { host, port } = server.addresses[0]!;
  const { stdout, stderr } = await promisify(execFile)('dig', [`@${host}`, '-p', String(port), '+norecurse', '+tries=1', '+time=2', ...opts, name, type], {
    encoding: 'utf8',
  });
  return parseDig(stdout, stderr);
}

describe.skipIf(!HAVE_DIG)('dig reads the registry as wgsd documents it', () => {
  let server: RegistryServer;
  let crowd: RegistryServer;
  const A = instance(ALICE);
  const D = instance(DAVE);
  const peers = [
    devicePeer(ALICE, ['203.0.113.1', 7777], ['10.0.0.1/32']),
    devicePeer(CAROL, null, ['10.0.0.3/32']),
    devicePeer(DAVE, ['2001:db8::7', 9999], ['10.0.0.4/32', 'fd00::4/128']),
  ];
  // Enough peers that the PTR answer (~60 bytes each) outgrows a 512-byte UDP reply.
  const many = Array.from({ length: 40 }, (_, i) =>
    devicePeer(Buffer.alloc(32, i + 1).toString('base64'), [`198.51.100.${i + 1}`, 20000 + i], [`10.1.0.${i + 1}/32`]),
  );

  // Peers whose allowed IPs outgrow one 255-byte TXT string: 31 IPv4 prefixes, and 20 IPv4 + 20 IPv6.
  const wide = [
    devicePeer(Buffer.alloc(32, 0x31).toString('base64'), ['198.51.100.31', 31031], Array.from({ length: 31 }, (_, i) => `10.31.${i}.0/24`)),
    devicePeer(Buffer.alloc(32, 0x40).toString('base64'), ['2001:db8::40', 40040], [
      ...Array.from({ length: 20 }, (_, i) => `10.40.${i}.0/24`),
      ...Array.from({ length: 20 }, (_, i) => `fd40:${i}::/64`),
    ]),
  ];
  let widened: RegistryServer;

  beforeAll(async () => {
    widened = await startRegistryServer({ listen: [{ host: '127.0.0.1', port: 0 }], zone: ZONE, getPeers: async () => wide, cacheMs: 0 });
    server = await startRegistryServer({ listen: [{ host: '127.0.0.1', port: 0 }], zone: ZONE, getPeers: async () => peers, cacheMs: 0 });
    crowd = await startRegistryServer({ listen: [{ host: '127.0.0.1', port: 0 }], zone: ZONE, getPeers: async () => many, cacheMs: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await crowd?.close();
    await widened?.close();
  });

  it('PTR lists the peers that have an endpoint, TTL 0, authoritative', async () => {
    const r = await dig(server, SVC, 'PTR');
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toContain('aa');
    expect(r.answer).toEqual([
      { name: `${SVC}.`, ttl: 0, type: 'PTR', data: `${A}.` },
      { name: `${SVC}.`, ttl: 0, type: 'PTR', data: `${D}.` },
    ]);
  });

  it('SRV gives the port, with A and TXT in Additional; the key is matched in any case', async () => {
    for (const name of [A, A.toUpperCase()]) {
      const r = await dig(server, name, 'SRV');
      expect(r.status).toBe('NOERROR');
      expect(r.answer).toEqual([{ name: `${A}.`, ttl: 0, type: 'SRV', data: `0 0 7777 ${A}.` }]);
      expect(r.additional).toEqual([
        { name: `${A}.`, ttl: 0, type: 'A', data: '203.0.113.1' },
        { name: `${A}.`, ttl: 0, type: 'TXT', data: `"txtvers=1" "pub=${ALICE}" "allowed=10.0.0.1/32"` },
      ]);
    }
    const v6 = await dig(server, D, 'SRV');
    expect(v6.answer).toEqual([{ name: `${D}.`, ttl: 0, type: 'SRV', data: `0 0 9999 ${D}.` }]);
    expect(v6.additional.map((a) => [a.type, a.data])).toEqual([
      ['AAAA', '2001:db8::7'],
      ['TXT', `"txtvers=1" "pub=${DAVE}" "allowed=10.0.0.4/32,fd00::4/128"`],
    ]);
  });

  it('A, AAAA and TXT asked directly', async () => {
    expect((await dig(server, A, 'A')).answer).toEqual([{ name: `${A}.`, ttl: 0, type: 'A', data: '203.0.113.1' }]);
    expect((await dig(server, D, 'AAAA')).answer).toEqual([{ name: `${D}.`, ttl: 0, type: 'AAAA', data: '2001:db8::7' }]);
    expect((await dig(server, A, 'TXT')).answer).toEqual([
      { name: `${A}.`, ttl: 0, type: 'TXT', data: `"txtvers=1" "pub=${ALICE}" "allowed=10.0.0.1/32"` },
    ]);
  });

  it('NXDOMAIN with the synthetic SOA (TTL 60) for a peer without endpoint, an unknown key, other names', async () => {
    for (const [name, type] of [[instance(CAROL), 'SRV'], [`${'a'.repeat(52)}====.${SVC}`, 'SRV'], [ZONE, 'A']]) {
      const r = await dig(server, name!, type!);
      expect(r.status, `${name} ${type}`).toBe('NXDOMAIN');
      expect(r.answer).toEqual([]);
      expect(r.authority).toEqual([
        { name: `${ZONE}.`, ttl: 60, type: 'SOA', data: `ns1.${ZONE}. postmaster.${ZONE}. 1 86400 7200 3600000 60` },
      ]);
    }
  });

  it('the same over TCP', async () => {
    const r = await dig(server, A, 'SRV', '+tcp');
    expect(r.answer).toEqual([{ name: `${A}.`, ttl: 0, type: 'SRV', data: `0 0 7777 ${A}.` }]);
    expect(r.additional.map((a) => a.type)).toEqual(['A', 'TXT']);
  });

  it('a PTR answer too big for UDP comes truncated, and dig gets it whole over TCP', async () => {
    const r = await dig(crowd, SVC, 'PTR', '+noedns');
    expect(r.text).toMatch(/Truncated, retrying in TCP mode/);
    expect(r.status).toBe('NOERROR');
    expect(r.answer.map((a) => a.data).sort()).toEqual(many.map((p) => `${instance(Buffer.from(p.publicKey).toString('base64'))}.`).sort());
  });

  for (const [n, peer] of [[31, wide[0]!], [40, wide[1]!]] as const) {
    const b64 = Buffer.from(peer.publicKey).toString('base64');
    const want = peer.allowedIps.map((a) => `${formatIP(a.addr)}/${a.cidr}`);
    /** The TXT data as dig prints it: every string at most 255 bytes, `pub=` right, the `allowed=` strings joined = all prefixes. */
    const expectTxt = (data: string) => {
      const strings = [...data.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
      for (const str of strings) expect(Buffer.byteLength(str)).toBeLessThanOrEqual(255);
      expect(strings.slice(0, 2)).toEqual(['txtvers=1', `pub=${b64}`]);
      expect(strings.length).toBeGreaterThan(3);
      const joined = strings.filter((x) => x.startsWith('allowed=')).map((x) => x.slice(8)).join(',');
      expect(joined.split(',')).toEqual(want);
    };

    it(`a peer with ${n} allowed IPs: TXT and SRV parse over UDP (after the cookie exchange) and over TCP, every prefix there`, async () => {
      const name = instance(b64);
      for (const type of ['TXT', 'SRV']) {
        // Without a server cookie the answer may be 3x the query only: truncated, the OPT record kept.
        const first = await dig(widened, name, type, '+ignore');
        expect(first.flags).toContain('tc');
        expect(first.text).toMatch(/; EDNS: version: 0, flags:; udp: 1232/);
        expect(first.cookie).toMatch(/^[0-9a-f]{48}$/);
        const udp = await dig(widened, name, type, '+ignore', `+cookie=${first.cookie}`);
        expect(udp.flags).not.toContain('tc');
        expect(udp.text).toMatch(/\(good\)/);
        const tcp = await dig(widened, name, type, '+tcp');
        for (const r of [udp, tcp]) {
          expect(r.status).toBe('NOERROR');
          const txt = [...r.answer, ...r.additional].filter((a) => a.type === 'TXT');
          expect(txt).toHaveLength(1);
          expectTxt(txt[0]!.data);
        }
      }
    });
  }
});
