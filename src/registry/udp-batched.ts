/**
 * The main thread's end of the registry's UDP worker (udp-worker.ts). Node's dgram costs one
 * recvmsg, one JS event and one send request per datagram, which held the registry to about half
 * of nsd's rate however little each answer cost (docs/benchmarks.md); the worker reads and answers
 * bursts with one recvmmsg and one sendmmsg each, as nsd does. It answers what its copy of the
 * precomputed view holds; everything else (a miss, a view too old, the general path's work) comes
 * here, is answered as before and sent on the same socket with sendto(2).
 *
 * The main thread posts the peers of every fresh view (the worker builds its own view.ts view from
 * them, reusing unchanged peers' answers); the worker says when its view has gone stale, which
 * starts a device read here. Queries handed over and not yet answered count against `limit`
 * (the server's udpInFlight) in memory both threads see: beyond it the worker drops them, so a
 * flood of misses cannot queue without bound between the threads.
 */
import { Worker } from 'node:worker_threads';
import type { WgPeer } from '../conf/model.js';
import { MSG_DONTWAIT, MSG_NOSIGNAL, O_CLOEXEC, O_NONBLOCK, sys, sysError } from '../system/libc.js';
import { builtWorkerFile } from '../system/worker-file.js';

/** Datagrams per recvmmsg/sendmmsg. */
export const BATCH = 64;
/**
 * Room for one query: a datagram that fills it may have been cut (recvmmsg keeps what fits) and is
 * dropped; DNS queries are a few dozen bytes, and no client sends one this large.
 */
export const QUERY_SLOT = 4096;
/** Room for one answer: a stored answer is at most 512 bytes (view.ts), plus our COOKIE option. */
export const ANSWER_SLOT = 1232;

export interface UdpWorkerData {
  /** The UDP sockets (bound, non-blocking); the server owns them and closes them after the worker ends. */
  fds: number[];
  /** The read end of the wake pipe: a byte says a message waits. */
  wakeFd: number;
  /** The DNS cookie secret (dns-cookie.ts), shared so both threads sign and check the same cookies. */
  secret: Uint8Array;
  zone: string;
  cacheMs: number;
  /** Int32 [INFLIGHT]: queries handed to the main thread and not yet answered; [ANSWERED]: answers the worker sent. */
  counters: SharedArrayBuffer;
  limit: number;
  /** The worker thread's name (prctl PR_SET_NAME). */
  name: string;
}

export const INFLIGHT = 0;
export const ANSWERED = 1;

export type ToWorker = { type: 'view'; peers: WgPeer[]; at: number } | { type: 'stop' };

export interface Miss {
  /** Index into UdpWorkerData.fds. */
  sock: number;
  msg: Uint8Array;
  /** The sender's sockaddr (16 or 28 bytes). */
  from: Uint8Array;
}

export type FromWorker =
  | { type: 'ready' }
  /** The view is older than cacheMs: read the device. */
  | { type: 'stale' }
  | { type: 'misses'; items: Miss[] }
  | { type: 'error'; message: string };

/** The worker's thread name, shown by ps -L and /proc/PID/task/TID/comm (man/wgts-registry.8). */
export const THREAD_NAME = 'wgts-dns';

export interface BatchedUdpOptions {
  fds: number[];
  secret: Uint8Array;
  zone: string;
  cacheMs: number;
  limit: number;
  /** Answers a query the worker handed over; null sends nothing. */
  answer: (msg: Buffer, from: Uint8Array) => Promise<Buffer | null>;
  /** The worker's view is stale: start a device read (and post the result with setView). */
  onStale: () => void;
  /** The worker ended on its own (a bug, or out of memory): the caller answers UDP another way. */
  onFailed: (reason: string) => void;
  log?: (msg: string) => void;
  /** The worker module (tests point it elsewhere to see the fallback). */
  workerFile?: string;
}

