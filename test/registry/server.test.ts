import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import * as dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import * as dnsPacket from 'dns-packet';
import { ConnectionTable, startRegistryServer, sharedFetch, type RegistryServer } from '../../src/registry/server.js';
import { queryDns } from '../../src/registry/client.js';
import { rcodeOf } from '../../src/registry/wire.js';
import { keyFromBase64 } from '../../src/conf/keys.js';
import type { WgPeer } from '../../src/conf/model.js';
import { parseAddress } from '../../src/registry/ip.js';

const ZONE = 'example.com';
const SVC = `_wireguard._udp.${ZONE}`;
const ALICE = 'xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=';
const BOB = 'syKB97XhGnvC+kynh2KqQJPXoOoOpx/HmpMRTc+r4js=';
const ALICE_I = `yutrled535igkl7bdlerl6m4vjxsxm3uqqpl4nmsn27mt56ad4ha====.${SVC}`;
const BOB_I = `wmrid55v4enhxqx2jstyoyvkicj5pihkb2tr7r42smiu3t5l4i5q====.${SVC}`;

function peer(b64: string, endpoint: string | null, allowed: string[]): WgPeer {
  const ep = endpoint ? /^\[?([^\]]+?)\]?:(\d+)$/.exec(endpoint)! : null;
  return {
    publicKey: keyFromBase64(b64)!,
    ...(ep ? { endpoint: { family: ep[1]!.includes(':') ? 6 : 4, host: ep[1]!, port: Number(ep[2]) } } : {}),
    allowedIps: allowed.map((a) => {
      const [ip, cidr] = a.split('/');
      return { ...parseAddress(ip!)!, cidr: Number(cidr) };
    }),
  } as WgPeer;
}

// wgsd README's example device, plus a peer without an endpoint and one with an IPv6 endpoint.
const CAROL = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const DAVE = 'HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=';
/** Instance names computed independently, by coreutils. */
/** dns-packet's Answer union without OPT, for reading records in assertions. */
const rr = (a: dnsPacket.Answer) => a as { type: string; name: string; ttl?: number; data: unknown };
const inst = (b64: string) =>
  `${execFileSync('base32', ['-w0'], { input: Buffer.from(b64, 'base64') }).toString().trim().toLowerCase()}.${SVC}`;
let peers: WgPeer[] = [
  peer(ALICE, '203.0.113.1:7777', ['10.0.0.1/32']),
  peer(BOB, '198.51.100.1:8888', ['10.0.0.2/32']),
  peer(CAROL, null, ['10.0.0.3/32']),
  peer(DAVE, '[2001:db8::7]:9999', ['10.0.0.4/32', 'fd00::4/128']),
];

let server: RegistryServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function start(getPeers: () => Promise<WgPeer[]> = async () => peers) {
  server = await startRegistryServer({ listen: [{ host: '127.0.0.1', port: 0 }], zone: ZONE, getPeers, cacheMs: 0 });
  return server.addresses[0]!;
}

