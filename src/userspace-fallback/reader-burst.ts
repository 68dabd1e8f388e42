/**
 * Reading a source's fds into its ring (ring-reader.ts): the same code whichever thread does it, the
 * reader worker (reader-worker.ts) under traffic or the main thread's idle poll (idle-poll.ts). A
 * device's UDP datagrams are sorted on the way in: data to the ring, handshake messages whose mac1
 * verifies to the handshake lane (under load, at most a source's share of it), the rest dropped and
 * counted.
 */
import { EAGAIN, EBADF, EBADFD, EFAULT, EINTR } from '../conf/errno.js';
import { equalBytes, macWithKey } from '../crypto/primitives.js';
import { linkWatch, type LinkEvent, type LinkWatch } from './link-watch.js';
import { INIT_OFF_MAC1, MAC_LEN, MESSAGE_COOKIE_REPLY, MESSAGE_DATA, MESSAGE_INITIATION, RESP_OFF_MAC1, validMessageType } from './messages.js';
import { DatagramBatch, POLL_FAILED, sys } from '../system/libc.js';
import { nativeCopier } from '../system/native-copy.js';
import { monotonicMs } from './monotonic.js';
import { RateLimiter, sockaddrRatelimitKey } from './ratelimiter.js';
import { splitCoalesced } from './udp-gro.js';
import { Ctrl, LEN_BYTES, SOCKADDR_BYTES, nextOffset, publish, reserve, reserveBlocking, used } from './ring.js';
import {
  GATE_HS_DROPPED, GATE_JUNK, GATE_KEY_OFFSET, GATE_KEY_SET, GATE_MAC1_FAILED, UNDER_LOAD_AFTER_MS, UNDER_LOAD_BACKLOG, type SourceSpec,
} from './reader-spec.js';

