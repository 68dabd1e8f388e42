/**
 * The one holder of netlink sockets in wgts (Node core has no AF_NETLINK): a request/reply layer
 * over the raw socket of the pinned `netlink` package (its native part only: bind, send, receive
 * with message peeking so no reply is ever truncated). Everything above the raw datagram is done
 * here by hand: nlmsghdr framing, sequence numbers, ACK and error to errno, multi-part dumps and the
 * NLM_F_DUMP_INTR mark (the caller decides whether to restart).
 *
 * One request at a time per socket, as wg's libmnl loop does; a socket lives for one operation.
 */
import { RawNetlinkSocket } from 'netlink/dist/raw.js';
import { WgError } from '../conf/backend.js';
import { EIO, EPROTO } from '../conf/errno.js';
import { AttrWriter } from './attr.js';
import { NLMSG_HDRLEN } from './constants.js';

export const NETLINK_GENERIC = 16;

export { NETLINK_ROUTE, NLMSG_HDRLEN } from './constants.js';
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;


/** One received netlink message: header fields and the payload after the 16-byte nlmsghdr. */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  payload: Uint8Array;
}

/** What a request got back: data messages (not the final ACK/DONE) and whether a dump was interrupted. */
export interface NlReply {
  messages: NlMessage[];
  /** Some message carried NLM_F_DUMP_INTR: the object changed mid-dump, the result may be inconsistent. */
  interrupted: boolean;
}

/**
 * Starts a message: nlmsghdr (length and sequence filled in by `request`) and an optional fixed
 * family header of `extra` bytes, whose offset is NLMSG_HDRLEN. `limit` caps the whole message.
 */
export function newMessage(type: number, flags: number, extra = 0, limit = Infinity): AttrWriter {
  const w = new AttrWriter(limit, 512);
  w.reserve(NLMSG_HDRLEN);
  w.setU16(4, type);
  w.setU16(6, flags);
  if (extra) w.reserve(extra);
  return w;
}

interface Pending {
  /** Sequence number of the first message; a batch holds `count` consecutive ones. */
  seq: number;
  count: number;
  /** Acks received so far (a batch resolves when every message is acknowledged). */
  acked: number;
  dump: boolean;
  reply: NlReply;
  resolve: (r: NlReply) => void;
  reject: (e: Error) => void;
}

function readS32(p: Uint8Array): number {
  return new DataView(p.buffer, p.byteOffset, 4).getInt32(0, true);
}

let seqCounter = (Date.now() / 1000) >>> 0; // wg seeds with time(NULL)

export class NetlinkSocket {
  private readonly raw: RawNetlinkSocket;
  private pending: Pending | null = null;
  private closed = false;

  private constructor(raw: RawNetlinkSocket) {
    this.raw = raw;
    raw.on('message', (msg) => this.onDatagram(msg));
    raw.on('truncatedMessage', () => this.fail(new WgError(EIO, 'netlink: truncated message')));
    raw.on('error', (err) => this.fail(new WgError(err.errno ?? EIO, `netlink: ${err.message}`, { cause: err })));
    raw.unref(); // referenced only while a request is outstanding
  }

