import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { F_GETFL, O_CLOEXEC, O_NONBLOCK, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, sys } from '../../src/system/libc.js';
import { O_ASYNC, SignalIo } from '../../src/system/signal-io.js';

const opened: number[] = [];
afterEach(() => {
  for (const fd of opened.splice(0)) sys.close(fd);
});

function pipe(): [number, number] {
  const p = new Int32Array(2);
  expect(sys.pipe2(p, O_CLOEXEC | O_NONBLOCK)).toBe(0);
  opened.push(p[0]!, p[1]!);
  return [p[0]!, p[1]!];
}

/** A non-blocking UDP socket on 127.0.0.1 and its port. */
function udpSocket(): { fd: number; port: number } {
  const fd = sys.socket(2, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  expect(fd).toBeGreaterThanOrEqual(0);
  opened.push(fd);
  const sa = new Uint8Array(16);
  sa[0] = 2;
  sa.set([127, 0, 0, 1], 4);
  expect(sys.bind(fd, sa, 16)).toBe(0);
  const len = new Uint32Array([16]);
  expect(sys.getsockname(fd, sa, len)).toBe(0);
  return { fd, port: (sa[2]! << 8) | sa[3]! };
}

/** Resolves at the next `ready` call, or rejects after 5 s. */
function nextReady(waiters: Array<() => void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no SIGIO within 5 s')), 5000);
    waiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('SignalIo', () => {
  it('calls back on the main loop when a watched pipe and a watched UDP socket get input, and not after unwatch', async () => {
    const waiters: Array<() => void> = [];
    let calls = 0;
    const io = new SignalIo(() => {
      calls++;
      for (const w of waiters.splice(0)) w();
    });
    const [r, w] = pipe();
    expect(io.watch(r)).toBe(true);
    let got = nextReady(waiters);
    sys.write(w, new Uint8Array([1]), 1);
    await got;
    expect(sys.read(r, new Uint8Array(8), 8)).toBe(1);

    const udp = udpSocket();
    expect(io.watch(udp.fd)).toBe(true);
    const sender = createSocket('udp4');
    try {
      got = nextReady(waiters);
      sender.send(new Uint8Array([7, 7]), udp.port, '127.0.0.1');
      await got;
      expect(sys.read(udp.fd, new Uint8Array(8), 8)).toBe(2);

      io.close();
      expect(sys.fcntl(r, F_GETFL, 0) & O_ASYNC).toBe(0);
      expect(sys.fcntl(udp.fd, F_GETFL, 0) & O_ASYNC).toBe(0);
      // A closed SignalIo is no longer called back when another one's fd signals.
      const before = calls;
      const [marker, markerW] = pipe();
      const seen = new Promise<void>((resolve) => {
        const m = new SignalIo(() => {
          m.close();
          resolve();
        });
        expect(m.watch(marker)).toBe(true);
      });
      sys.write(markerW, new Uint8Array([3]), 1);
      await seen;
      expect(calls).toBe(before);
    } finally {
      sender.close();
      io.close();
    }
  });

  it('raises nothing for input queued before watch(): callers poll once after watching', async () => {
    const [r, w] = pipe();
    sys.write(w, new Uint8Array([1]), 1);
    const io = new SignalIo(() => undefined);
    expect(io.watch(r)).toBe(true);
    expect(sys.fcntl(r, F_GETFL, 0) & O_ASYNC).toBe(O_ASYNC);
    let calls = 0;
    const [marker, markerW] = pipe();
    const seen = new Promise<void>((resolve) => {
      const m = new SignalIo(() => {
        calls++;
        m.close();
        resolve();
      });
      expect(m.watch(marker)).toBe(true);
    });
    sys.write(markerW, new Uint8Array([3]), 1);
    await seen; // one signal, the marker's: the queued byte on r raised none
    io.close();
    expect(calls).toBe(1);
  });
});
