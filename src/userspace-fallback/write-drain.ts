/**
 * Carrying out the write ring's records (layout in ring.ts): one write() per TUN record; consecutive
 * UDP records for one socket gathered into one sendmmsg() whose iovecs point straight into the ring
 * (GatherBatch: no staging copy), runs of equal-size datagrams to one destination as UDP GSO trains
 * (udp-trains.ts), so a TSO super-packet's sealed segments cost the kernel one pass through the
 * UDP/IP stack instead of one per datagram.
 *
 * Two users: the writer worker (writer-worker.ts), which may block, and the main thread
 * (ring-writer.ts), which writes a batch itself while the worker has nothing in hand and must never
 * block: when a socket or the TUN is full (EAGAIN) it stops at that record and leaves the rest to the
 * worker, which waits for POLLOUT (bounded).
 *
 * GSO per socket: off when WGTS_UDP_GSO=0, when the kernel lacks UDP_SEGMENT (checked with
 * getsockopt on the socket's first train), or for good once a train fails with EIO (the route's
 * device cannot checksum in hardware, udp(7)), ENOPROTOOPT or EOPNOTSUPP; EINVAL lowers the largest
 * segment size tried (a segment over the path MTU). A failed train is retried datagram by datagram,
 * so nothing is lost to the fallback. Any other failure drops that datagram.
 */
import { EAGAIN, EINTR, EINVAL, EIO, ENOPROTOOPT, ENOSYS, EOPNOTSUPP } from '../conf/errno.js';
import { GatherBatch, MSG_NOSIGNAL, POLLFD_BYTES, POLLOUT, hasUdpSegment, sendtoAddress, sharedAddress, sys } from '../system/libc.js';
import { WRAP, WRITER_HDR, WRITER_OFF_FD, WRITER_OFF_SA, WRITER_OFF_SALEN, nextOffset } from './ring.js';
import { trainEnd } from './udp-trains.js';

/** Attempts per send while the socket buffer stays full (each waits up to POLLOUT_WAIT_MS); blocking drains only. */
const MAX_ATTEMPTS = 100;
const POLLOUT_WAIT_MS = 100;
/** Datagrams gathered per sendmmsg() (each message may be a train of several). */
const BATCH_RECORDS = 128;

export class WriteDrain {
  private readonly base: number;
  private readonly batch = new GatherBatch(BATCH_RECORDS, BATCH_RECORDS);
  private readonly pfd = new Uint8Array(POLLFD_BYTES);
  private readonly pv = new DataView(this.pfd.buffer);
  /** Per gathered datagram: its ring offset, size, destination id. */
  private readonly recAt = new Int32Array(BATCH_RECORDS + 1);
  private readonly lens = new Int32Array(BATCH_RECORDS);
  private readonly dests = new Int32Array(BATCH_RECORDS);
  /** Per message of the batch: its first datagram and the one after its last. */
  private readonly msgFirst = new Int32Array(BATCH_RECORDS);
  private readonly msgEnd = new Int32Array(BATCH_RECORDS);
  /**
   * Largest GSO segment size per socket fd (0: GSO off). forget() drops the verdicts (the worker
   * after a second without records), so an fd number reused by a new socket soon gets its own.
   */
  private readonly gsoLimit = new Map<number, number>();
  /** Off when the kernel lacks sendmmsg(): one sendto() per datagram. */
  private haveSendmmsg = true;
  /** Records finished with (sent, written or dropped), wrapping at 2^32. */
  done = 0;
  /** UDP GSO trains sent, and trains that failed and went out datagram by datagram. */
  trains = 0;
  splits = 0;
  /** Non-blocking drains: the last step stopped at a record that would block (EAGAIN). */
  blocked = false;
  /**
   * WGTS_UDP_GSO=0 sends every datagram on its own (sendmmsg batches), for A/B measurements and to
   * test the plain path; read when the drain is made (a worker sees the environment of its process
   * as it was when it started).
   */
  private readonly udpGso = process.env.WGTS_UDP_GSO !== '0';

  constructor(
    private readonly data: Uint8Array,
    private readonly dv: DataView,
    /** Wait (bounded) for room when a socket or the TUN is full; otherwise stop there. */
    private readonly blocking: boolean,
  ) {
    this.base = sharedAddress(data);
  }

