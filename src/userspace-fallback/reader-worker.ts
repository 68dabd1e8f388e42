/**
 * The reader worker (see ring-reader.ts for the why, and when it runs): one poll() over a wake
 * pipe, every live source's fds and link-watch sockets; each readable fd is read in a burst straight
 * into its source's ring (reader-burst.ts), and the main thread is woken once per burst. Sources
 * arrive and leave by message (read synchronously with receiveMessageOnPort: the worker never
 * returns to its event loop), each announced by a byte on the wake pipe.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { EINTR } from '../conf/errno.js';
import { POLLFD_BYTES, POLLIN, PR_SET_NAME, sys } from '../system/libc.js';
import { burst, fail, openSource, type Source } from './reader-burst.js';
import type { ReaderMessage, ReaderRequest } from './reader-spec.js';

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
      const id = op.id;
      sources.set(id, openSource(op, (ev) => post({ ...ev, id })));
    } else {
      sources.delete(op.id);
      post({ kind: 'removed', id: op.id });
    }
  }
  rebuild();
  return true;
}

rebuild();
post({ kind: 'ready' });
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
        s.link = undefined;
        changed = true;
      }
    } else if (burst(s, pv.getInt32(i * POLLFD_BYTES, true), revents, s.batch, true).ended) {
      s.dead = true;
      changed = true;
    }
  }
  if (changed) rebuild();
}
