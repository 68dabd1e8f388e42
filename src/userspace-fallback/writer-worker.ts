/**
 * The writer worker (see ring-writer.ts): drains the shared write ring, sleeping on SEQ when it is
 * empty. TUN records go out with one write() each. Consecutive UDP records for one socket are
 * staged together (a SendBatch) and sent with one sendmmsg(); within them, runs of equal-size
 * datagrams to one destination become UDP GSO trains (udp-trains.ts), so a TSO super-packet's
 * sealed segments cost the kernel one pass through the UDP/IP stack instead of one per datagram.
 * The worker never waits for more records than the ring holds: a lone datagram goes at once.
 *
 * GSO per socket: off when WGTS_UDP_GSO=0, when the kernel lacks UDP_SEGMENT (checked with
 * getsockopt on the socket's first train), or for good once a train fails with EIO (the route's
 * device cannot checksum in hardware, udp(7)), ENOPROTOOPT or EOPNOTSUPP; EINVAL lowers the largest
 * segment size tried (a segment over the path MTU). A failed train is retried datagram by datagram,
 * so nothing is lost to the fallback. A send that fails with EAGAIN waits for POLLOUT (bounded); any
 * other failure drops that datagram.
 */
import { workerData } from 'node:worker_threads';
import { EAGAIN, EINTR, EINVAL, EIO, ENOPROTOOPT, ENOSYS, EOPNOTSUPP } from '../conf/errno.js';
import { MSG_NOSIGNAL, POLLFD_BYTES, POLLOUT, PR_SET_NAME, SendBatch, hasUdpSegment, sys } from '../system/libc.js';
import { Ctrl, WRAP, WRITER_HDR, WRITER_OFF_FD, WRITER_OFF_SA, WRITER_OFF_SALEN, nextOffset } from './ring.js';
import { trainEnd } from './udp-trains.js';

/** Attempts per send while the socket buffer stays full (each waits up to POLLOUT_WAIT_MS). */
const MAX_ATTEMPTS = 100;
const POLLOUT_WAIT_MS = 100;
/** Datagrams staged per sendmmsg() (each may be a train), and the bytes they may hold. */
const BATCH_RECORDS = 128;
const BATCH_BYTES = 192 << 10;

/**
 * WGTS_UDP_GSO=0 sends every datagram on its own (sendmmsg batches), for A/B measurements and to
 * test the plain path. A worker sees the environment of its process as it was when it started.
 */
const UDP_GSO = process.env.WGTS_UDP_GSO !== '0';

const wd = workerData as { sab: SharedArrayBuffer; ctrlSab: SharedArrayBuffer };
sys.prctlName(PR_SET_NAME, 'wgts-tx', 0, 0, 0);
const data = new Uint8Array(wd.sab);
const dv = new DataView(wd.sab);
const ctrl = new Int32Array(wd.ctrlSab);
const pfd = new Uint8Array(POLLFD_BYTES);
const pv = new DataView(pfd.buffer);
const batch = new SendBatch(BATCH_RECORDS, BATCH_BYTES);
/** Per staged datagram: its ring offset, size, offset in batch.data, destination id. */
const recAt = new Int32Array(BATCH_RECORDS);
const lens = new Int32Array(BATCH_RECORDS);
const offs = new Int32Array(BATCH_RECORDS);
const dests = new Int32Array(BATCH_RECORDS);
/** Per message of the batch: its first datagram and the one after its last. */
const msgFirst = new Int32Array(BATCH_RECORDS);
const msgEnd = new Int32Array(BATCH_RECORDS);
/**
 * Largest GSO segment size per socket fd (0: GSO off). Forgotten after a second without records,
 * so an fd number reused by a new socket soon gets a verdict of its own (until then it may send
 * without GSO, or split one train).
 */
const gsoLimit = new Map<number, number>();
/** Off when the kernel lacks sendmmsg(): one sendto() per datagram. */
let haveSendmmsg = true;
let r = Atomics.load(ctrl, Ctrl.R);
let done = 0;

function finished(): void {
  Atomics.store(ctrl, Ctrl.R, r);
  Atomics.store(ctrl, Ctrl.DONE, done);
  Atomics.notify(ctrl, Ctrl.DONE);
}

function waitWritable(fd: number): void {
  pv.setInt32(0, fd, true);
  pv.setInt16(4, POLLOUT, true);
  pv.setInt16(6, 0, true);
  sys.poll(pfd, 1, POLLOUT_WAIT_MS);
}

/** write() of a TUN record. */
function writeTun(fd: number, payload: Uint8Array): void {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (sys.write(fd, payload, payload.length) >= 0) return;
    const e = sys.errno();
    if (e === EINTR) continue;
    if (e !== EAGAIN) return; // closed fd...: dropped
    waitWritable(fd);
  }
}

function gsoLimitOf(fd: number): number {
  let limit = gsoLimit.get(fd);
  if (limit === undefined) {
    limit = UDP_GSO && hasUdpSegment(fd) ? 0xffff : 0;
    gsoLimit.set(fd, limit);
  }
  return limit;
}

/** sendto() of datagram i of the batch (message k carries its address); true if it went out. */
function sendDatagram(fd: number, k: number, i: number): boolean {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (batch.sendOne(fd, k, offs[i]!, lens[i]!, MSG_NOSIGNAL) >= 0) return true;
    const e = sys.errno();
    if (e === EINTR) continue;
    if (e !== EAGAIN) return false; // unreachable, closed fd...: dropped
    waitWritable(fd);
  }
  return false;
}

