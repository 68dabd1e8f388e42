/**
 * The reader worker (see ring-reader.ts for the why): one poll() over a wake pipe, every live
 * source's fds and link-watch sockets; each readable fd is read in a burst straight into its
 * source's ring, and the main thread is woken once per burst. Sources arrive and leave by message
 * (read synchronously with receiveMessageOnPort: the worker never returns to its event loop), each
 * announced by a byte on the wake pipe.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { EAGAIN, EBADF, EBADFD, EFAULT, EINTR } from '../conf/errno.js';
import { equalBytes, macWithKey } from '../crypto/primitives.js';
import { openLinkWatch, type LinkWatch } from './link-watch.js';
import { INIT_OFF_MAC1, MAC_LEN, MESSAGE_COOKIE_REPLY, MESSAGE_DATA, MESSAGE_INITIATION, RESP_OFF_MAC1, validMessageType } from './messages.js';
import { DatagramBatch, POLLFD_BYTES, POLLIN, POLL_FAILED, PR_SET_NAME, sys } from '../system/libc.js';
import { splitCoalesced } from './udp-gro.js';
import { Ctrl, LEN_BYTES, SOCKADDR_BYTES, nextOffset, publish, reserve, reserveBlocking, used } from './ring.js';
import {
  GATE_HS_DROPPED, GATE_JUNK, GATE_KEY_OFFSET, GATE_KEY_SET, GATE_MAC1_FAILED,
  type ReaderRequest, type ReaderMessage, type SourceSpec,
} from './ring-reader.js';

interface Source extends SourceSpec {
  data: Uint8Array;
  dv: DataView;
  ctrl: Int32Array;
  /** Record header: the length, and the sockaddr for UDP. */
  hdr: number;
  /** Room one record may take (header, largest packet, alignment). */
  size: number;
  w: number;
  /** Ended (error or stop): out of the poll set until the main thread removes it. */
  dead: boolean;
  link: LinkWatch | undefined;
  /** The handshake lane (see RingReaderOptions.handshakes). */
  lane: Lane | undefined;
}

interface Lane {
  data: Uint8Array;
  dv: DataView;
  ctrl: Int32Array;
  w: number;
  gate: Int32Array;
  key: Uint8Array;
  /** mac1 with the key of generation `generation` (see RingReader.setMac1Key). */
  mac1: ((msg: Uint8Array) => Uint8Array) | undefined;
  generation: number;
}

const LANE_HDR = LEN_BYTES + SOCKADDR_BYTES;

function isZero(p: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (p[i] !== 0) return false;
  return true;
}

/**
 * Where a datagram of a device's UDP source goes: 'data' stays in the data ring, 'handshake' moves
 * to the handshake lane, anything else is dropped here (counted): no valid type and size, a lane
 * that is full (checked first: dropping then costs nothing), or a mac1 that does not verify
 * (checked before anything costly, as WireGuard's DoS protection intends).
 */
function sort(lane: Lane, p: Uint8Array): 'data' | 'handshake' | 'drop' {
  const type = validMessageType(p);
  if (type === MESSAGE_DATA) return 'data';
  if (type === 0) {
    Atomics.add(lane.gate, GATE_JUNK, 1);
    return 'drop';
  }
  const r = Atomics.load(lane.ctrl, Ctrl.R);
  // The last quarter of the lane is kept for messages a flood of fresh initiations does not send:
  // initiations that carry a mac2 (a peer that got our cookie reply), responses and cookie replies.
  const fresh = type === MESSAGE_INITIATION && isZero(p, INIT_OFF_MAC1 + MAC_LEN, INIT_OFF_MAC1 + 2 * MAC_LEN);
  if ((fresh && used(lane.w, r, lane.data.length) > lane.data.length * 0.75) || reserve(lane.dv, lane.w, r, LANE_HDR + p.length + 3) === -1) {
    Atomics.add(lane.gate, GATE_HS_DROPPED, 1);
    return 'drop';
  }
  if (type === MESSAGE_COOKIE_REPLY) return 'handshake';
  const generation = Atomics.load(lane.gate, GATE_KEY_SET);
  if (generation !== 0 && generation !== lane.generation) {
    lane.mac1 = macWithKey(lane.key.slice());
    lane.generation = generation;
  }
  const macOff = type === MESSAGE_INITIATION ? INIT_OFF_MAC1 : RESP_OFF_MAC1;
  if (generation !== 0 && equalBytes(lane.mac1!(p.subarray(0, macOff)), p.subarray(macOff, macOff + MAC_LEN))) return 'handshake';
  Atomics.add(lane.gate, GATE_MAC1_FAILED, 1);
  return 'drop';
}

