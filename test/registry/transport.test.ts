/**
 * The registry server's transport under abuse (server.ts): UDP answer sizes without and with a
 * DNS cookie (RFC 7873), TC answers that keep OPT, malformed cookies; TCP deadlines that a trickle
 * cannot extend, the connection cap that evicts the longest-unanswered connection, and reading
 * that stops while a client does not read its answers. Over loopback, with short limits.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as dnsPacket from 'dns-packet';
import { AMPLIFICATION } from '../../src/registry/answer.js';
import { startRegistryServer, type RegistryServer, type ServerLimits } from '../../src/registry/server.js';
import { keyFromBase64 } from '../../src/conf/keys.js';
import type { WgPeer } from '../../src/conf/model.js';
import { parseAddress } from '../../src/registry/ip.js';
import { instanceName } from '../../src/registry/zone.js';
import { newCookieJar, queryDns } from '../../src/registry/client.js';

const ZONE = 'example.com';
const SVC = `_wireguard._udp.${ZONE}`;
const KEY = 'xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=';
const wide: WgPeer = {
  publicKey: keyFromBase64(KEY)!,
  endpoint: { family: 4, host: '203.0.113.1', port: 7777 },
  allowedIps: Array.from({ length: 40 }, (_, i) => ({ ...parseAddress(`10.40.${i}.0`)!, cidr: 24 })),
};
const NAME = instanceName(wide.publicKey, ZONE);

let server: RegistryServer | null = null;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
  server = null;
});

async function start(limits: Partial<ServerLimits> = {}) {
  server = await startRegistryServer({ listen: [{ host: '127.0.0.1', port: 0 }], zone: ZONE, getPeers: async () => [wide], cacheMs: 0, limits });
  return server.addresses[0]!.port;
}

function udp(port: number, msg: Buffer): Promise<{ raw: Buffer; msg: dnsPacket.DecodedPacket }> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('timeout'));
    }, 2000);
    s.on('message', (raw) => {
      clearTimeout(t);
      s.close();
      resolve({ raw, msg: dnsPacket.decode(raw) });
    });
    s.send(msg, port, '127.0.0.1');
  });
}

const opt = (cookie?: Buffer): dnsPacket.Answer =>
  ({ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: cookie ? [{ code: 10, data: cookie }] : [] }) as unknown as dnsPacket.Answer;
const q = (type: 'TXT' | 'SRV' | 'PTR', additionals: dnsPacket.Answer[] = [], name = NAME) =>
  dnsPacket.encode({ type: 'query', id: 42, questions: [{ type, name }], additionals });
const cookieOf = (m: dnsPacket.DecodedPacket): Buffer | undefined => {
  const o = m.additionals?.find((a) => a.type === 'OPT') as { options: { code: number; data: Buffer }[] } | undefined;
  return o?.options.find((x) => x.code === 10)?.data;
};
const frame = (m: Buffer) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 255]), m]);

describe('UDP answer sizes', () => {
  it('without EDNS or a valid cookie an answer is at most 3x the query; larger ones are truncated, with OPT kept', async () => {
    const port = await start();
    for (const query of [q('TXT'), q('TXT', [opt()]), q('SRV', [opt(Buffer.alloc(8, 1))])]) {
      const { raw, msg } = await udp(port, query);
      expect(raw.length).toBeLessThanOrEqual(AMPLIFICATION * query.length);
      expect(msg.flag_tc).toBe(true);
      expect(msg.answers).toEqual([]);
      const hadOpt = dnsPacket.decode(query).additionals!.length > 0;
      expect(msg.additionals!.map((a) => a.type)).toEqual(hadOpt ? ['OPT'] : []);
    }
  });

  it('a client that echoes its server cookie gets the whole answer over UDP; a forged or stale one does not', async () => {
    const port = await start();
    const client = Buffer.alloc(8, 7);
    const first = await udp(port, q('TXT', [opt(client)]));
    const cookie = cookieOf(first.msg)!;
    expect(cookie.subarray(0, 8)).toEqual(client);
    expect(cookie.length).toBe(24);
    const good = await udp(port, q('TXT', [opt(cookie)]));
    expect(good.msg.flag_tc).toBe(false);
    const strings = (good.msg.answers![0] as { data: Buffer[] }).data.map(String);
    expect(strings.filter((s) => s.startsWith('allowed=')).length).toBeGreaterThan(1);
    // Another client cookie with that server cookie, or one bit changed: small answers again.
    for (const forged of [Buffer.concat([Buffer.alloc(8, 8), cookie.subarray(8)]), Buffer.from(cookie.map((b, i) => (i === 23 ? b ^ 1 : b)))]) {
      expect((await udp(port, q('TXT', [opt(forged)]))).msg.flag_tc).toBe(true);
    }
  });

  it("the registry's own client keeps the server cookie, so its next queries get whole UDP answers", async () => {
    const port = await start();
    const jar = newCookieJar();
    const first = await queryDns({ host: '127.0.0.1', port }, NAME, 'TXT', { cookies: jar });
    expect(first.answers).toHaveLength(1); // completed over TCP
    expect(jar.server).toHaveLength(16);
    const { msg } = await udp(port, q('TXT', [opt(Buffer.concat([jar.client, jar.server!]))]));
    expect(msg.flag_tc).toBe(false);
  });

  it('answers FORMERR to a COOKIE option of a wrong length (RFC 7873 §5.2.2)', async () => {
    const port = await start();
    for (const len of [3, 12, 41]) {
      const { msg } = await udp(port, q('TXT', [opt(Buffer.alloc(len, 1))]));
      expect(msg.flags! & 0xf).toBe(1);
      expect(msg.answers).toEqual([]);
    }
  });
});

/** Connects to the server; resolves once connected. */
function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port }, () => resolve(c));
    c.on('error', reject);
    sockets.push(c);
  });
}

