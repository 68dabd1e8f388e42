/**
 * The daemon's idle path (src/userspace-fallback/idle-poll.ts): handshakes, keepalives and the odd
 * ping are read by the main thread itself, with no reader worker thread (wgts-rx) and its V8
 * isolate in memory; bulk traffic hands the reads to the worker, data keeps flowing through the
 * hand-over, and quiet hands them back.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, waitFor } from '../helpers/netns.js';
import { type Side, daemonPids, iperf, makePair, peerDump, ping } from './fixture.js';

/** The thread names of the daemon serving `side` (each worker names its thread, reader-worker.ts). */
async function threads(side: Side): Promise<string[]> {
  const [pid] = await daemonPids(side.ifname);
  if (pid === undefined) throw new Error(`no daemon for ${side.ifname}`);
  return readdirSync(`/proc/${pid}/task`).map((t) => {
    try {
      return readFileSync(`/proc/${pid}/task/${t}/comm`, 'latin1').trim();
    } catch {
      return ''; // ended meanwhile
    }
  });
}

/**
 * How many of the daemon's TUN and UDP fds signal their input (O_ASYNC in /proc/PID/fdinfo), the
 * idle path's wait when it uses signals (src/system/signal-io.ts).
 */
async function signallingFds(side: Side): Promise<number> {
  const [pid] = await daemonPids(side.ifname);
  if (pid === undefined) throw new Error(`no daemon for ${side.ifname}`);
  const O_ASYNC = 0o20000;
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    let flags: number;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      flags = parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'))![1]!, 8);
    } catch {
      continue; // closed meanwhile
    }
    if ((target === '/dev/net/tun' || target.startsWith('socket:')) && flags & O_ASYNC) n++;
  }
  return n;
}

/** A process's resident file-backed pages (RssFile in /proc/PID/status, proc(5)). */
function rssFileKiB(pid: number): number {
  return Number(/^RssFile:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))![1]);
}

/** Bytes received from the peer, per `wg show dump`. */
async function rxBytes(side: Side, peer: Side): Promise<number> {
  return Number((await peerDump(side, peer.publicKey))[5]);
}

describe('wgts-userspace idle reads', () => {
  const lab = new Lab('wgi');
  let a: Side;
  let b: Side;

  beforeAll(async () => {
    [a, b] = await makePair(lab, 'wgts', 'wgts', { keepalive: 1 });
  }, 60_000);
  afterAll(() => lab.cleanup(), 30_000);

  it('handshakes, answers pings every 20 ms and sends keepalives with no reader worker thread', async () => {
    await ping(a, b.inner4, { count: 0 });
    // 100 pings, one every 20 ms (the bench's RTT run): light traffic stays on the main thread.
    await a.ns.run(['ping', '-n', '-q', '-c', '100', '-i', '0.02', '-W', '2', b.inner4]);
    await ping(b, a.inner6);
    // Persistent keepalives (every second) arrive with nothing else flowing.
    const before = await rxBytes(b, a);
    await waitFor(async () => (await rxBytes(b, a)) > before, { timeout: 10_000, what: 'a keepalive from a' });
    for (const s of [a, b]) expect(await threads(s)).not.toContain('wgts-rx');
    // The wait is a signal (TUN, UDP socket(s) and the link watch's socket), not a thread-pool poll.
    for (const s of [a, b]) expect(await signallingFds(s)).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('gives back the pages only start-up used: idle, it maps fewer file pages than a bare node', async () => {
    // src/system/resident-pages.ts. A bare node holds ~34 MiB of its binary and libraries; the
    // daemon starts the same node, loads more, and without the release held ~38 MiB when idle.
    const bare = spawn(process.execPath, ['-e', 'process.stdout.write("up"); setTimeout(() => {}, 30_000)'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((resolve) => bare.stdout.once('data', resolve));
      const bareFile = rssFileKiB(bare.pid!);
      for (const s of [a, b]) {
        const [pid] = await daemonPids(s.ifname);
        expect(rssFileKiB(pid!)).toBeLessThan(bareFile);
      }
    } finally {
      bare.kill();
    }
  });

  it('starts the reader worker under bulk traffic and carries it; the worker ends again once quiet', async () => {
    expect(await iperf(a, b, 2)).toBeGreaterThan(1e6);
    expect(await iperf(a, b, 2, { reverse: true })).toBeGreaterThan(1e6);
    for (const s of [a, b]) expect(await threads(s)).toContain('wgts-rx');
    // Keepalives alone are quiet (ring-reader.ts QUIET_RECORDS): the reads go back to the main thread.
    for (const s of [a, b]) {
      await waitFor(async () => !(await threads(s)).includes('wgts-rx'), { timeout: 45_000, interval: 500, what: `${s.ifname}'s reader worker to end` });
    }
    await ping(b, a.inner4);
    expect(await iperf(a, b, 1)).toBeGreaterThan(1e6);
  }, 120_000);
});

describe('wgts-userspace idle reads through the thread-pool poll (WGTS_IDLE_SIGIO=0)', () => {
  const lab = new Lab('wgp');
  let a: Side;
  let b: Side;

  beforeAll(async () => {
    const env = { WGTS_IDLE_SIGIO: '0' };
    [a, b] = await makePair(lab, 'wgts', 'wgts', { envA: env, envB: env });
  }, 60_000);
  afterAll(() => lab.cleanup(), 30_000);

  it('handshakes and answers pings with no reader worker thread and no signalling fd', async () => {
    await ping(a, b.inner4, { count: 0 });
    await a.ns.run(['ping', '-n', '-q', '-c', '50', '-i', '0.02', '-W', '2', b.inner4]);
    await ping(b, a.inner6);
    for (const s of [a, b]) {
      expect(await threads(s)).not.toContain('wgts-rx');
      expect(await signallingFds(s)).toBe(0);
    }
  }, 60_000);
});
