/**
 * A minimal DNS stub for asking the registry: one question, UDP first, TCP when the answer comes
 * back truncated (RFC 7766 §5). The query id is random and the answer must echo it and the
 * question, and come from the server we asked, so an off-path sender cannot easily feed us a
 * forged endpoint. The registry is normally reached inside the tunnel, which authenticates it.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { FLAG, decodeMessage, ednsOpt, encodeMessage, type DecodedPacket } from './wire.js';
import { randomBytes } from '../crypto/primitives.js';

export interface DnsServerAddress {
  host: string;
  port: number;
}

export type QueryType = 'PTR' | 'SRV' | 'A' | 'AAAA' | 'TXT';

export interface QueryOptions {
  /** Per attempt; wgsd-client waits 5 s. */
  timeoutMs?: number;
  /** UDP attempts before giving up (a lost datagram is retried once by default). */
  attempts?: number;
}

export class DnsQueryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DnsQueryError';
  }
}

/** The function discover uses to ask questions; tests may substitute their own. */
export type Resolver = (name: string, type: QueryType) => Promise<DecodedPacket>;

function randomId(): number {
  const b = randomBytes(2);
  return (b[0]! << 8) | b[1]!;
}

function buildQuery(id: number, name: string, type: QueryType): Buffer {
  return encodeMessage({
    type: 'query',
    id,
    flags: FLAG.RD,
    questions: [{ type, name, class: 'IN' }],
    additionals: [ednsOpt()],
  });
}

/** Does `msg` answer our question? (id, QR, and the question echoed, name case-insensitively). */
function matches(msg: DecodedPacket, id: number, name: string, type: QueryType): boolean {
  const q = msg.questions?.[0];
  return (
    msg.type === 'response' &&
    msg.id === id &&
    q !== undefined &&
    q.type === type &&
    q.name.toLowerCase().replace(/\.$/, '') === name.toLowerCase().replace(/\.$/, '')
  );
}

function udpOnce(server: DnsServerAddress, name: string, type: QueryType, timeoutMs: number) {
  return new Promise<DecodedPacket>((resolve, reject) => {
    const id = randomId();
    const sock = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    const done = (err: Error | null, msg?: DecodedPacket) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(msg!);
    };
    const timer = setTimeout(() => done(new DnsQueryError(`no answer from ${fmt(server)} within ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (err) => done(new DnsQueryError(`cannot query ${fmt(server)}: ${err.message}`, { cause: err })));
    sock.on('message', (buf, rinfo) => {
      if (rinfo.port !== server.port || !sameHost(rinfo.address, server.host)) return;
      const msg = decodeMessage(buf);
      if (msg && matches(msg, id, name, type)) done(null, msg);
    });
    sock.send(buildQuery(id, name, type), server.port, server.host);
  });
}

function tcpOnce(server: DnsServerAddress, name: string, type: QueryType, timeoutMs: number) {
  return new Promise<DecodedPacket>((resolve, reject) => {
    const id = randomId();
    const conn = net.connect({ host: server.host, port: server.port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | null, msg?: DecodedPacket) => {
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(msg!);
    };
    const timer = setTimeout(() => done(new DnsQueryError(`no answer from ${fmt(server)} over TCP within ${timeoutMs} ms`)), timeoutMs);
    conn.on('error', (err) => done(new DnsQueryError(`cannot query ${fmt(server)} over TCP: ${err.message}`, { cause: err })));
    conn.on('connect', () => {
      const q = buildQuery(id, name, type);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      conn.write(Buffer.concat([len, q]));
    });
    conn.on('data', (data) => {
      buf = Buffer.concat([buf, data]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const msg = decodeMessage(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      if (msg && matches(msg, id, name, type)) done(null, msg);
      else done(new DnsQueryError(`malformed answer from ${fmt(server)} over TCP`));
    });
  });
}

function sameHost(a: string, b: string): boolean {
  return a === b || a === `::ffff:${b}`;
}

export function fmt(server: DnsServerAddress): string {
  return net.isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** Asks `server` one question; retries lost UDP datagrams, falls back to TCP on truncation. */
export async function queryDns(
  server: DnsServerAddress,
  name: string,
  type: QueryType,
  opts: QueryOptions = {},
): Promise<DecodedPacket> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const attempts = opts.attempts ?? 2;
  let lastErr: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const msg = await udpOnce(server, name, type, timeoutMs);
      return msg.flag_tc ? await tcpOnce(server, name, type, timeoutMs) : msg;
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr;
}

/** A Resolver bound to one server. */
export function resolverFor(server: DnsServerAddress, opts: QueryOptions = {}): Resolver {
  return (name, type) => queryDns(server, name, type, opts);
}