/** Copies a record (sockaddr and datagram) to the handshake lane (sort() found room for it). */
function toLane(lane: Lane, sa: Uint8Array, p: Uint8Array): void {
  const hdr = LANE_HDR;
  const w = reserve(lane.dv, lane.w, Atomics.load(lane.ctrl, Ctrl.R), hdr + p.length + 3);
  lane.dv.setInt32(w, p.length, true);
  lane.data.set(sa, w + LEN_BYTES);
  lane.data.set(p, w + hdr);
  lane.w = nextOffset(w, hdr, p.length);
  Atomics.store(lane.ctrl, Ctrl.W, lane.w);
}

const port = parentPort!;
const { wakeFd } = workerData as { wakeFd: number };
sys.prctlName(PR_SET_NAME, 'wgts-rx', 0, 0, 0);
const sources = new Map<number, Source>();
const post = (m: ReaderMessage): void => port.postMessage(m);

// The poll set: the wake pipe first, then each live source's fds and link socket; slots[i] says
// whose entry i is.
let pfd = new Uint8Array(0);
let pv = new DataView(pfd.buffer);
let slots: Array<{ src: Source; link: boolean } | undefined> = [];
function rebuild(): void {
  const fds = [wakeFd];
  slots = [undefined];
  for (const s of sources.values()) {
    if (s.dead) continue;
    for (const fd of s.fds) {
      fds.push(fd);
      slots.push({ src: s, link: false });
    }
    if (s.link) {
      fds.push(s.link.fd);
      slots.push({ src: s, link: true });
    }
  }
  pfd = new Uint8Array(POLLFD_BYTES * fds.length);
  pv = new DataView(pfd.buffer);
  fds.forEach((fd, i) => {
    pv.setInt32(i * POLLFD_BYTES, fd, true);
    pv.setInt16(i * POLLFD_BYTES + 4, POLLIN, true);
  });
}

const wakeBuf = new Uint8Array(256);
/** Applies the main thread's requests (add, remove, exit); false on exit. */
function control(): boolean {
  sys.read(wakeFd, wakeBuf, wakeBuf.length);
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    const op = m.message as ReaderRequest;
    if (op.op === 'exit') return false;
    if (op.op === 'add') {
      const hdr = LEN_BYTES + (op.withAddr ? SOCKADDR_BYTES : 0);
      const ctrl = new Int32Array(op.ctrlSab);
      const id = op.id;
      sources.set(id, {
        ...op, data: new Uint8Array(op.sab), dv: new DataView(op.sab), ctrl, hdr, size: hdr + op.maxPacket + 4,
        w: Atomics.load(ctrl, Ctrl.W), dead: false,
        link: op.watchLink ? openLinkWatch(ctrl, (ev) => post({ ...ev, id })) : undefined,
        lane: op.handshakes && {
          data: new Uint8Array(op.handshakes.sab), dv: new DataView(op.handshakes.sab), ctrl: new Int32Array(op.handshakes.ctrlSab),
          w: Atomics.load(new Int32Array(op.handshakes.ctrlSab), Ctrl.W), gate: new Int32Array(op.handshakes.gateSab, 0, GATE_KEY_OFFSET / 4),
          key: new Uint8Array(op.handshakes.gateSab, GATE_KEY_OFFSET, 32), mac1: undefined, generation: 0,
        },
      });
    } else {
      sources.get(op.id)?.link?.close();
      sources.delete(op.id);
      post({ kind: 'removed', id: op.id });
    }
  }
  rebuild();
  return true;
}

function fail(s: Source, errno: number): false {
  Atomics.store(s.ctrl, Ctrl.STATE, errno);
  publish(s.ctrl);
  return false;
}

/** UDP datagrams per recvmmsg() call. */
const UDP_BATCH = 32;
/** Control-message room per datagram: a UDP_GRO cmsg (CMSG_SPACE(4) = 24) and spare. */
const UDP_CONTROL = 64;
let udpBatch: DatagramBatch | undefined;

/**
 * Reads one burst from `fd` into the source's ring; false when the source ends (error or stop).
 * UDP is read with recvmmsg() into native memory and copied into the ring (sorted first for a
 * device's source, see sort()); the TUN is read with read() straight into the ring.
 */
