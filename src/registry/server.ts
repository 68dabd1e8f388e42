/**
 * The registry's DNS server: UDP and TCP (RFC 7766) on each listen address, answering through
 * records.ts from a live peer list. What outside input can make it hold is bounded:
 * - Who can ask: a listen address with a `device` takes only packets that arrive through that
 *   interface (bound-socket.ts), so a host outside the tunnel gets no answer even if it routes to
 *   the tunnel address.
 * - UDP: answers are cut to the size the client allows and, for a client without a valid DNS
 *   cookie, to a few times its query (answer.ts). At most `udpInFlight` queries are being answered
 *   by the general path at once (or waiting for it); more are dropped.
 * - UDP is read and answered by one worker thread with batched system calls (udp-batched.ts);
 *   what its view does not hold comes to the general path here. Where the worker cannot run
 *   (koffi or the worker file missing), node:dgram serves UDP on this thread, with the same bytes.
 * - TCP: at most `tcpMaxConnections`; a new connection beyond that evicts the one that has gone
 *   longest without an answered query, so idle or trickling connections cannot lock peers out.
 *   Each connection must complete a query within `tcpQueryMs` of the last answer (or of its
 *   opening); bytes of an unfinished query do not extend that. Reading stops while `tcpMaxQueued`
 *   queries wait or the client is not reading its answers (backpressure), so a client pipelining
 *   without reading makes the kernel's windows fill, not our memory. (Values: DEFAULT_LIMITS.)
 * An undecodable packet is dropped; a failing device read answers SERVFAIL.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { WgPeer } from '../conf/model.js';
import { randomBytes } from '../crypto/primitives.js';
import { buildView, viewAge, type View } from './view.js';
import { boundSocket, closeSocket } from './bound-socket.js';
import { cookieSigner } from './dns-cookie.js';
import { answer, answerStored, askerAddress, type AnswerContext, type Asker } from './answer.js';
import { parseSockaddr } from '../conf/sockaddr.js';
import type { BatchedUdp } from './udp-batched.js';

export interface ListenAddress {
  host: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  port: number;
  /** Answer only packets that arrive through this interface (SO_BINDTODEVICE). */
  device?: string;
}

/** The transport bounds (tests shorten the times). */
export interface ServerLimits {
  tcpQueryMs: number;
  tcpMaxConnections: number;
  tcpMaxQueued: number;
  udpInFlight: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  /** RFC 7766 §6.2.3 asks for idle timeouts of seconds, not minutes. */
  tcpQueryMs: 10_000,
  tcpMaxConnections: 64,
  tcpMaxQueued: 16,
  udpInFlight: 256,
};

export interface RegistryServerOptions {
  listen: ListenAddress[];
  /** Normalised zone (zone.ts normalizeZone). */
  zone: string;
  /**
   * The device's live peers; called at most once per `cacheMs` however many queries arrive (each
   * call rebuilds the answers). Answers come from a read at most 2 × `cacheMs` old: while a read
   * runs, the previous one still answers for up to another `cacheMs`.
   */
  getPeers: () => Promise<WgPeer[]>;
  cacheMs?: number;
  limits?: Partial<ServerLimits>;
  log?: (msg: string) => void;
  /**
   * UDP through the batched worker (default), or node:dgram on this thread ('dgram'). A path to a
   * worker module replaces the built one (tests: a worker that fails, to see the fallback).
   */
  udp?: 'batched' | 'dgram' | { workerFile: string };
  /** The DNS cookie secret (dns-cookie.ts); random per start unless given (tests compare two servers). */
  cookieSecret?: Uint8Array;
}

export interface RegistryServer {
  /** The bound addresses, with the actual ports. */
  readonly addresses: ListenAddress[];
  /** Answers the UDP worker sent itself so far; null while node:dgram serves UDP (the fallback). */
  udpWorkerAnswers(): number | null;
  close(): Promise<void>;
}

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