  /**
   * Opens and binds a socket of the given netlink protocol (NETLINK_ROUTE, NETLINK_GENERIC).
   *
   * By default each datagram is peeked at first and then read into a buffer of its exact size, so
   * no reply is ever truncated, whatever its size. With `recvBuffer`, datagrams are read directly
   * into a buffer of that many bytes: one system call per datagram instead of two, and the kernel
   * sizes dump datagrams to the reader's buffer (up to 32 KiB; with exact-size reads it stays at
   * ~4 KiB), so a large dump arrives in about 8 times fewer datagrams. Only for families whose
   * replies are known to fit: a larger one fails the request with EIO ('truncated message').
   */
  static open(protocol: number, opts: { recvBuffer?: number } = {}): NetlinkSocket {
    try {
      // The package's typings require the SO_RCVBUF/SO_SNDBUF sizes; 0 leaves the kernel's defaults.
      const options = opts.recvBuffer
        ? { messagePeeking: false, msgBufferSize: opts.recvBuffer, recvBufferSize: 0, sendBufferSize: 0 }
        : undefined;
      return new NetlinkSocket(new RawNetlinkSocket(protocol, options));
    } catch (e) {
      const errno = (e as { errno?: number }).errno ?? EIO;
      throw new WgError(errno, `netlink: cannot open socket: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Sends one request and collects its answer. Without `dump`: resolves on the NLMSG_ERROR ack
   * (error 0) with any data messages that came first (send with NLM_F_ACK). With `dump`: resolves
   * on NLMSG_DONE. A negative error in NLMSG_ERROR or in NLMSG_DONE's payload rejects with
   * WgError(errno).
   */
  request(msg: AttrWriter, opts: { dump?: boolean } = {}): Promise<NlReply> {
    return this.send([msg], !!opts.dump);
  }

  /**
   * Sends several requests (each with NLM_F_ACK) in one datagram and resolves when all are
   * acknowledged, with the data messages they produced. The kernel handles the messages of a
   * datagram in order, each as if sent alone, but it does not stop at a failed one: the ones after
   * it are still carried out. The first error rejects the batch (errno as for `request`).
   * Fewer system calls and event-loop turns per message; see wireguard.ts's sendSet for the use.
   */
  requestBatch(msgs: readonly AttrWriter[]): Promise<NlReply> {
    return this.send(msgs, false);
  }

  private send(msgs: readonly AttrWriter[], dump: boolean): Promise<NlReply> {
    if (this.closed) return Promise.reject(new WgError(EIO, 'netlink: socket closed'));
    if (this.pending) return Promise.reject(new Error('netlink: one request at a time per socket'));
    if (msgs.length === 0 || (dump && msgs.length > 1)) return Promise.reject(new Error('netlink: bad batch'));
    // Messages follow each other at NLMSG_ALIGN (4-byte) boundaries.
    if (msgs.some((m) => m.len % 4)) return Promise.reject(new Error('netlink: message length not aligned'));
    const first = (seqCounter + 1) >>> 0;
    let total = 0;
    for (const msg of msgs) {
      msg.setU32(0, msg.len);
      msg.setU32(8, (seqCounter = (seqCounter + 1) >>> 0));
      total += msg.len;
    }
    // The native send copies the buffer before its callback, but not necessarily before returning,
    // so it gets a copy of its own; the copy may hold keys and is wiped in the callback.
    const datagram = new Uint8Array(total);
    let off = 0;
    for (const msg of msgs) {
      datagram.set(msg.bytes(), off);
      off += msg.len;
    }
    return new Promise<NlReply>((resolve, reject) => {
      const reply: NlReply = { messages: [], interrupted: false };
      this.pending = { seq: first, count: msgs.length, acked: 0, dump, reply, resolve, reject };
      this.raw.ref();
      this.raw.send(datagram, {}, (err) => {
        datagram.fill(0);
        if (err) this.fail(new WgError(err.errno ?? EIO, `netlink: send: ${err.message}`, { cause: err }));
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(new WgError(EIO, 'netlink: socket closed'));
    this.raw.close();
  }

  private settle(): Pending | null {
    const p = this.pending;
    this.pending = null;
    if (!this.closed) this.raw.unref();
    return p;
  }

  private fail(err: Error): void {
    const p = this.settle();
    if (!p) return;
    // The caller never sees what a failed request collected (a dump may carry keys): wipe it.
    for (const m of p.reply.messages) m.payload.fill(0);
    p.reject(err);
  }

  private onDatagram(datagram: Uint8Array): void {
    const p = this.pending;
    if (!p) return; // late replies to an abandoned request
    // A plain Uint8Array view: Buffer's slice() does not copy, Uint8Array's does.
    const buf = new Uint8Array(datagram.buffer, datagram.byteOffset, datagram.byteLength);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let off = 0;
    while (off + NLMSG_HDRLEN <= buf.length) {
      const len = view.getUint32(off, true);
      if (len < NLMSG_HDRLEN || off + len > buf.length) {
        this.fail(new WgError(EPROTO, 'netlink: malformed message'));
        return;
      }
      const type = view.getUint16(off + 4, true);
      const flags = view.getUint16(off + 6, true);
      const seq = view.getUint32(off + 8, true);
      const payload = buf.subarray(off + NLMSG_HDRLEN, off + len);
      off += (len + 3) & ~3;
      if (((seq - p.seq) >>> 0) >= p.count) continue; // not ours (stale sequence)
      if (flags & NLM_F_DUMP_INTR) p.reply.interrupted = true;
      if (type === NLMSG_NOOP) continue;
      if (type === NLMSG_OVERRUN) {
        this.fail(new WgError(EIO, 'netlink: overrun'));
        return;
      }
      if (type === NLMSG_ERROR) {
        const errno = payload.length >= 4 ? -readS32(payload) : EPROTO;
        if (errno !== 0) {
          this.fail(new WgError(errno, `netlink: error ${errno}`));
          return;
        }
        if (++p.acked === p.count) {
          this.settle()?.resolve(p.reply);
          return;
        }
        continue;
      }
      if (type === NLMSG_DONE) {
        // The DONE payload is 0 or -errno (a dump that failed midway); absent on very old kernels.
        const errno = payload.length >= 4 ? -readS32(payload) : 0;
        if (errno !== 0) this.fail(new WgError(errno, `netlink: dump error ${errno}`));
        else this.settle()?.resolve(p.reply);
        return;
      }
      // Each datagram is a fresh buffer from the native side: views into it are safe to keep.
      p.reply.messages.push({ type, flags, seq, payload });
    }
  }
}

/** Sends a request on a fresh socket of `protocol` and closes it (one-shot helper). */
export async function requestOnce(protocol: number, msg: AttrWriter, opts: { dump?: boolean } = {}): Promise<NlReply> {
  const sock = NetlinkSocket.open(protocol);
  try {
    return await sock.request(msg, opts);
  } finally {
    sock.close();
  }
}
