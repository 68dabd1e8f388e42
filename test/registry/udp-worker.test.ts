/**
 * The registry's UDP worker (src/registry/udp-worker.ts, udp-batched.ts): it sends the bytes the
 * dgram path sends, for queries its view answers and for those it hands to the main thread; it
 * answers every datagram of bursts from several clients; a stale view starts a device read and
 * keeps answering up to 2 x cacheMs, then queries wait for the read; close() leaves no thread and
 * no fd; where the worker cannot start or ends, dgram serves the same sockets.
 */
import * as dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WgPeer } from '../../src/conf/model.js';
import { parsePrefix } from '../../src/registry/ip.js';
import { startRegistryServer, type RegistryServer, type RegistryServerOptions } from '../../src/registry/server.js';
import { cookieSigner } from '../../src/registry/dns-cookie.js';
import { decodeMessage, ednsOpt, encodeMessage, type Answer } from '../../src/registry/wire.js';
import { instanceName, serviceName } from '../../src/registry/zone.js';
import { waitFor } from '../integration/helpers/netns.js';

const ZONE = 'example.net';
const SECRET = new Uint8Array(32).fill(9);

function peer(n: number, port: number, allowed = 1): WgPeer {
  return {
    publicKey: new Uint8Array(32).fill(n),
    endpoint: { family: 4, host: `198.51.100.${n}`, port },
    allowedIps: Array.from({ length: allowed }, (_, i) => parsePrefix(`10.${n}.${i}.0/24`)!),
  };
}

const servers: RegistryServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(opts: Partial<RegistryServerOptions> & Pick<RegistryServerOptions, 'getPeers'>): Promise<RegistryServer> {
  const s = await startRegistryServer({ listen: [{ host: '127.0.0.1', port: 0 }], zone: ZONE, cookieSecret: SECRET, ...opts });
  servers.push(s);
  return s;
}

