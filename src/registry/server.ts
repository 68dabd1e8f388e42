/**
 * The registry's DNS server: UDP and TCP (RFC 7766) on each listen address, answering through
 * records.ts from a live peer list. Hostile input returns: an undecodable packet is dropped, a
 * failing device read answers SERVFAIL. UDP answers larger than the client allows (512 bytes, or
 * its EDNS buffer size) go out truncated with TC set, and the client retries over TCP.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { WgPeer } from '../conf/model.js';
import { respond } from './records.js';
import { buildView, type View } from './view.js';
import { EDNS_SIZE, FLAG, RCODE, decodeMessage, ednsOpt, ednsSizeOf, encodeMessage, replyFlags, type Packet } from './wire.js';

export interface ListenAddress {
  host: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  port: number;
}

export interface RegistryServerOptions {
  listen: ListenAddress[];
  /** Normalised zone (zone.ts normalizeZone). */
  zone: string;
  /** The device's live peers; called at most once per `cacheMs` however many queries arrive (each call rebuilds the answers). */
  getPeers: () => Promise<WgPeer[]>;
  cacheMs?: number;
  log?: (msg: string) => void;
}

export interface RegistryServer {
  /** The bound addresses, with the actual ports. */
  readonly addresses: ListenAddress[];
  close(): Promise<void>;
}

const TCP_IDLE_MS = 10_000;
const TCP_MAX_CONNECTIONS = 64;

/**
 * Wraps a fetch so that concurrent and closely spaced callers share one device read: a query flood
 * cannot turn into a flood of UAPI or netlink requests.
 */
export function sharedFetch<T>(fetch: () => Promise<T>, cacheMs: number): () => Promise<T> {
  let pending: Promise<T> | null = null;
  let at = 0;
  return () => {
    if (pending && Date.now() - at < cacheMs) return pending;
    at = Date.now();
    const p = fetch();
    pending = p;
    p.catch(() => {
      if (pending === p) pending = null; // never cache a failure
    });
    return p;
  };
}

/** Encodes the answer to one query, or null if there is none to send. */
async function answer(
  msg: Buffer,
  zone: string,
  getPeers: () => Promise<WgPeer[]>,
  transport: 'udp' | 'tcp',
  onDeviceError: (err: unknown) => void,
  getView: () => Promise<View>,
): Promise<Buffer | null> {
  const stored = await getView().then((v) => v.lookup(msg), () => null);
  if (stored) return stored;
  const query = decodeMessage(msg);
  if (!query) return null;
  let response: Packet | null;
  try {
    response = await respond(query, zone, getPeers);
  } catch (err) {
    onDeviceError(err);
    response = {
      type: 'response',
      id: query.id ?? 0,
      flags: replyFlags(query, RCODE.SERVFAIL, false),
      questions: query.questions ?? [],
    };
  }
  if (!response) return null;
  const edns = ednsSizeOf(query);
  if (edns !== null) response.additionals = [...(response.additionals ?? []), ednsOpt()];
  const out = encodeMessage(response);
  const limit = transport === 'tcp' ? 65535 : Math.min(Math.max(512, edns ?? 512), EDNS_SIZE);
  if (out.length <= limit) return out;
  // Too big for this transport: header and question only, TC set (RFC 2181 §9).
  return encodeMessage({
    ...response,
    flags: (response.flags ?? 0) | FLAG.TC,
    answers: [],
    authorities: [],
    additionals: [],
  });
}

function bindUdp(addr: ListenAddress, onMessage: (sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo) => void) {
  return new Promise<dgram.Socket>((resolve, reject) => {
    const v6 = net.isIPv6(addr.host);
    const sock = dgram.createSocket(v6 ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
    sock.once('error', reject);
    sock.on('message', (msg, rinfo) => onMessage(sock, msg, rinfo));
    sock.bind(addr.port, addr.host, () => {
      sock.off('error', reject);
      sock.on('error', () => {}); // per-datagram send errors (ICMP) are not fatal
      resolve(sock);
    });
  });
}

function listenTcp(addr: ListenAddress, onConnection: (c: net.Socket) => void) {
  return new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer(onConnection);
    server.maxConnections = TCP_MAX_CONNECTIONS;
    server.once('error', reject);
    server.listen({ host: addr.host, port: addr.port, ipv6Only: net.isIPv6(addr.host) }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Serves DNS over TCP on one connection: 2-byte length-prefixed messages, answered in order. */
function serveTcpConnection(conn: net.Socket, handle: (msg: Buffer) => Promise<Buffer | null>) {
  let buf = Buffer.alloc(0);
  let chain = Promise.resolve();
  conn.setTimeout(TCP_IDLE_MS, () => conn.destroy());
  conn.on('error', () => conn.destroy());
  conn.on('data', (data) => {
    buf = Buffer.concat([buf, data]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
      buf = buf.subarray(2 + msg.length);
      chain = chain.then(async () => {
        const out = await handle(msg);
        if (out && !conn.destroyed) {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          conn.write(Buffer.concat([len, out]));
        }
      });
    }
  });
}

/** Starts listening on every address; on any bind failure, closes what was opened and throws. */
export async function startRegistryServer(opts: RegistryServerOptions): Promise<RegistryServer> {
  // A missing device fails every query; say so once per distinct failure, not once per query.
  let lastError: string | null = null;
  const onDeviceError = (err: unknown) => {
    const text = `registry: cannot read the device: ${(err as Error).message}`;
    if (text !== lastError) opts.log?.(text);
    lastError = text;
  };
  // Answers are built once per refresh of the peer list (view.ts), not per query.
  const cacheMs = opts.cacheMs ?? 500;
  let view: View | undefined;
  let viewAt = 0;
  const getView = sharedFetch(async () => {
    view = await buildView(await opts.getPeers(), opts.zone, view);
    viewAt = Date.now();
    lastError = null;
    return view;
  }, cacheMs);
  // A UDP query the fresh view holds is answered at once, without a promise in between.
  const stored = (msg: Buffer) => (view && Date.now() - viewAt < cacheMs ? view.lookup(msg) : null);
  const getPeers = async () => (await getView()).peers;
  const handle = (msg: Buffer, transport: 'udp' | 'tcp') => answer(msg, opts.zone, getPeers, transport, onDeviceError, getView);
  const udp: dgram.Socket[] = [];
  const tcp: net.Server[] = [];
  const addresses: ListenAddress[] = [];
  const close = async () => {
    for (const s of udp) s.close();
    await Promise.all(tcp.map((s) => new Promise<void>((r) => s.close(() => r()))));
  };
  try {
    for (const addr of opts.listen) {
      const sock = await bindUdp(addr, (s, msg, rinfo) => {
        const hit = stored(msg);
        if (hit) return void s.send(hit, rinfo.port, rinfo.address);
        void handle(msg, 'udp').then((out) => {
          if (out) s.send(out, rinfo.port, rinfo.address);
        });
      });
      udp.push(sock);
      const port = sock.address().port;
      tcp.push(await listenTcp({ host: addr.host, port }, (c) => serveTcpConnection(c, (m) => handle(m, 'tcp'))));
      addresses.push({ host: addr.host, port });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { addresses, close };
}