const closed = (c: net.Socket) => new Promise<number>((resolve) => (c.destroyed ? resolve(Date.now()) : c.once('close', () => resolve(Date.now()))));

/** Sends one framed query and resolves with the answer. */
function ask(c: net.Socket, query: Buffer): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      c.off('data', onData);
      c.off('close', onClose);
      resolve(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))));
    };
    const onClose = () => reject(new Error('closed'));
    c.on('data', onData);
    c.once('close', onClose);
    c.write(frame(query));
  });
}

describe('TCP', () => {
  it('a connection that trickles an unfinished query is closed at its deadline; answered queries renew it', async () => {
    const port = await start({ tcpQueryMs: 1000 });
    const trickler = await connect(port);
    const opened = Date.now();
    // One byte every 100 ms of a ~50-byte query: were each byte to renew the deadline, the
    // connection would live past 5 s.
    const bytes = frame(q('PTR', [], SVC));
    let i = 0;
    const timer = setInterval(() => i < bytes.length - 1 && trickler.write(bytes.subarray(i, ++i)), 100);
    const end = await closed(trickler);
    clearInterval(timer);
    expect(i).toBeLessThan(bytes.length - 1);
    expect(end - opened).toBeGreaterThanOrEqual(950);
    expect(end - opened).toBeLessThan(4000);
    // A client that completes a query within each deadline stays, past several deadlines.
    const talker = await connect(port);
    for (let n = 0; n < 5; n++) {
      expect((await ask(talker, q('SRV'))).answers).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 400));
    }
    expect(talker.destroyed).toBe(false);
  });

  it('an answer that cannot be framed (over 65535 bytes) is SERVFAIL, not a cut record', async () => {
    const huge: WgPeer = { ...wide, allowedIps: Array.from({ length: 3000 }, (_, i) => ({ ...parseAddress(`fd00:1234:5678:9abc::${i.toString(16)}:1`)!, cidr: 128 })) };
    server = await startRegistryServer({ listen: [{ host: '127.0.0.1', port: 0 }], zone: ZONE, getPeers: async () => [huge], cacheMs: 0 });
    const c = await connect(server.addresses[0]!.port);
    const r = await ask(c, q('TXT'));
    expect(r.flags! & 0xf).toBe(2);
    expect(r.answers).toEqual([]);
  });

  it('at the cap a new connection evicts the one that has gone longest without an answer', async () => {
    const port = await start({ tcpMaxConnections: 4 });
    const idle = await connect(port);
    const busy: net.Socket[] = [];
    for (let n = 0; n < 3; n++) {
      const c = await connect(port);
      expect((await ask(c, q('SRV'))).answers).toHaveLength(1);
      busy.push(c);
    }
    const idleClosed = closed(idle);
    const newcomer = await connect(port);
    await idleClosed;
    expect((await ask(newcomer, q('SRV'))).answers).toHaveLength(1);
    expect(busy.every((c) => !c.destroyed)).toBe(true);
  });

  it('a client that pipelines without reading loses no query: all are answered, in order, once it reads', async () => {
    const port = await start({ tcpMaxQueued: 4 });
    const c = await connect(port);
    c.pause();
    // Distinct ids, to check the order. (How much the server holds meanwhile is measured on a real
    // process, in test/integration/registry/hardening-suite.ts.)
    c.write(Buffer.concat(Array.from({ length: 5_000 }, (_, i) => frame(dnsPacket.encode({ type: 'query', id: i % 65536, questions: [{ type: 'SRV', name: NAME }] })))));
    await new Promise((r) => setTimeout(r, 500));
    // Reading now drains everything, and every query gets its answer.
    let answers = 0;
    let buf = Buffer.alloc(0);
    const all = new Promise<void>((resolve) =>
      c.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          expect(buf.readUInt16BE(2)).toBe(answers % 65536);
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          if (++answers === 5_000) resolve();
        }
      }),
    );
    c.resume();
    await all;
    expect(answers).toBe(5_000);
  }, 30_000);
});