  forget(): void {
    this.gsoLimit.clear();
  }

  /**
   * Carries out the records from `r` on (a TUN write, or a burst of UDP records for one socket), not
   * past `w`; returns the offset after the last record finished. Non-blocking: the same offset and
   * `blocked` set when the first record of the step would block.
   */
  step(r: number, w: number): number {
    this.blocked = false;
    const { dv, data } = this;
    let len = dv.getInt32(r, true);
    if (len === WRAP) {
      r = 0;
      if (r === w) return r;
      len = dv.getInt32(r, true);
    }
    const fd = dv.getInt32(r + WRITER_OFF_FD, true);
    if (dv.getInt32(r + WRITER_OFF_SALEN, true) !== 0) return this.udpBurst(fd, r, w);
    // fd -1: a record the producer wrote itself (see RingWriter.writeInline); done, no system call.
    if (fd >= 0 && !this.writeTun(fd, data.subarray(r + WRITER_HDR, r + WRITER_HDR + len))) {
      this.blocked = true;
      return r;
    }
    this.done = (this.done + 1) | 0;
    return nextOffset(r, WRITER_HDR, len);
  }

  private waitWritable(fd: number): void {
    const pv = this.pv;
    pv.setInt32(0, fd, true);
    pv.setInt16(4, POLLOUT, true);
    pv.setInt16(6, 0, true);
    sys.poll(this.pfd, 1, POLLOUT_WAIT_MS);
  }