describe('registry server over loopback', () => {
  it('lists peers with an endpoint by PTR, TTL 0, authoritative', async () => {
    const addr = await start();
    const r = await queryDns(addr, `${SVC}.`, 'PTR');
    expect(rcodeOf(r)).toBe(0);
    expect(r.flag_aa).toBe(true);
    expect(r.answers!.map(rr).map((a) => [a.type, a.name, a.ttl, a.data])).toEqual([
      ['PTR', SVC, 0, ALICE_I],
      ['PTR', SVC, 0, BOB_I],
      ['PTR', SVC, 0, inst(DAVE)],
    ]);
  });

  it('answers SRV with the endpoint port, and A + TXT in Additional (the README example)', async () => {
    const addr = await start();
    const r = await queryDns(addr, ALICE_I.toUpperCase(), 'SRV');
    expect(rcodeOf(r)).toBe(0);
    expect(r.answers).toEqual([
      { name: ALICE_I, type: 'SRV', class: 'IN', ttl: 0, flush: false, data: { priority: 0, weight: 0, port: 7777, target: ALICE_I } },
    ]);
    const extra = r.additionals!.filter((a) => a.type !== 'OPT');
    expect(extra.map(rr).map((a) => [a.type, a.name, a.ttl])).toEqual([
      ['A', ALICE_I, 0],
      ['TXT', ALICE_I, 0],
    ]);
    expect(rr(extra[0]!).data).toBe('203.0.113.1');
    expect((rr(extra[1]!).data as Buffer[]).map(String)).toEqual(['txtvers=1', `pub=${ALICE}`, 'allowed=10.0.0.1/32']);
  });

  it('answers AAAA for an IPv6 endpoint, whichever of A/AAAA was asked, and TXT directly', async () => {
    const addr = await start();
    const name = inst(DAVE);
    for (const type of ['A', 'AAAA'] as const) {
      const r = await queryDns(addr, name, type);
      expect(r.answers!.map(rr).map((a) => [a.type, a.data])).toEqual([['AAAA', '2001:db8::7']]);
    }
    const t = await queryDns(addr, name, 'TXT');
    expect((rr(t.answers![0]!).data as Buffer[]).map(String)).toEqual(['txtvers=1', `pub=${DAVE}`, 'allowed=10.0.0.4/32,fd00::4/128']);
  });

  it('says NXDOMAIN with the synthetic SOA for unknown keys, peers without endpoint, and other names', async () => {
    const addr = await start();
    const carol = inst(CAROL);
    for (const [name, type] of [[carol, 'SRV'], [`${'a'.repeat(52)}====.${SVC}`, 'SRV'], [ZONE, 'A'], [SVC, 'SRV'], [ALICE_I, 'PTR']] as const) {
      const r = await queryDns(addr, name, type);
      expect(rcodeOf(r), `${name} ${type}`).toBe(3);
      expect(r.flag_aa).toBe(true);
      expect(r.authorities).toEqual([
        {
          name: ZONE, type: 'SOA', class: 'IN', ttl: 60, flush: false,
          data: { mname: `ns1.${ZONE}`, rname: `postmaster.${ZONE}`, serial: 1, refresh: 86400, retry: 7200, expire: 3600000, minimum: 60 },
        },
      ]);
    }
  });

  it('refuses names outside its zone; answers SERVFAIL while the device cannot be read, logging it once', async () => {
    let ok = true;
    const logged: string[] = [];
    server = await startRegistryServer({
      listen: [{ host: '127.0.0.1', port: 0 }],
      zone: ZONE,
      cacheMs: 0,
      log: (m) => logged.push(m),
      getPeers: async () => {
        if (!ok) throw new Error('No such device');
        return peers;
      },
    });
    const addr = server.addresses[0]!;
    expect(rcodeOf(await queryDns(addr, 'example.org', 'A'))).toBe(5);
    ok = false;
    expect(rcodeOf(await queryDns(addr, SVC, 'PTR'))).toBe(2);
    expect(rcodeOf(await queryDns(addr, SVC, 'PTR'))).toBe(2);
    expect(logged).toEqual(['registry: cannot read the device: No such device']);
    ok = true;
    expect(rcodeOf(await queryDns(addr, SVC, 'PTR'))).toBe(0);
  });

  const hasV6Loopback = Object.values(networkInterfaces()).flat().some((a) => a?.address === '::1');
  it.skipIf(!hasV6Loopback)('serves over IPv6 too', async () => {
    server = await startRegistryServer({ listen: [{ host: '::1', port: 0 }], zone: ZONE, getPeers: async () => peers, cacheMs: 0 });
    const r = await queryDns(server.addresses[0]!, ALICE_I, 'SRV');
    expect(r.answers!.map(rr).map((a) => a.type)).toEqual(['SRV']);
  });

  it('truncates a large UDP answer and the client completes it over TCP', async () => {
    const saved = peers;
    peers = Array.from({ length: 40 }, (_, i) => {
      const key = Buffer.alloc(32, i + 1).toString('base64');
      return peer(key, `192.0.2.${i + 1}:${1000 + i}`, [`10.1.0.${i}/32`]);
    });
    try {
      const addr = await start();
      const raw = await rawUdp(addr.port, dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'PTR', name: SVC }] }));
      expect(raw.flag_tc).toBe(true);
      expect(raw.answers).toEqual([]);
      const r = await queryDns(addr, SVC, 'PTR');
      expect(r.flag_tc).toBe(false);
      expect(r.answers).toHaveLength(40);
    } finally {
      peers = saved;
    }
  });

  it('drops garbage and answers a reply-shaped packet with nothing, then keeps serving', async () => {
    const addr = await start();
    await expect(rawUdp(addr.port, Buffer.from('not dns'), 200)).rejects.toThrow(/timeout/);
    const reflected = dnsPacket.encode({ type: 'response', id: 9, questions: [{ type: 'PTR', name: SVC }] });
    await expect(rawUdp(addr.port, reflected, 200)).rejects.toThrow(/timeout/);
    expect(rcodeOf(await queryDns(addr, SVC, 'PTR'))).toBe(0);
  });
});

describe('sharedFetch', () => {
  it('coalesces concurrent callers and never caches a failure', async () => {
    let calls = 0;
    let fail = true;
    const f = sharedFetch(async () => {
      calls++;
      if (fail) throw new Error('x');
      return calls;
    }, 10_000);
    await expect(f()).rejects.toThrow('x');
    fail = false;
    const [a, b] = await Promise.all([f(), f()]);
    expect([a, b, calls]).toEqual([2, 2, 2]);
  });
});

function rawUdp(port: number, msg: Buffer, timeoutMs = 2000): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('timeout'));
    }, timeoutMs);
    s.on('message', (buf) => {
      clearTimeout(t);
      s.close();
      resolve(dnsPacket.decode(buf));
    });
    s.send(msg, port, '127.0.0.1');
  });
}

describe('TCP connection table', () => {
  /** A stand-in for a socket: destroy() closes it, as net.Socket's does. */
  function fakeConn(): net.Socket & { closed: boolean } {
    const c = new EventEmitter() as EventEmitter & { closed: boolean; destroy(): void };
    c.closed = false;
    c.destroy = () => {
      c.closed = true;
      c.emit('close');
    };
    return c as unknown as net.Socket & { closed: boolean };
  }

  it('evicts the longest-unanswered connection, passing over one that holds a query until none else is left', () => {
    const table = new ConnectionTable(3);
    const peerConn = fakeConn();
    table.admit(peerConn);
    table.setWaiting(peerConn, true); // its whole query arrived
    const trickles = [fakeConn(), fakeConn()];
    for (const c of trickles) table.admit(c);
    // Full: each new connection evicts the oldest trickle, never the connection with a query.
    for (let i = 0; i < 10; i++) {
      const c = fakeConn();
      table.admit(c);
      trickles.push(c);
      expect(peerConn.closed).toBe(false);
    }
    expect(trickles.filter((c) => !c.closed)).toHaveLength(2);
    // Answered: it is an ordinary connection again, and the oldest.
    table.setWaiting(peerConn, false);
    table.admit(fakeConn());
    expect(peerConn.closed).toBe(true);
  });

  it('evicts a connection holding a query when every connection holds one', () => {
    const table = new ConnectionTable(2);
    const a = fakeConn();
    const b = fakeConn();
    for (const c of [a, b]) {
      table.admit(c);
      table.setWaiting(c, true);
    }
    table.admit(fakeConn());
    expect([a.closed, b.closed]).toEqual([true, false]);
  });
});
