/**
 * The registry's UDP worker (see udp-batched.ts for the why): one poll() over a wake pipe and the
 * server's UDP sockets; each readable socket is read in bursts of up to BATCH datagrams with one
 * recvmmsg, the queries its view holds are answered (answer.ts answerStored: the same gate, cookie
 * and truncation bytes as the main thread's) and the burst's answers go out with one sendmmsg. The
 * rest is handed to the main thread with one message per burst. Messages from the main thread
 * (a fresh view's peers, stop) are read synchronously after a byte on the wake pipe.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { EAGAIN, EINTR } from '../conf/errno.js';
import { parseSockaddr, SOCKADDR_IN6_LEN, SOCKADDR_IN_LEN } from '../conf/sockaddr.js';
import { DatagramBatch, MSG_DONTWAIT, MSG_NOSIGNAL, POLLFD_BYTES, POLLIN, POLLOUT, POLL_FAILED, PR_SET_NAME, SendBatch, sys } from '../system/libc.js';
import { answerStored, type AnswerContext } from './answer.js';
import { cookieSigner } from './dns-cookie.js';
import { buildView, viewAge, type View } from './view.js';
import { ANSWERED, ANSWER_SLOT, BATCH, INFLIGHT, QUERY_SLOT, type FromWorker, type Miss, type ToWorker, type UdpWorkerData } from './udp-batched.js';

/** poll() wakes at least this often, so terminate() ends the thread even without the wake pipe. */
const POLL_MS = 1000;
/** Bursts read from one socket before the others and the wake pipe get their turn. */
const BURSTS = 4;
/** How long one burst's answers may wait for room in the socket's send buffer before they are dropped. */
const SEND_WAIT_MS = 50;

const port = parentPort!;
const data = workerData as UdpWorkerData;
const counters = new Int32Array(data.counters);
const post = (m: FromWorker): void => port.postMessage(m);
sys.prctlName(PR_SET_NAME, data.name, 0, 0, 0);

let nowS = 0;
const ctx: AnswerContext = {
  zone: data.zone,
  cookies: cookieSigner(data.secret),
  nowS: () => nowS,
  // Stored answers never read the device: the general path, which does, runs on the main thread.
  getPeers: async () => [],
  onDeviceError: () => {},
};

let view: View | undefined;
let viewAt = 0;
/** The view the worker last reported stale (one report per view). */
let reported = -1;
let building: Promise<void> = Promise.resolve();
let stopping = false;

function onMessage(m: ToWorker): void {
  if (m.type === 'stop') stopping = true;
  else {
    building = building
      .then(async () => {
        view = await buildView(m.peers, data.zone, view);
        viewAt = m.at;
      })
      .catch((err: unknown) => post({ type: 'error', message: `cannot build the view: ${(err as Error).message}` }));
  }
}

const recv = new DatagramBatch(BATCH, QUERY_SLOT);
const send = new SendBatch(BATCH, BATCH * ANSWER_SLOT);
const pfd = new Uint8Array(POLLFD_BYTES * (1 + data.fds.length));
const pv = new DataView(pfd.buffer);
for (const [i, fd] of [data.wakeFd, ...data.fds].entries()) {
  pv.setInt32(i * POLLFD_BYTES, fd, true);
  pv.setInt16(i * POLLFD_BYTES + 4, POLLIN, true);
}
const one = new Uint8Array(POLLFD_BYTES);
const onev = new DataView(one.buffer);

/** Waits up to `ms` for room to send on `fd`. */
function writable(fd: number, ms: number): boolean {
  onev.setInt32(0, fd, true);
  onev.setInt16(4, POLLOUT, true);
  return sys.poll(one, 1, ms) > 0;
}

/** Sends answers 0 .. n-1 of the burst; what the socket refuses is dropped, as a lost datagram. */
function flush(fd: number, n: number): void {
  let sent = 0;
  let waited = false;
  while (sent < n) {
    const r = send.send(fd, sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) {
      sent += Math.max(r, 1); // 0 (never seen) would leave errno stale: skip one rather than spin
      continue;
    }
    const errno = sys.errno();
    if (errno === EINTR) continue;
    if (errno === EAGAIN) {
      if (waited || !writable(fd, SEND_WAIT_MS)) return;
      waited = true;
      continue;
    }
    sent++; // this one answer cannot go (its address, a firewall): the rest still can
  }
}

/** Reads and answers bursts from socket `sock` until it is empty or has had BURSTS turns. */
function serve(sock: number): void {
  const fd = data.fds[sock]!;
  for (let burst = 0; burst < BURSTS; burst++) {
    const got = recv.receive(fd, BATCH);
    if (got <= 0) return;
    const now = Date.now();
    nowS = Math.floor(now / 1000);
    const age = viewAge(now - viewAt, data.cacheMs);
    if (view && age !== 'fresh' && reported !== viewAt) {
      // As the main thread's stored answers: a read starts (view.ts viewAge).
      reported = viewAt;
      post({ type: 'stale' });
    }
    const fresh = age !== 'expired' ? view : undefined;
    let answers = 0;
    const misses: Miss[] = [];
    for (let i = 0; i < got; i++) {
      const p = recv.payload(i);
      if (p.length >= QUERY_SLOT) continue; // maybe cut: see QUERY_SLOT
      const src = parseSockaddr(recv.source(i));
      if (!src) continue;
      const from = recv.source(i).subarray(0, src.family === 4 ? SOCKADDR_IN_LEN : SOCKADDR_IN6_LEN);
      const msg = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
      let out: Buffer | null = null;
      try {
        out = fresh ? answerStored(fresh, msg, { transport: 'udp', addr: src.addr }, ctx) : null;
      } catch (err) {
        post({ type: 'error', message: `cannot answer a query: ${(err as Error).message}` });
        continue;
      }
      if (out && out.length <= ANSWER_SLOT) {
        send.data.set(out, answers * ANSWER_SLOT);
        send.setMessage(answers, answers * ANSWER_SLOT, out.length, from, 0);
        answers++;
      }
      else if (Atomics.add(counters, INFLIGHT, 1) < data.limit) misses.push({ sock, msg: msg.slice(), from: from.slice() });
      else Atomics.sub(counters, INFLIGHT, 1); // the main thread has enough waiting: dropped
    }
    if (answers > 0) {
      flush(fd, answers);
      Atomics.add(counters, ANSWERED, answers);
    }
    if (misses.length > 0) post({ type: 'misses', items: misses });
    if (got < BATCH) return;
  }
}

const drain = new Uint8Array(64);
async function run(): Promise<void> {
  post({ type: 'ready' });
  const nfds = 1 + data.fds.length;
  while (!stopping) {
    const n = sys.poll(pfd, nfds, POLL_MS);
    if (n < 0) {
      if (sys.errno() === EINTR) continue;
      post({ type: 'error', message: `poll: errno ${sys.errno()}` });
      return;
    }
    if (pv.getInt16(6, true) !== 0) {
      while (sys.read(data.wakeFd, drain, drain.length) > 0);
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) onMessage(m.message as ToWorker);
      if (stopping) return;
    }
    for (let i = 0; i < data.fds.length; i++) {
      const revents = pv.getInt16((i + 1) * POLLFD_BYTES + 6, true);
      if (revents & POLLIN) serve(i);
      else if (revents & POLL_FAILED) {
        post({ type: 'error', message: `socket ${data.fds[i]} failed (poll revents ${revents})` });
        return;
      }
    }
    // A view being built finishes here (its steps are promise callbacks, which run between turns).
    await building;
  }
}

await run();
port.close();