/** A dgram socket on `addr`, or on `fd` (a socket boundSocket made for it, which the dgram socket then owns). */
async function bindUdp(addr: ListenAddress, onMessage: (sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo) => void, fd?: number) {
  if (fd === undefined && addr.device) fd = (await boundSocket('udp', addr.host, addr.port, addr.device)).fd;
  return new Promise<dgram.Socket>((resolve, reject) => {
    const v6 = net.isIPv6(addr.host);
    const sock = dgram.createSocket(v6 ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
    sock.once('error', reject);
    sock.on('message', (msg, rinfo) => onMessage(sock, msg, rinfo));
    const ready = () => {
      sock.off('error', reject);
      sock.on('error', () => {}); // per-datagram send errors (ICMP) are not fatal
      resolve(sock);
    };
    if (fd !== undefined) sock.bind({ fd }, ready);
    else sock.bind(addr.port, addr.host, ready);
  });
}

async function listenTcp(addr: ListenAddress, onConnection: (c: net.Socket) => void) {
  const fd = addr.device ? (await boundSocket('tcp', addr.host, addr.port, addr.device)).fd : undefined;
  return new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer(onConnection);
    server.once('error', reject);
    const ready = () => {
      server.off('error', reject);
      resolve(server);
    };
    if (fd !== undefined) server.listen({ fd }, ready);
    else server.listen({ host: addr.host, port: addr.port, ipv6Only: net.isIPv6(addr.host) }, ready);
  });
}

/** The open TCP connections of a server, each with the time it last had a query answered. */
export class ConnectionTable {
  private readonly conns = new Map<net.Socket, number>();
  /**
   * Connections holding a whole query not yet answered. Eviction passes them over while any other
   * is left: connections that keep reconnecting (a trickle, evicted and back) would otherwise push
   * a peer's fresh connection out before a slow moment let its query be answered. The query
   * deadline (tcpQueryMs) still ends any connection that does not take its answers.
   */
  private readonly waiting = new Set<net.Socket>();
  constructor(private readonly max: number) {}

  /** Admits `conn`, first evicting the connection that has gone longest without an answer if full. */
  admit(conn: net.Socket): void {
    if (this.conns.size >= this.max) {
      const victim = this.longestUnanswered(false) ?? this.longestUnanswered(true);
      if (victim) this.drop(victim);
    }
    this.conns.set(conn, Date.now());
    conn.once('close', () => {
      this.conns.delete(conn);
      this.waiting.delete(conn);
    });
  }

  private longestUnanswered(evenWaiting: boolean): net.Socket | null {
    let oldest: net.Socket | null = null;
    let at = Infinity;
    for (const [c, t] of this.conns) if (t < at && (evenWaiting || !this.waiting.has(c))) [oldest, at] = [c, t];
    return oldest;
  }

  /** Whether `conn` holds a whole query not yet answered. */
  setWaiting(conn: net.Socket, on: boolean): void {
    if (on && this.conns.has(conn)) this.waiting.add(conn);
    else this.waiting.delete(conn);
  }

  answered(conn: net.Socket): void {
    if (this.conns.has(conn)) this.conns.set(conn, Date.now());
  }

  drop(conn: net.Socket): void {
    this.conns.delete(conn);
    this.waiting.delete(conn);
    conn.destroy();
  }

  closeAll(): void {
    for (const c of [...this.conns.keys()]) this.drop(c);
  }
}

/** The smallest DNS message: a 12-byte header. Shorter frames are dropped unread. */
const HEADER_LEN = 12;

/**
 * Serves DNS over TCP on one connection: 2-byte length-prefixed messages, answered in order. Read
 * bytes wait unparsed in `buf` (at most what one read brought, plus an unfinished message) while
 * the queue is full; reading pauses until the queue has room and the client takes its answers.
 */