function burst(s: Source, fd: number, revents: number): boolean {
  const { data, dv, ctrl, hdr, size, maxPacket, withAddr } = s;
  let n = 0;
  let emptyReads = 0;
  // Publishes before each wait for room, the partial burst first (this holds up the other sources
  // too: the main thread is behind on all of them then, and a ring holds thousands of packets).
  // Again on every wait slice: a full ring must never leave both sides waiting for each other.
  const flushPartial = (): void => {
    publish(ctrl);
    n = 0;
  };
  let read = 0;
  while (read < s.batch) {
    if (withAddr) {
      // Slots of maxPacket (64 KiB for a Bind) also hold a datagram the kernel coalesced (UDP_GRO).
      udpBatch ??= new DatagramBatch(UDP_BATCH, maxPacket, UDP_CONTROL);
      const asked = Math.min(s.batch - read, UDP_BATCH);
      const got = udpBatch.receive(fd, asked);
      if (got < 0) {
        const e = sys.errno();
        if (e === EAGAIN) break;
        if (e === EINTR) continue;
        // UDP: ICMP-reported errors (ECONNREFUSED...) are per-datagram, not fatal.
        if (e !== EBADF && e !== EFAULT && ++emptyReads <= 64) continue;
        if (e !== EBADF && e !== EFAULT) break;
        return fail(s, e);
      }
      if (got === 0) break;
      // A burst counts records, so a coalesced datagram counts as the datagrams it holds.
      read += got;
      for (let i = 0; i < got; i++) {
        const whole = udpBatch.payload(i);
        const sa = udpBatch.source(i);
        const gso = udpBatch.groSize(i);
        // A coalesced run (UDP_GRO, udp.ts) becomes the datagrams it was made of, one record each.
        const parts = gso > 0 && gso < whole.length ? splitCoalesced(whole, gso) : undefined;
        if (parts) read += parts.length - 1;
        for (let k = 0, count = parts ? parts.length : 1; k < count; k++) {
          const p = parts ? parts[k]! : whole;
          if (s.lane) {
            const where = sort(s.lane, p);
            if (where === 'handshake') {
              toLane(s.lane, sa, p);
              // Wake the main thread for it only when it sleeps with an empty lane (Ctrl.SLEEPING).
              if (Atomics.load(ctrl, Ctrl.SLEEPING) !== 0) n++;
            }
            if (where !== 'data') continue;
          }
          const w = reserveBlocking(ctrl, dv, s.w, hdr + p.length + 4, flushPartial);
          if (w === -1) return false; // stopped
          dv.setInt32(w, p.length, true);
          data.set(sa, w + LEN_BYTES);
          data.set(p, w + hdr);
          s.w = nextOffset(w, hdr, p.length);
          Atomics.store(ctrl, Ctrl.W, s.w);
          n++;
        }
      }
      // Fewer than asked: the socket was empty, so another call would only say EAGAIN (a lone
      // datagram would wait for it); what arrives meanwhile makes the next poll() return at once.
      if (got < asked) break;
      continue;
    }
    const w = reserveBlocking(ctrl, dv, s.w, size, flushPartial);
    if (w === -1) return false; // stopped
    const len = sys.read(fd, data.subarray(w + hdr, w + hdr + maxPacket), maxPacket);
    if (len < 0) {
      const e = sys.errno();
      if (e === EAGAIN) {
        // POLLERR/POLLHUP/POLLNVAL with nothing to read: the fd is dead (TUN deleted).
        if (read === 0 && (revents & POLL_FAILED) !== 0) return fail(s, EBADFD);
        break;
      }
      if (e === EINTR) continue;
      return fail(s, e);
    }
    read++;
    dv.setInt32(w, len, true);
    s.w = nextOffset(w, hdr, len);
    Atomics.store(ctrl, Ctrl.W, s.w);
    n++;
  }
  if (n > 0) publish(ctrl);
  return true;
}

rebuild();
for (;;) {
  for (let i = 0; i < slots.length; i++) pv.setInt16(i * POLLFD_BYTES + 6, 0, true);
  const rc = sys.poll(pfd, slots.length, -1);
  if (rc < 0) {
    const e = sys.errno();
    if (e === EINTR) continue;
    for (const s of sources.values()) if (!s.dead) fail(s, e);
    break;
  }
  if (pv.getInt16(6, true) !== 0) {
    if (!control()) break;
    continue; // the poll set changed
  }
  let changed = false;
  for (let i = 1; i < slots.length; i++) {
    const revents = pv.getInt16(i * POLLFD_BYTES + 6, true);
    const slot = slots[i]!;
    if (revents === 0 || slot.src.dead) continue;
    const s = slot.src;
    if (slot.link) {
      if (!s.link!.read()) {
        s.link!.close();
        s.link = undefined;
        changed = true;
      }
    } else if (!burst(s, pv.getInt32(i * POLLFD_BYTES, true), revents)) {
      s.dead = true;
      changed = true;
    }
  }
  if (changed) rebuild();
}
