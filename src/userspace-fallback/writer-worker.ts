/**
 * The writer worker (see ring-writer.ts): drains the shared write ring with a blocking WriteDrain
 * (write-drain.ts: TUN writes, UDP sendmmsg bursts and GSO trains straight from the ring), sleeping
 * on SEQ when it is empty. The worker never waits for more records than the ring holds: a lone
 * datagram goes at once. A send that fails with EAGAIN waits here for POLLOUT (bounded), which is
 * what the worker is for: the main thread writes while the ring is idle and hands a batch over only
 * when a socket or the TUN is full.
 */
import { workerData } from 'node:worker_threads';
import { PR_SET_NAME, sys } from '../system/libc.js';
import { Ctrl } from './ring.js';
import { WriteDrain } from './write-drain.js';

const wd = workerData as { sab: SharedArrayBuffer; ctrlSab: SharedArrayBuffer };
sys.prctlName(PR_SET_NAME, 'wgts-tx', 0, 0, 0);
const ctrl = new Int32Array(wd.ctrlSab);
const drain = new WriteDrain(new Uint8Array(wd.sab), new DataView(wd.sab), true);
let r = Atomics.load(ctrl, Ctrl.R);
let trains = 0;
let splits = 0;

function finished(): void {
  if (drain.trains !== trains) Atomics.add(ctrl, Ctrl.TRAINS, drain.trains - trains);
  if (drain.splits !== splits) Atomics.add(ctrl, Ctrl.SPLITS, drain.splits - splits);
  trains = drain.trains;
  splits = drain.splits;
  Atomics.store(ctrl, Ctrl.R, r);
  Atomics.store(ctrl, Ctrl.DONE, drain.done);
  Atomics.notify(ctrl, Ctrl.DONE);
}

drain.done = Atomics.load(ctrl, Ctrl.DONE);
for (;;) {
  const seq = Atomics.load(ctrl, Ctrl.SEQ);
  const w = Atomics.load(ctrl, Ctrl.W);
  if (r === w) {
    if (Atomics.load(ctrl, Ctrl.STATE) !== 0) break;
    // Announce the sleep, then re-check: a producer that published after our load of W has either
    // bumped SEQ (so the wait returns at once) or will see SLEEPING and notify.
    Atomics.store(ctrl, Ctrl.SLEEPING, 1);
    if (Atomics.load(ctrl, Ctrl.W) === r && Atomics.wait(ctrl, Ctrl.SEQ, seq, 1000) === 'timed-out') drain.forget();
    Atomics.store(ctrl, Ctrl.SLEEPING, 0);
    continue;
  }
  while (r !== w) {
    r = drain.step(r, w);
    finished();
  }
}