function serveTcpConnection(conn: net.Socket, table: ConnectionTable, limits: ServerLimits, handle: (msg: Buffer) => Buffer | null | Promise<Buffer | null>) {
  table.admit(conn);
  let buf: Buffer = Buffer.alloc(0);
  let pos = 0;
  const queue: Buffer[] = [];
  let pumping = false;
  let deadline: NodeJS.Timeout | undefined;
  // Armed at opening and after each answer only: a trickle of bytes never pushes it back.
  const arm = () => {
    clearTimeout(deadline);
    deadline = setTimeout(() => table.drop(conn), limits.tcpQueryMs);
  };
  arm();
  conn.on('close', () => clearTimeout(deadline));
  conn.on('error', () => table.drop(conn));

  const frameReady = () => buf.length - pos >= 2 && buf.length - pos >= 2 + buf.readUInt16BE(pos);
  /** Moves complete messages from `buf` to the queue while it has room. */
  const parse = () => {
    while (queue.length < limits.tcpMaxQueued && frameReady()) {
      const len = buf.readUInt16BE(pos);
      // A copy, so a queued query does not keep a whole 64 KiB read buffer alive.
      if (len >= HEADER_LEN) queue.push(Buffer.from(buf.subarray(pos + 2, pos + 2 + len)));
      pos += 2 + len;
    }
    table.setWaiting(conn, queue.length > 0);
  };
  const blocked = () => queue.length >= limits.tcpMaxQueued || frameReady() || conn.writableNeedDrain;
  const resumeIfFree = () => {
    if (!conn.destroyed && conn.isPaused() && !blocked()) conn.resume();
  };
  conn.on('drain', () => {
    void pump();
    resumeIfFree();
  });

  const pump = async () => {
    if (pumping) return;
    pumping = true;
    // While the client is not reading (writableNeedDrain), stop: 'drain' starts the pump again,
    // and the deadline ends the connection if it never comes.
    while (queue.length > 0 && !conn.destroyed && !conn.writableNeedDrain) {
      const out = await handle(queue.shift()!);
      if (conn.destroyed) break;
      if (out) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        conn.write(Buffer.concat([len, out]));
      }
      table.answered(conn);
      arm();
      parse();
    }
    table.setWaiting(conn, queue.length > 0);
    pumping = false;
    resumeIfFree();
  };

  conn.on('data', (data: Buffer) => {
    buf = pos === buf.length ? data : Buffer.concat([buf.subarray(pos), data]);
    pos = 0;
    parse();
    if (blocked()) conn.pause();
    void pump();
  });
}