export interface Source extends SourceSpec {
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

export interface Lane {
  data: Uint8Array;
  dv: DataView;
  ctrl: Int32Array;
  w: number;
  gate: Int32Array;
  key: Uint8Array;
  /** mac1 with the key of generation `generation` (see RingReader.setMac1Key). */
  mac1: ((msg: Uint8Array) => Uint8Array) | undefined;
  generation: number;
  /** Per-source rate of handshake messages let into the lane while it is under load. */
  limiter: RateLimiter;
  /** When the lane was last found under load (monotonicMs). */
  loadedAt: number;
}

const laneClock = { now: monotonicMs };

/** A source as the thread that reads it holds it; the write offsets continue from the rings' W. */
export function openSource(spec: SourceSpec, onLink: (ev: LinkEvent) => void): Source {
  const hdr = LEN_BYTES + (spec.withAddr ? SOCKADDR_BYTES : 0);
  const ctrl = new Int32Array(spec.ctrlSab);
  const hs = spec.handshakes;
  const laneCtrl = hs && new Int32Array(hs.ctrlSab);
  return {
    ...spec, data: new Uint8Array(spec.sab), dv: new DataView(spec.sab), ctrl, hdr, size: hdr + spec.maxPacket + 4,
    w: Atomics.load(ctrl, Ctrl.W), dead: false,
    link: spec.linkFd !== undefined ? linkWatch(spec.linkFd, ctrl, onLink) : undefined,
    lane: hs && laneCtrl && {
      data: new Uint8Array(hs.sab), dv: new DataView(hs.sab), ctrl: laneCtrl, w: Atomics.load(laneCtrl, Ctrl.W),
      gate: new Int32Array(hs.gateSab, 0, GATE_KEY_OFFSET / 4), key: new Uint8Array(hs.gateSab, GATE_KEY_OFFSET, 32),
      mac1: undefined, generation: 0, limiter: new RateLimiter(laneClock), loadedAt: -Infinity,
    },
  };
}

/**
 * For a thread that is the ring's producer and its consumer (the idle poll): an empty ring starts
 * again at offset 0, so light traffic keeps touching the same few pages.
 */
export function rewindIfEmpty(s: Source): void {
  if (s.w !== 0 && Atomics.load(s.ctrl, Ctrl.R) === s.w) {
    s.w = 0;
    Atomics.store(s.ctrl, Ctrl.W, 0);
    Atomics.store(s.ctrl, Ctrl.R, 0);
  }
  const lane = s.lane;
  if (lane && lane.w !== 0 && Atomics.load(lane.ctrl, Ctrl.R) === lane.w) {
    lane.w = 0;
    Atomics.store(lane.ctrl, Ctrl.W, 0);
    Atomics.store(lane.ctrl, Ctrl.R, 0);
  }
}

const LANE_HDR = LEN_BYTES + SOCKADDR_BYTES;

function isZero(p: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (p[i] !== 0) return false;
  return true;
}

/**
 * Where a datagram of a device's UDP source goes: 'data' stays in the data ring, 'handshake' moves
 * to the handshake lane, anything else is dropped here (counted): no valid type and size, a lane
 * that is full (checked first: dropping then costs nothing), a mac1 that does not verify (checked
 * before anything costly, as WireGuard's DoS protection intends), or a source over its rate while
 * the lane is under load.
 */
export function sort(lane: Lane, p: Uint8Array, sa: Uint8Array): 'data' | 'handshake' | 'drop' {
  const type = validMessageType(p);
  if (type === MESSAGE_DATA) return 'data';
  if (type === 0) {
    Atomics.add(lane.gate, GATE_JUNK, 1);
    return 'drop';
  }
  const r = Atomics.load(lane.ctrl, Ctrl.R);
  const fill = used(lane.dv, lane.w, r);
  // The last quarter of the lane is kept for messages a flood of fresh initiations does not send:
  // initiations that carry a mac2 (a peer that got our cookie reply), responses and cookie replies.
  const fresh = type === MESSAGE_INITIATION && isZero(p, INIT_OFF_MAC1 + MAC_LEN, INIT_OFF_MAC1 + 2 * MAC_LEN);
  if ((fresh && fill > lane.data.length * 0.75) || reserve(lane.dv, lane.w, r, LANE_HDR + p.length + 3) === -1) {
    Atomics.add(lane.gate, GATE_HS_DROPPED, 1);
    return 'drop';
  }
  if (type !== MESSAGE_COOKIE_REPLY) {
    const generation = Atomics.load(lane.gate, GATE_KEY_SET);
    if (generation !== 0 && generation !== lane.generation) {
      lane.mac1 = macWithKey(lane.key.slice());
      lane.generation = generation;
    }
    const macOff = type === MESSAGE_INITIATION ? INIT_OFF_MAC1 : RESP_OFF_MAC1;
    if (generation === 0 || !equalBytes(lane.mac1!(p.subarray(0, macOff)), p.subarray(macOff, macOff + MAC_LEN))) {
      Atomics.add(lane.gate, GATE_MAC1_FAILED, 1);
      return 'drop';
    }
  }
  // Under load (the lane 1/8 full, as the kernel measures it, or a source held to its rate; and for
  // a second after, as udp.ts underLoad() has it) every source gets the rate the kernel allows a
  // source's valid-mac2 messages. The kernel limits after its queue; here it is before the lane, so
  // one flooding host (a cookie reply per initiation costs the main thread more than this check
  // costs the reader) cannot keep the lane full and crowd out another host's first initiation,
  // which then never earns the cookie its retry needs (docs/compatibility.md).
  const now = monotonicMs();
  if (fill >= lane.data.length * UNDER_LOAD_BACKLOG) lane.loadedAt = now;
  if (now - lane.loadedAt < UNDER_LOAD_AFTER_MS && !lane.limiter.allowKey(sockaddrRatelimitKey(sa))) {
    lane.loadedAt = now; // a source kept at its rate keeps the load on, though the lane is short
    Atomics.add(lane.gate, GATE_HS_DROPPED, 1);
    return 'drop';
  }
  return 'handshake';
}

/** Datagram copies into the read ring (system/native-copy.ts). */
const copy = nativeCopier();

/** Copies a record (sockaddr and datagram) to the handshake lane (sort() found room for it). */
export function toLane(lane: Lane, sa: Uint8Array, p: Uint8Array): void {
  const hdr = LANE_HDR;
  const w = reserve(lane.dv, lane.w, Atomics.load(lane.ctrl, Ctrl.R), hdr + p.length + 3);
  lane.dv.setInt32(w, p.length, true);
  lane.data.set(sa, w + LEN_BYTES);
  lane.data.set(p, w + hdr);
  lane.w = nextOffset(w, hdr, p.length);
  Atomics.store(lane.ctrl, Ctrl.W, lane.w);
}

/** Ends the source with `errno` (the consumer sees it in Ctrl.STATE). */
export function fail(s: Source, errno: number): void {
  Atomics.store(s.ctrl, Ctrl.STATE, errno);
  publish(s.ctrl);
}

/** Where the next record of `need` bytes goes: waiting for room with `flushPartial` (see burst()), or -1. */
function room(s: Source, need: number, flushPartial: (() => void) | undefined): number {
  return flushPartial ? reserveBlocking(s.ctrl, s.dv, s.w, need, flushPartial) : reserve(s.dv, s.w, Atomics.load(s.ctrl, Ctrl.R), need);
}

/** The result of a burst that ended its source. */
function ended(): BurstResult {
  result.ended = true;
  return result;
}

/** UDP datagrams per recvmmsg() call. */
const UDP_BATCH = 32;
/** Control-message room per datagram: a UDP_GRO cmsg (CMSG_SPACE(4) = 24) and spare. */
const UDP_CONTROL = 64;
/** One per thread (each thread has its own instance of this module). */
let udpBatch: DatagramBatch | undefined;

/** What burst() did: how many records (datagrams, packets) it read, and whether the source ended. */
export interface BurstResult {
  read: number;
  ended: boolean;
  /** It stopped at `max`, or for want of room (a caller that may not wait): more may be waiting. */
  more: boolean;
}
const result: BurstResult = { read: 0, ended: false, more: false };

/**
 * Reads up to `max` records from `fd` into the source's ring. UDP is read with recvmmsg() into
 * native memory and copied into the ring (sorted first for a device's source, see sort()); the TUN
 * is read with read() straight into the ring. With `wait` (the reader worker) a full ring is waited
 * for; without (the main thread, which is also the consumer) the burst ends there. The result object
 * is reused by the next call.
 */
export function burst(s: Source, fd: number, revents: number, max: number, wait: boolean): BurstResult {
  const { data, dv, ctrl, hdr, size, maxPacket, withAddr } = s;
  result.read = 0;
  result.ended = false;
  result.more = false;
  let n = 0;
  let emptyReads = 0;
  // Publishes before each wait for room, the partial burst first (this holds up the other sources
  // too: the main thread is behind on all of them then, and a ring holds thousands of packets).
  // Again on every wait slice: a full ring must never leave both sides waiting for each other.
  // Closures only where they are needed: without `wait` (the idle path, a packet at a time) this
  // function runs per packet, mostly interpreted, and each closure is an allocation.
  const flushPartial = wait
    ? (): void => {
        publish(ctrl);
        n = 0;
      }
    : undefined;
  let read = 0;
  reading: while (read < max) {
    if (withAddr) {
      // Slots of maxPacket (64 KiB for a Bind) also hold a datagram the kernel coalesced (UDP_GRO).
      udpBatch ??= new DatagramBatch(UDP_BATCH, maxPacket, UDP_CONTROL);
      // Without waiting, take no more than the ring surely holds (a coalesced datagram is at most
      // maxPacket, however many records it splits into).
      const asked = Math.min(max - read, UDP_BATCH, wait ? UDP_BATCH : Math.floor(data.length / 4 / (size + LEN_BYTES)));
      const got = udpBatch.receive(fd, asked);
      if (got < 0) {
        const e = sys.errno();
        if (e === EAGAIN) break;
        if (e === EINTR) continue;
        // UDP: ICMP-reported errors (ECONNREFUSED...) are per-datagram, not fatal.
        if (e !== EBADF && e !== EFAULT && ++emptyReads <= 64) continue;
        if (e !== EBADF && e !== EFAULT) break;
        fail(s, e);
        return ended();
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
            const where = sort(s.lane, p, sa);
            if (where === 'handshake') {
              toLane(s.lane, sa, p);
              // Wake the main thread for it only when it sleeps with an empty lane (Ctrl.SLEEPING).
              if (Atomics.load(ctrl, Ctrl.SLEEPING) !== 0) n++;
            }
            if (where !== 'data') continue;
          }
          const w = room(s, hdr + p.length + 4, flushPartial);
          if (w === -1) {
            if (wait) return ended(); // stopped
            // Cannot happen (asked was bounded by a quarter of the ring, the caller empties it
            // first), but a datagram must never be written past the consumer: dropped, as a full
            // socket buffer would.
            continue;
          }
          dv.setInt32(w, p.length, true);
          data.set(sa, w + LEN_BYTES);
          copy(data, w + hdr, p); // memmove, not V8's relaxed copy into the SharedArrayBuffer
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
    const w = room(s, size, flushPartial);
    if (w === -1) {
      if (wait) return ended(); // stopped
      result.more = true;
      break reading;
    }
    const len = sys.read(fd, data.subarray(w + hdr, w + hdr + maxPacket), maxPacket);
    if (len < 0) {
      const e = sys.errno();
      if (e === EAGAIN) {
        // POLLERR/POLLHUP/POLLNVAL with nothing to read: the fd is dead (TUN deleted).
        if (read === 0 && (revents & POLL_FAILED) !== 0) {
          fail(s, EBADFD);
          return ended();
        }
        break;
      }
      if (e === EINTR) continue;
      fail(s, e);
      return ended();
    }
    read++;
    dv.setInt32(w, len, true);
    s.w = nextOffset(w, hdr, len);
    Atomics.store(ctrl, Ctrl.W, s.w);
    n++;
  }
  if (read >= max) result.more = true;
  if (n > 0) publish(ctrl);
  result.read = read;
  return result;
}