/** Message k failed with `e`: send its datagrams one by one; if they go out, GSO was the problem. */
function splitTrain(fd: number, k: number, e: number): void {
  Atomics.add(ctrl, Ctrl.SPLITS, 1);
  let sent = false;
  for (let i = msgFirst[k]!; i < msgEnd[k]!; i++) if (sendDatagram(fd, k, i)) sent = true;
  if (!sent) return;
  if (e === EIO || e === ENOPROTOOPT || e === EOPNOTSUPP) gsoLimit.set(fd, 0);
  else if (e === EINVAL) gsoLimit.set(fd, Math.min(gsoLimitOf(fd), lens[msgFirst[k]!]! - 1));
}

/** Sends messages [0, m) of the batch on `fd`. */
function sendMessages(fd: number, m: number): void {
  if (!haveSendmmsg) {
    for (let k = 0; k < m; k++) for (let i = msgFirst[k]!; i < msgEnd[k]!; i++) sendDatagram(fd, k, i);
    return;
  }
  let k = 0;
  let attempts = 0;
  while (k < m) {
    const rc = batch.send(fd, k, m - k, MSG_NOSIGNAL);
    if (rc > 0) {
      let trains = 0;
      for (let x = k; x < k + rc; x++) if (msgEnd[x]! - msgFirst[x]! > 1) trains++;
      if (trains > 0) Atomics.add(ctrl, Ctrl.TRAINS, trains);
      k += rc;
      attempts = 0;
      continue;
    }
    const e = sys.errno();
    if (e === EINTR) continue;
    if (e === EAGAIN) {
      if (++attempts >= MAX_ATTEMPTS) return; // the rest is dropped
      waitWritable(fd);
      continue;
    }
    if (e === ENOSYS) {
      haveSendmmsg = false;
      for (; k < m; k++) for (let i = msgFirst[k]!; i < msgEnd[k]!; i++) sendDatagram(fd, k, i);
      return;
    }
    // Message k failed: a train is retried datagram by datagram; a lone datagram is dropped.
    if (msgEnd[k]! - msgFirst[k]! > 1) splitTrain(fd, k, e);
    k++;
  }
}

/**
 * Stages the UDP records for `fd` from R on (up to the batch's room) and sends them; returns the
 * ring offset after the last one staged.
 */
function sendUdpBurst(fd: number, w: number): number {
  let at = r;
  let n = 0;
  let used = 0;
  while (at !== w && n < BATCH_RECORDS) {
    const len = dv.getInt32(at, true);
    if (len === WRAP) {
      at = 0;
      continue;
    }
    const salen = dv.getInt32(at + WRITER_OFF_SALEN, true);
    if (salen === 0 || dv.getInt32(at + WRITER_OFF_FD, true) !== fd || used + len > BATCH_BYTES) {
      if (n > 0) break;
      // Larger than any datagram (UDP's payload ends at 64 KiB): cannot be sent, dropped.
      at = nextOffset(at, WRITER_HDR, len);
      done = (done + 1) | 0;
      return at;
    }
    batch.data.set(data.subarray(at + WRITER_HDR, at + WRITER_HDR + len), used);
    recAt[n] = at;
    lens[n] = len;
    offs[n] = used;
    dests[n] = n > 0 && sameDest(recAt[n - 1]!, at, salen) ? dests[n - 1]! : n;
    used += len;
    n++;
    at = nextOffset(at, WRITER_HDR, len);
  }
  const limit = n > 1 ? gsoLimitOf(fd) : 0;
  let m = 0;
  for (let i = 0; i < n; ) {
    const j = trainEnd(lens, dests, i, n, limit);
    let bytes = 0;
    for (let x = i; x < j; x++) bytes += lens[x]!;
    const sa = recAt[i]! + WRITER_OFF_SA;
    batch.setMessage(m, offs[i]!, bytes, data.subarray(sa, sa + dv.getInt32(recAt[i]! + WRITER_OFF_SALEN, true)),
      j - i > 1 ? lens[i]! : 0);
    msgFirst[m] = i;
    msgEnd[m] = j;
    m++;
    i = j;
  }
  // fd -1: records without a socket (the producer sent them itself): counted done, no system call.
  if (m > 0 && fd >= 0) sendMessages(fd, m);
  done = (done + n) | 0;
  return at;
}

function sameDest(a: number, b: number, salen: number): boolean {
  if (dv.getInt32(a + WRITER_OFF_SALEN, true) !== salen) return false;
  for (let i = 0; i < salen; i++) if (data[a + WRITER_OFF_SA + i] !== data[b + WRITER_OFF_SA + i]) return false;
  return true;
}

for (;;) {
  const seq = Atomics.load(ctrl, Ctrl.SEQ);
  const w = Atomics.load(ctrl, Ctrl.W);
  if (r === w) {
    if (Atomics.load(ctrl, Ctrl.STATE) !== 0) break;
    // Announce the sleep, then re-check: a producer that published after our load of W has either
    // bumped SEQ (so the wait returns at once) or will see SLEEPING and notify.
    Atomics.store(ctrl, Ctrl.SLEEPING, 1);
    if (Atomics.load(ctrl, Ctrl.W) === r && Atomics.wait(ctrl, Ctrl.SEQ, seq, 1000) === 'timed-out') gsoLimit.clear();
    Atomics.store(ctrl, Ctrl.SLEEPING, 0);
    continue;
  }
  while (r !== w) {
    const len = dv.getInt32(r, true);
    if (len === WRAP) {
      r = 0;
      continue;
    }
    const fd = dv.getInt32(r + WRITER_OFF_FD, true);
    if (dv.getInt32(r + WRITER_OFF_SALEN, true) !== 0) {
      r = sendUdpBurst(fd, w);
    } else {
      writeTun(fd, data.subarray(r + WRITER_HDR, r + WRITER_HDR + len));
      r = nextOffset(r, WRITER_HDR, len);
      done = (done + 1) | 0;
    }
    finished();
  }
}
