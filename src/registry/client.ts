/**
 * A minimal DNS stub for asking the registry: one question, UDP first, TCP when the answer comes
 * back truncated (RFC 7766 §5). The query id is random and the answer must echo it and the
 * question, and come from the server we asked, so an off-path sender cannot easily feed us a
 * forged endpoint. The registry is normally reached inside the tunnel, which authenticates it.
 * With a CookieJar the stub speaks DNS cookies (RFC 7873): it sends a client cookie and echoes the
 * server cookie it last got, so after the first answer a registry may send large answers over UDP
 * (server.ts answers cookie-less clients small).
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { FLAG, decodeMessage, ednsOpt, ednsOption, encodeMessage, type DecodedPacket } from './wire.js';
import { COOKIE_OPTION } from './dns-cookie.js';
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
  /** DNS cookies to send and keep (resolverFor makes one per server). */
  cookies?: CookieJar;
}

/** A client's DNS cookie for one server, and the server cookie last received with it. */
export interface CookieJar {
  client: Uint8Array;
  server: Uint8Array | null;
}

export function newCookieJar(): CookieJar {
  return { client: randomBytes(8), server: null };
}

/** Keeps the server cookie of an answer that echoes our client cookie (RFC 7873 §5.3). */
function keepCookie(jar: CookieJar | undefined, msg: DecodedPacket): void {
  const got = ednsOption(msg, COOKIE_OPTION);
  if (!jar || !got || got.length < 16 || got.length > 40 || !got.subarray(0, 8).equals(jar.client)) return;
  jar.server = Uint8Array.from(got.subarray(8));
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

function buildQuery(id: number, name: string, type: QueryType, jar?: CookieJar): Buffer {
  const cookie = jar ? [{ code: COOKIE_OPTION, data: Buffer.concat([jar.client, jar.server ?? new Uint8Array(0)]) }] : [];
  return encodeMessage({
    type: 'query',
    id,
    flags: FLAG.RD,
    questions: [{ type, name, class: 'IN' }],
    additionals: [ednsOpt(cookie)],
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

function udpOnce(server: DnsServerAddress, name: string, type: QueryType, timeoutMs: number, jar?: CookieJar) {
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
      if (msg && matches(msg, id, name, type)) {
        keepCookie(jar, msg);
        done(null, msg);
      }
    });
    sock.send(buildQuery(id, name, type, jar), server.port, server.host);
  });
}

function tcpOnce(server: DnsServerAddress, name: string, type: QueryType, timeoutMs: number, jar?: CookieJar) {
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
      const q = buildQuery(id, name, type, jar);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      conn.write(Buffer.concat([len, q]));
    });
    conn.on('data', (data) => {
      buf = Buffer.concat([buf, data]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const msg = decodeMessage(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      if (msg && matches(msg, id, name, type)) {
        keepCookie(jar, msg);
        done(null, msg);
      } else done(new DnsQueryError(`malformed answer from ${fmt(server)} over TCP`));
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
      const msg = await udpOnce(server, name, type, timeoutMs, opts.cookies);
      return msg.flag_tc ? await tcpOnce(server, name, type, timeoutMs, opts.cookies) : msg;
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr;
}

/** A Resolver bound to one server, keeping DNS cookies with it. */
export function resolverFor(server: DnsServerAddress, opts: QueryOptions = {}): Resolver {
  const withCookies = { ...opts, cookies: opts.cookies ?? newCookieJar() };
  return (name, type) => queryDns(server, name, type, withCookies);
}

/**
 * Sends one whole message over TCP and resolves to the first message that comes back (2-byte
 * length framing, RFC 1035 §4.2.2); for dynamic updates (dns-update.ts), which do not fit a datagram.
 */
export function tcpExchange(server: DnsServerAddress, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const conn = net.connect({ host: server.host, port: server.port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | null, out?: Buffer) => {
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(out!);
    };
    const timer = setTimeout(() => done(new DnsQueryError(`no answer from ${fmt(server)} within ${timeoutMs} ms`)), timeoutMs);
    conn.on('error', (err) => done(new DnsQueryError(`cannot reach ${fmt(server)}: ${err.message}`, { cause: err })));
    conn.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(message.length);
      conn.write(Buffer.concat([len, message]));
    });
    conn.on('data', (data) => {
      buf = Buffer.concat([buf, data]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(null, buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
    conn.on('end', () => done(new DnsQueryError(`${fmt(server)} closed the connection without answering`)));
  });
}
