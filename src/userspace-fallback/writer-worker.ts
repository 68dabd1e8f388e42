/**
 * The writer worker (see ring-writer.ts): drains the shared write ring with write() or sendto(),
 * sleeping on SEQ when it is empty; a send that fails with EAGAIN waits for POLLOUT (bounded), any
 * other failure drops the packet.
 */
import { workerData } from 'node:worker_threads';
import { EAGAIN, EINTR } from '../conf/errno.js';
import { MSG_NOSIGNAL, POLLFD_BYTES, POLLOUT, PR_SET_NAME, sys } from '../system/libc.js';
import { Ctrl, WRAP, WRITER_HDR, WRITER_OFF_FD, WRITER_OFF_SA, WRITER_OFF_SALEN, nextOffset } from './ring.js';

/** Attempts per packet while the socket buffer stays full (each waits up to POLLOUT_WAIT_MS). */
const MAX_ATTEMPTS = 100;
const POLLOUT_WAIT_MS = 100;
/** Report progress (DONE) at least every this many records. */
const DONE_EVERY = 32;

const wd = workerData as { sab: SharedArrayBuffer; ctrlSab: SharedArrayBuffer };
sys.prctlName(PR_SET_NAME, 'wgts-tx', 0, 0, 0);
const data = new Uint8Array(wd.sab);
const dv = new DataView(wd.sab);
const ctrl = new Int32Array(wd.ctrlSab);
const pfd = new Uint8Array(POLLFD_BYTES);
const pv = new DataView(pfd.buffer);
let r = Atomics.load(ctrl, Ctrl.R);
let done = 0;

function finished(): void {
  Atomics.store(ctrl, Ctrl.R, r);
  Atomics.store(ctrl, Ctrl.DONE, done);
  Atomics.notify(ctrl, Ctrl.DONE);
}

function send(fd: number, payload: Uint8Array, salen: number, sa: Uint8Array): void {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const rc = salen !== 0 ? sys.sendto(fd, payload, payload.length, MSG_NOSIGNAL, sa, salen) : sys.write(fd, payload, payload.length);
    if (rc >= 0) return;
    const e = sys.errno();
    if (e === EINTR) continue;
    if (e !== EAGAIN) return; // unreachable, closed fd...: dropped
    pv.setInt32(0, fd, true);
    pv.setInt16(4, POLLOUT, true);
    pv.setInt16(6, 0, true);
    sys.poll(pfd, 1, POLLOUT_WAIT_MS);
  }
}

for (;;) {
  const seq = Atomics.load(ctrl, Ctrl.SEQ);
  const w = Atomics.load(ctrl, Ctrl.W);
  if (r === w) {
    if (Atomics.load(ctrl, Ctrl.STATE) !== 0) break;
    // Announce the sleep, then re-check: a producer that published after our load of W has either
    // bumped SEQ (so the wait returns at once) or will see SLEEPING and notify.
    Atomics.store(ctrl, Ctrl.SLEEPING, 1);
    if (Atomics.load(ctrl, Ctrl.W) === r) Atomics.wait(ctrl, Ctrl.SEQ, seq, 1000);
    Atomics.store(ctrl, Ctrl.SLEEPING, 0);
    continue;
  }
  let n = 0;
  while (r !== w) {
    const len = dv.getInt32(r, true);
    if (len === WRAP) {
      r = 0;
      continue;
    }
    const salen = dv.getInt32(r + WRITER_OFF_SALEN, true);
    send(dv.getInt32(r + WRITER_OFF_FD, true), data.subarray(r + WRITER_HDR, r + WRITER_HDR + len), salen,
      data.subarray(r + WRITER_OFF_SA, r + WRITER_OFF_SA + salen));
    r = nextOffset(r, WRITER_HDR, len);
    done = (done + 1) | 0;
    if (++n % DONE_EVERY === 0) finished();
  }
  finished();
}