export interface BatchedUdp {
  /** Posts the peers of a fresh view read at `at` (Date.now()). */
  setView(peers: WgPeer[], at: number): void;
  /** Answers the worker has sent itself (modulo 2^31). */
  answered(): number;
  /** Ends the worker (promptly: the wake pipe) and closes the pipe; the sockets stay the caller's. */
  close(): Promise<void>;
}

/** Sends one answer on a worker's socket (the general path's, from the main thread). */
export function sendTo(fd: number, out: Uint8Array, to: Uint8Array): void {
  // Non-blocking: a full send buffer drops this answer, as a full network would.
  sys.sendto(fd, out, out.length, MSG_DONTWAIT | MSG_NOSIGNAL, to, to.length);
}

/** Starts the worker on `opts.fds` and waits until it runs; throws (having cleaned up) if it cannot. */
export async function startBatchedUdp(opts: BatchedUdpOptions): Promise<BatchedUdp> {
  const pipe = new Int32Array(2);
  if (sys.pipe2(pipe, O_NONBLOCK | O_CLOEXEC) < 0) throw sysError('pipe2', sys.errno());
  const [wakeRead, wakeWrite] = [pipe[0]!, pipe[1]!];
  const counters = new Int32Array(new SharedArrayBuffer(8));
  const data: UdpWorkerData = {
    fds: opts.fds, wakeFd: wakeRead, secret: opts.secret, zone: opts.zone, cacheMs: opts.cacheMs,
    counters: counters.buffer as SharedArrayBuffer, limit: opts.limit, name: THREAD_NAME,
  };
  let worker: Worker;
  try {
    // A small young generation: the worker's garbage is per-query and short-lived, and V8's default
    // let the registry's peak RSS grow by some 60 MiB in the bench (docs/benchmarks.md).
    worker = new Worker(opts.workerFile ?? builtWorkerFile('registry-udp'), { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
  } catch (err) {
    sys.close(wakeRead);
    sys.close(wakeWrite);
    throw err;
  }
  worker.unref();
  let closing = false;
  const wake = () => void sys.write(wakeWrite, WAKE, 1); // a full pipe already wakes it
  const post = (m: ToWorker) => {
    worker.postMessage(m);
    wake();
  };
  const onMessage = (m: FromWorker) => {
    if (m.type === 'stale') opts.onStale();
    else if (m.type === 'error') opts.log?.(`registry: UDP worker: ${m.message}`);
    else if (m.type === 'misses') {
      for (const { sock, msg, from } of m.items) {
        const buf = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
        void opts
          .answer(buf, from)
          .then((out) => {
            if (out && !closing) sendTo(opts.fds[sock]!, out, from);
          })
          .catch(() => {}) // answer() reports its own failures
          .finally(() => Atomics.sub(counters, INFLIGHT, 1));
      }
    }
  };
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  // Until it is ready, an error or exit is a failure to start; afterwards, one to report.
  let ready: () => void = () => {};
  worker.on('message', (m: FromWorker) => (m.type === 'ready' ? ready() : onMessage(m)));
  await new Promise<void>((resolve, reject) => {
    ready = resolve;
    worker.once('error', reject);
    void exited.then((code) => reject(new Error(`the UDP worker exited (code ${code}) before it was ready`)));
  }).catch(async (err: unknown) => {
    await worker.terminate().catch(() => undefined);
    sys.close(wakeRead);
    sys.close(wakeWrite);
    throw err;
  });
  worker.on('error', (err) => opts.log?.(`registry: UDP worker: ${err.message}`));
  void exited.then((code) => {
    if (!closing) opts.onFailed(`the UDP worker ended (code ${code})`);
  });
  return {
    answered: () => Atomics.load(counters, ANSWERED),
    setView: (peers, at) => {
      if (!closing) post({ type: 'view', peers, at });
    },
    close: async () => {
      if (closing) return;
      closing = true;
      post({ type: 'stop' });
      // The worker polls with a timeout too, so terminate() ends it even if the wake is lost.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
      await worker.terminate().catch(() => undefined);
      await exited;
      sys.close(wakeRead);
      sys.close(wakeWrite);
    },
  };
}

const WAKE = new Uint8Array(1);
const YOUNG_MB = 4;