  /** write() of a TUN record; false if it would block (non-blocking only; failures drop it). */
  private writeTun(fd: number, payload: Uint8Array): boolean {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (sys.write(fd, payload, payload.length) >= 0) return true;
      const e = sys.errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) return true; // closed fd...: dropped
      if (!this.blocking) return false;
      this.waitWritable(fd);
    }
    return true;
  }

  private gsoLimitOf(fd: number): number {
    let limit = this.gsoLimit.get(fd);
    if (limit === undefined) {
      limit = this.udpGso && hasUdpSegment(fd) ? 0xffff : 0;
      this.gsoLimit.set(fd, limit);
    }
    return limit;
  }

  /**
   * sendto() of datagram i (iovec i) of the batch, message k carrying its address; true if it went
   * out. A full socket: the blocking drain waits, the non-blocking one drops the datagram (this runs
   * only for a train the kernel refused, rare enough not to hand the rest over mid-message).
   */
  private sendDatagram(fd: number, k: number, i: number): boolean {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (this.batch.sendPart(fd, k, i, MSG_NOSIGNAL) >= 0) return true;
      const e = sys.errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN || !this.blocking) return false; // unreachable, closed fd...: dropped
      this.waitWritable(fd);
    }
    return false;
  }

  /** Message k failed with `e`: send its datagrams one by one; if they go out, GSO was the problem. */
  private splitTrain(fd: number, k: number, e: number): void {
    this.splits++;
    let sent = false;
    for (let i = this.msgFirst[k]!; i < this.msgEnd[k]!; i++) if (this.sendDatagram(fd, k, i)) sent = true;
    if (!sent) return;
    if (e === EIO || e === ENOPROTOOPT || e === EOPNOTSUPP) this.gsoLimit.set(fd, 0);
    else if (e === EINVAL) this.gsoLimit.set(fd, Math.min(this.gsoLimitOf(fd), this.lens[this.msgFirst[k]!]! - 1));
  }

  /**
   * Sends messages [0, m) of the batch on `fd`; returns how many were finished with (sent or
   * dropped): fewer than m only when a non-blocking drain found the socket full.
   */
  private sendMessages(fd: number, m: number): number {
    const { batch, msgFirst, msgEnd } = this;
    if (!this.haveSendmmsg) {
      for (let k = 0; k < m; k++) for (let i = msgFirst[k]!; i < msgEnd[k]!; i++) this.sendDatagram(fd, k, i);
      return m;
    }
    let k = 0;
    let attempts = 0;
    while (k < m) {
      const rc = batch.send(fd, k, m - k, MSG_NOSIGNAL);
      if (rc > 0) {
        for (let x = k; x < k + rc; x++) if (msgEnd[x]! - msgFirst[x]! > 1) this.trains++;
        k += rc;
        attempts = 0;
        continue;
      }
      const e = sys.errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) {
        if (!this.blocking) return k;
        if (++attempts >= MAX_ATTEMPTS) return m; // the rest is dropped
        this.waitWritable(fd);
        continue;
      }
      if (e === ENOSYS) {
        this.haveSendmmsg = false;
        for (; k < m; k++) for (let i = msgFirst[k]!; i < msgEnd[k]!; i++) this.sendDatagram(fd, k, i);
        return m;
      }
      // Message k failed: a train is retried datagram by datagram; a lone datagram is dropped.
      if (msgEnd[k]! - msgFirst[k]! > 1) this.splitTrain(fd, k, e);
      k++;
    }
    return m;
  }

  /**
   * Gathers the UDP records for `fd` from `r` on (up to the batch's room) and sends them; returns
   * the ring offset after the last one finished.
   */
  private udpBurst(fd: number, r: number, w: number): number {
    const { dv, data, batch, recAt, lens, dests, msgFirst, msgEnd } = this;
    let at = r;
    let n = 0;
    while (at !== w && n < BATCH_RECORDS) {
      const len = dv.getInt32(at, true);
      if (len === WRAP) {
        at = 0;
        continue;
      }
      const salen = dv.getInt32(at + WRITER_OFF_SALEN, true);
      if (salen === 0 || dv.getInt32(at + WRITER_OFF_FD, true) !== fd) break;
      recAt[n] = at;
      lens[n] = len;
      dests[n] = n > 0 && this.sameDest(recAt[n - 1]!, at, salen) ? dests[n - 1]! : n;
      n++;
      at = nextOffset(at, WRITER_HDR, len);
    }
    recAt[n] = at;
    // fd -1: records without a socket (the producer sent them itself): done, no system call.
    if (fd < 0) {
      this.done = (this.done + n) | 0;
      return at;
    }
    if (n === 1) return this.sendLone(fd, r, at);
    const limit = this.gsoLimitOf(fd);
    batch.reset();
    let m = 0;
    for (let i = 0; i < n; ) {
      const j = trainEnd(lens, dests, i, n, limit);
      for (let x = i; x < j; x++) batch.add(this.base + recAt[x]! + WRITER_HDR, lens[x]!);
      const sa = recAt[i]! + WRITER_OFF_SA;
      batch.end(data.subarray(sa, sa + dv.getInt32(recAt[i]! + WRITER_OFF_SALEN, true)), j - i > 1 ? lens[i]! : 0);
      msgFirst[m] = i;
      msgEnd[m] = j;
      m++;
      i = j;
    }
    const sent = this.sendMessages(fd, m);
    if (sent < m) {
      this.blocked = true;
      const first = msgFirst[sent]!;
      this.done = (this.done + first) | 0;
      return recAt[first]!;
    }
    this.done = (this.done + n) | 0;
    return at;
  }

  /**
   * One datagram (the record at `r`, `next` after it): a plain sendto() from the ring, the short
   * path for a lone packet (a ping, an ACK), which should not wait on more JS than it needs.
   */
  private sendLone(fd: number, r: number, next: number): number {
    const { dv, base } = this;
    const len = dv.getInt32(r, true);
    const salen = dv.getInt32(r + WRITER_OFF_SALEN, true);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (sendtoAddress(fd, base + r + WRITER_HDR, len, MSG_NOSIGNAL, base + r + WRITER_OFF_SA, salen) >= 0) break;
      const e = sys.errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) break; // unreachable, closed fd...: dropped
      if (!this.blocking) {
        this.blocked = true;
        return r;
      }
      this.waitWritable(fd);
    }
    this.done = (this.done + 1) | 0;
    return next;
  }

  private sameDest(a: number, b: number, salen: number): boolean {
    const { dv, data } = this;
    if (dv.getInt32(a + WRITER_OFF_SALEN, true) !== salen) return false;
    for (let i = 0; i < salen; i++) if (data[a + WRITER_OFF_SA + i] !== data[b + WRITER_OFF_SA + i]) return false;
    return true;
  }
}