/** Starts listening on every address; on any bind failure, closes what was opened and throws. */
export async function startRegistryServer(opts: RegistryServerOptions): Promise<RegistryServer> {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  // A missing device fails every query; say so once per distinct failure, not once per query.
  let lastError: string | null = null;
  // Answers are built once per refresh of the peer list (view.ts), not per query.
  const cacheMs = opts.cacheMs ?? 500;
  let view: View | undefined;
  let viewAt = 0;
  let batched: BatchedUdp | null = null;
  const getView = sharedFetch(async () => {
    view = await buildView(await opts.getPeers(), opts.zone, view);
    viewAt = Date.now();
    lastError = null;
    // With cacheMs 0 no view is ever fresh: the worker would only hand everything over anyway.
    if (cacheMs > 0) batched?.setView(view.peers, viewAt);
    return view;
  }, cacheMs);
  // One secret for both threads: a cookie given by one is valid at the other.
  const secret = opts.cookieSecret ?? randomBytes(32);
  const ctx: AnswerContext = {
    zone: opts.zone,
    cookies: cookieSigner(secret),
    nowS: () => Math.floor(Date.now() / 1000),
    onDeviceError: (err: unknown) => {
      const text = `registry: cannot read the device: ${(err as Error).message}`;
      if (text !== lastError) opts.log?.(text);
      lastError = text;
    },
    getPeers: async () => (await getView()).peers,
  };
  // A query the fresh view holds is answered at once by its stored answer (answer.ts answerStored:
  // the same gate and bytes as the general path); others wait for the general path. A bug must
  // not end the server through an unhandled rejection: it costs that one answer.
  const failed = (err: unknown) => {
    opts.log?.(`registry: cannot answer a query: ${(err as Error).message}`);
    return null;
  };
  const stored = (msg: Buffer, asker: Asker) => {
    try {
      if (!view) return null;
      const age = viewAge(Date.now() - viewAt, cacheMs);
      if (age === 'expired') return null;
      if (age === 'stale') getView().catch(() => {}); // a read starts (shared: one at a time)
      return answerStored(view, msg, asker, ctx);
    } catch (err) {
      return failed(err);
    }
  };
  const general = (msg: Buffer, asker: Asker) => answer(msg, asker, ctx).catch(failed);
  const table = new ConnectionTable(limits.tcpMaxConnections);
  let udpInFlight = 0;
  /** The dgram path: each datagram an event on this thread. */
  const onDatagram = () => {
    // The client address as cookie input, parsed once per distinct sender in a row.
    let lastAddress = '';
    let lastAddr: Uint8Array = new Uint8Array(0);
    return (s: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo) => {
      if (rinfo.address !== lastAddress) [lastAddress, lastAddr] = [rinfo.address, askerAddress(rinfo.address)];
      const asker: Asker = { transport: 'udp', addr: lastAddr };
      const hit = stored(msg, asker);
      if (hit) return void s.send(hit, rinfo.port, rinfo.address);
      if (udpInFlight >= limits.udpInFlight) return;
      udpInFlight++;
      void general(msg, asker)
        .then((out) => {
          if (out) s.send(out, rinfo.port, rinfo.address);
        })
        .finally(() => udpInFlight--);
    };
  };
  // The batched path needs system/libc.ts (koffi): without it, dgram serves as it always could.
  const mode = opts.udp ?? 'batched';
  let native: typeof import('./udp-batched.js') | null = null;
  if (mode !== 'dgram') {
    try {
      native = await import('./udp-batched.js');
    } catch (err) {
      opts.log?.(`registry: answering UDP on the main thread: ${(err as Error).message}`);
    }
  }
  const udp: dgram.Socket[] = [];
  /** The worker's sockets, until closed or handed to dgram sockets (which then own them). */
  const udpFds: number[] = [];
  const tcp: net.Server[] = [];
  const addresses: ListenAddress[] = [];
  let closing = false;
  const close = async () => {
    closing = true;
    const b = batched;
    batched = null;
    await b?.close(); // the worker ends before its sockets close
    for (const fd of udpFds.splice(0)) await closeSocket(fd);
    for (const s of udp) s.close();
    const closed = Promise.all(tcp.map((s) => new Promise<void>((r) => s.close(() => r()))));
    table.closeAll();
    await closed;
  };
  /** The worker could not start or ended: its sockets go to dgram on this thread. */
  const toDgram = async (reason: string) => {
    const b = batched;
    batched = null;
    await b?.close();
    if (closing) return;
    opts.log?.(`registry: ${reason}; answering UDP on the main thread`);
    for (const [i, fd] of udpFds.splice(0).entries()) udp.push(await bindUdp(addresses[i]!, onDatagram(), fd));
  };
  try {
    for (const addr of opts.listen) {
      let port: number;
      if (native) {
        const made = await boundSocket('udp', addr.host, addr.port, addr.device);
        udpFds.push(made.fd);
        port = made.port;
      } else {
        const sock = await bindUdp(addr, onDatagram());
        udp.push(sock);
        port = sock.address().port;
      }
      const onConnection = (c: net.Socket) => {
        const asker: Asker = { transport: 'tcp', addr: askerAddress(c.remoteAddress) };
        serveTcpConnection(c, table, limits, (m) => stored(m, asker) ?? general(m, asker));
      };
      tcp.push(await listenTcp({ ...addr, port }, onConnection));
      addresses.push({ ...addr, port });
    }
    if (native) {
      try {
        batched = await native.startBatchedUdp({
          fds: udpFds,
          secret,
          zone: opts.zone,
          cacheMs,
          limit: limits.udpInFlight,
          answer: async (msg, from) => {
            const asker: Asker = { transport: 'udp', addr: parseSockaddr(from)?.addr ?? new Uint8Array(0) };
            return stored(msg, asker) ?? general(msg, asker);
          },
          onStale: () => void getView().catch(() => {}),
          onFailed: (reason) => void toDgram(reason).catch(failed),
          log: opts.log,
          workerFile: typeof mode === 'object' ? mode.workerFile : undefined,
        });
        if (view && cacheMs > 0) batched.setView(view.peers, viewAt);
      } catch (err) {
        await toDgram(`the UDP worker cannot start: ${(err as Error).message}`);
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { addresses, close, udpWorkerAnswers: () => batched?.answered() ?? null };
}