/** Sends each datagram from one socket and collects one answer per id (or throws after `ms`). */
async function exchange(port: number, queries: Buffer[], ms = 10_000, host = '127.0.0.1'): Promise<Map<number, Buffer>> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const got = new Map<number, Buffer>();
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${got.size} of ${queries.length} answers after ${ms} ms`)), ms);
      sock.on('message', (m) => {
        got.set(m.readUInt16BE(0), m);
        if (got.size === queries.length) {
          clearTimeout(timer);
          resolve();
        }
      });
      sock.bind(0, host, () => {
        for (const q of queries) sock.send(q, port, host);
      });
    });
  } finally {
    sock.close();
  }
  return got;
}
const ask = async (port: number, q: Buffer) => (await exchange(port, [q])).get(q.readUInt16BE(0))!;

function query(id: number, name: string, type: string, edns?: { size: number; cookie?: Buffer }): Buffer {
  return encodeMessage({
    type: 'query', id, flags: 0x100,
    questions: [{ name, type: type as 'SRV', class: 'IN' }],
    ...(edns && { additionals: [{ ...ednsOpt(edns.cookie ? [{ code: 10, data: edns.cookie }] : []), udpPayloadSize: edns.size } as Answer] }),
  });
}

/** EDNS with a valid cookie of ours for 127.0.0.1 (one secret for all servers here): whole answers. */
function trusted(): { size: number; cookie: Buffer } {
  const client = Buffer.alloc(8, 5);
  return { size: 1232, cookie: Buffer.concat([client, cookieSigner(SECRET)(client, new Uint8Array([127, 0, 0, 1]), Math.floor(Date.now() / 1000))]) };
}

/** The wgts-dns threads of this process. */
function dnsThreads(): number {
  return readdirSync('/proc/self/task').filter((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, 'latin1').trim() === 'wgts-dns';
    } catch {
      return false;
    }
  }).length;
}

const peers = [peer(1, 1111), peer(2, 2222, 40), peer(3, 3333)];

describe('registry UDP worker', () => {
  it('sends the bytes of the dgram path, for what its view answers and for what it hands over', async () => {
    const worker = await start({ getPeers: async () => peers, cacheMs: 60_000 });
    const old = await start({ getPeers: async () => peers, cacheMs: 60_000, udp: 'dgram' });
    expect(old.udpWorkerAnswers()).toBeNull();
    const valid = trusted().cookie;
    const client = valid.subarray(0, 8);
    const names = [...peers.map((p) => instanceName(p.publicKey, ZONE)), serviceName(ZONE), `nobody.${ZONE}`, 'elsewhere.example'];
    const cases: [string, string, { size: number; cookie?: Buffer } | undefined][] = [];
    for (const name of names) {
      for (const type of ['SRV', 'A', 'TXT', 'PTR', 'MX']) {
        for (const edns of [undefined, { size: 512 }, { size: 1232 }, { size: 4096, cookie: client }, { size: 1232, cookie: valid }, { size: 600, cookie: valid }]) {
          cases.push([name, type, edns]);
        }
      }
    }
    cases.push([names[0]!.toUpperCase(), 'SRV', { size: 1232, cookie: valid }]); // the asker's letter case
    cases.push([names[0]!, 'SRV', { size: 1232, cookie: Buffer.alloc(11, 1) }]); // malformed cookie: FORMERR
    // Warm both views (the first query of each reads the device) and let the worker build its own.
    await ask(worker.addresses[0]!.port, query(1, names[0]!, 'SRV'));
    await ask(old.addresses[0]!.port, query(1, names[0]!, 'SRV'));
    await waitFor(async () => {
      const before = worker.udpWorkerAnswers()!;
      await ask(worker.addresses[0]!.port, query(2, names[0]!, 'SRV'));
      return worker.udpWorkerAnswers()! > before;
    }, { timeout: 10_000, what: 'the worker answering from its view' });
    const answeredBefore = worker.udpWorkerAnswers()!;
    const answerOf = (port: number, i: number) => ask(port, query(100 + i, ...cases[i]!));
    for (let i = 0; i < cases.length; i++) {
      const what = `${cases[i]![1]} ${cases[i]![0]} edns ${JSON.stringify(cases[i]![2]?.size)} cookie ${cases[i]![2]?.cookie?.length ?? '-'}`;
      // Our cookie carries the second it was made in: ask again if the two answers straddle one.
      let [a, b] = [await answerOf(worker.addresses[0]!.port, i), await answerOf(old.addresses[0]!.port, i)];
      for (let retry = 0; retry < 3 && !a.equals(b); retry++) [a, b] = [await answerOf(worker.addresses[0]!.port, i), await answerOf(old.addresses[0]!.port, i)];
      expect(a.toString('hex'), what).toBe(b.toString('hex'));
    }
    // The worker sent the hits itself: at least every peer's SRV answer in each EDNS and cookie variant.
    expect(worker.udpWorkerAnswers()! - answeredBefore).toBeGreaterThanOrEqual(peers.length * 6);
  });

  it('answers every datagram of bursts from several clients, each with its own answer', async () => {
    const many = Array.from({ length: 20 }, (_, i) => peer(i + 1, 10_000 + i));
    const server = await start({ getPeers: async () => many, cacheMs: 60_000 });
    const port = server.addresses[0]!.port;
    const name = (i: number) => instanceName(many[i % many.length]!.publicKey, ZONE);
    await ask(port, query(1, name(0), 'SRV'));
    const before = server.udpWorkerAnswers()!;
    // Four clients, 32 queries each, all sent before any answer is read: bursts for recvmmsg.
    const results = await Promise.all(
      [0, 1, 2, 3].map((c) => exchange(port, Array.from({ length: 32 }, (_, i) => query(c * 1000 + i, name(c * 32 + i), 'SRV', trusted())))),
    );
    for (const [c, got] of results.entries()) {
      expect(got.size).toBe(32);
      for (let i = 0; i < 32; i++) {
        const m = decodeMessage(got.get(c * 1000 + i)!)!;
        expect(m.questions?.[0]?.name).toBe(name(c * 32 + i));
        const srv = m.answers?.find((a) => a.type === 'SRV') as { data: { port: number } } | undefined;
        expect(srv?.data.port).toBe(10_000 + ((c * 32 + i) % many.length));
      }
    }
    expect(server.udpWorkerAnswers()! - before).toBeGreaterThan(0);
  });

  it('a stale view starts a device read and answers meanwhile; beyond 2 x cacheMs queries wait for the read', async () => {
    const cacheMs = 3000; // generous: the steps below must each fit between two of its multiples on a loaded machine
    let current = [peer(1, 1111)];
    let reads = 0;
    let release: (() => void) | null = null;
    let blocked: Promise<void> | null = null;
    const server = await start({
      cacheMs,
      getPeers: async () => {
        reads++;
        if (blocked) await blocked;
        return current;
      },
    });
    const port = server.addresses[0]!.port;
    const name = instanceName(peer(1, 0).publicKey, ZONE);
    const portOf = (m: Buffer) => (decodeMessage(m)!.answers?.find((a) => a.type === 'SRV') as { data: { port: number } }).data.port;
    expect(portOf(await ask(port, query(1, name, 'SRV', trusted())))).toBe(1111);
    const readAt = Date.now();
    // The worker gets the view, and answers from it.
    await waitFor(async () => {
      const before = server.udpWorkerAnswers()!;
      await ask(port, query(2, name, 'SRV'));
      return server.udpWorkerAnswers()! > before;
    }, { timeout: cacheMs / 2, what: 'the worker answering from its view' });
    // From now on reads hang until released, and return a new endpoint.
    current = [peer(1, 4444)];
    blocked = new Promise((r) => (release = r));
    const readsBefore = reads;
    await waitFor(() => Date.now() - readAt > cacheMs, { timeout: 5000, what: 'the view going stale' });
    // Stale: still answered from the view (the old endpoint), and a read starts.
    expect(portOf(await ask(port, query(3, name, 'SRV', trusted())))).toBe(1111);
    await waitFor(() => reads > readsBefore, { timeout: 5000, what: 'a device read' });
    // Too old: the query waits for the read, and gets its answer.
    await waitFor(() => Date.now() - readAt > 2 * cacheMs + 100, { timeout: 10_000, what: 'the view too old' });
    const late = ask(port, query(4, name, 'SRV', trusted()));
    release!();
    expect(portOf(await late)).toBe(4444);
  });

  it('hands over at most udpInFlight queries at a time; the rest are dropped', async () => {
    let release: (() => void) | null = null;
    const blocked = new Promise<void>((r) => (release = r));
    let reads = 0;
    const server = await start({
      cacheMs: 0, // no view is ever fresh: every query goes to the general path
      limits: { udpInFlight: 4 },
      getPeers: async () => {
        if (reads++ > 0) await blocked;
        return peers;
      },
    });
    const port = server.addresses[0]!.port;
    const name = instanceName(peers[0]!.publicKey, ZONE);
    await ask(port, query(1, name, 'SRV')); // the first read does not block
    const sock = dgram.createSocket('udp4');
    const got: number[] = [];
    sock.on('message', (m) => got.push(m.readUInt16BE(0)));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    try {
      for (let i = 0; i < 20; i++) sock.send(query(100 + i, name, 'SRV'), port, '127.0.0.1');
      // Every datagram has left the socket's queue (the worker read them) while the reads hang.
      const queued = () => {
        const hex = port.toString(16).toUpperCase().padStart(4, '0');
        const line = readFileSync('/proc/net/udp', 'latin1').split('\n').find((l) => l.includes(`:${hex} `) && /^\s*\d+: 0100007F:/.test(l));
        return line ? parseInt(line.trim().split(/\s+/)[4]!.split(':')[1]!, 16) : -1;
      };
      await waitFor(() => reads > 1 && queued() === 0, { timeout: 10_000, what: 'the worker reading every query' });
      release!();
      await waitFor(() => got.length >= 4, { timeout: 10_000, what: 'the admitted answers' });
      // A query after them is answered; none of the 16 dropped ones comes before or with it.
      sock.send(query(999, name, 'SRV'), port, '127.0.0.1');
      await waitFor(() => got.includes(999), { timeout: 10_000, what: 'the answer to a later query' });
      expect(got.filter((id) => id !== 999).sort((a, b) => a - b)).toEqual([100, 101, 102, 103]);
    } finally {
      sock.close();
    }
  });

  it('close() ends the worker thread and leaves no fd open', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    // Once, so koffi, the worker module and the dgram socket pool are loaded before counting.
    const warm = await start({ getPeers: async () => peers, cacheMs: 60_000 });
    await ask(warm.addresses[0]!.port, query(1, serviceName(ZONE), 'PTR'));
    await warm.close();
    servers.splice(0);
    await waitFor(() => dnsThreads() === 0, { timeout: 5000, what: 'the first worker thread ending' });
    const before = fds();
    const server = await start({ getPeers: async () => peers, cacheMs: 60_000, listen: [{ host: '127.0.0.1', port: 0 }, { host: '::1', port: 0 }] });
    expect(dnsThreads()).toBe(1);
    expect(fds()).toBeGreaterThanOrEqual(before + 4 + 2); // two UDP, two TCP, the wake pipe
    await ask(server.addresses[0]!.port, query(1, serviceName(ZONE), 'PTR'));
    // Both sockets are the worker's: over IPv6 too it answers from its view (to the sender's sockaddr_in6).
    await waitFor(async () => {
      const before6 = server.udpWorkerAnswers()!;
      const m = (await exchange(server.addresses[1]!.port, [query(2, serviceName(ZONE), 'PTR')], 10_000, '::1')).get(2)!;
      return decodeMessage(m)!.id === 2 && server.udpWorkerAnswers()! > before6;
    }, { timeout: 10_000, what: 'the worker answering over IPv6' });
    await server.close();
    servers.splice(0);
    await waitFor(() => dnsThreads() === 0, { timeout: 5000, what: 'the worker thread ending' });
    expect(fds()).toBe(before);
  });

  it('falls back to dgram with the same answers when the worker cannot start, or ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgts-udpw-'));
    dirs.push(dir);
    const broken = join(dir, 'broken.mjs');
    writeFileSync(broken, "throw new Error('no such worker');\n");
    const quits = join(dir, 'quits.mjs');
    writeFileSync(quits, "import { parentPort } from 'node:worker_threads';\nparentPort.postMessage({ type: 'ready' });\nsetTimeout(() => process.exit(3), 50);\n");
    const reference = await start({ getPeers: async () => peers, cacheMs: 60_000, udp: 'dgram' });
    const q = query(7, instanceName(peers[0]!.publicKey, ZONE), 'SRV', { size: 1232 });
    const want = (await ask(reference.addresses[0]!.port, q)).toString('hex');
    for (const [file, said] of [[join(dir, 'missing.mjs'), /cannot start/], [broken, /cannot start: no such worker/], [quits, /ended \(code 3\)/]] as const) {
      const logs: string[] = [];
      const server = await start({ getPeers: async () => peers, cacheMs: 60_000, udp: { workerFile: file }, log: (m) => logs.push(m) });
      await waitFor(() => server.udpWorkerAnswers() === null && logs.some((l) => said.test(l)), { timeout: 10_000, what: `the fallback for ${file}` });
      expect(logs.join('\n')).toMatch(/answering UDP on the main thread/);
      expect((await ask(server.addresses[0]!.port, q)).toString('hex')).toBe(want);
    }
  });
});
