/**
 * wgts-userspace under attack (issue: handshake floods, secrets in memory, UAPI abuse), each attack
 * reproduced in namespaces. Topology: wgts (a) with its established peer wireguard-go (b), and for
 * comparison wireguard-go (ga) with its peer (gb); a third namespace (c) floods both targets with
 * scripts/flood.py (three of four datagrams valid-mac1 initiations, one junk; bounded in rate and
 * time). The machine running this is shared and loaded: the flood reaches what the generator
 * manages (printed), and the latency bounds asserted are the robust ones; the wgts/wireguard-go
 * ratio is recorded by `npm run bench` (docs/benchmarks.md).
 */
import { closeSync, openSync, readFileSync, readSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type Netns, type Spawned, waitFor } from '../helpers/netns.js';
import { ROOT, SOCK_DIR, type Side, daemonPids, makePair, ping, wg } from './fixture.js';

const FLOOD = join(ROOT, 'scripts/flood.py');

/** Resident set size of a process, in bytes. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return Number(m![1]) * 1024;
}

/** Occurrences of `needle` in the readable memory of `pid` (/proc/PID/mem, as root). */
function copiesInMemory(pid: number, needle: Buffer): number {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  let count = 0;
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'latin1').split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) r/.exec(line);
      if (!m || line.includes('[vvar]') || line.includes('[vsyscall]')) continue;
      const start = Number.parseInt(m[1]!, 16);
      const end = Number.parseInt(m[2]!, 16);
      const chunk = Buffer.alloc(Math.min(end - start, 16 << 20));
      for (let at = start; at < end; at += chunk.length - needle.length) {
        let n = 0;
        try {
          n = readSync(fd, chunk, 0, Math.min(chunk.length, end - at), at);
        } catch {
          break; // unreadable (guard pages)
        }
        for (let i = chunk.subarray(0, n).indexOf(needle); i !== -1; i = chunk.subarray(0, n).indexOf(needle, i + 1)) count++;
        if (n < chunk.length) break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return count;
}

/**
 * Sends `set=1` and a 100 MB `private_key=` line. Like wg, the client writes its whole request
 * whatever comes back (half-open: it keeps writing after the daemon answered and closed its side).
 */
function hugeLine(path: string): Promise<{ answer: string; answeredAt: number; written: number }> {
  return new Promise((resolve) => {
    const sock = net.connect({ path, allowHalfOpen: true });
    let answer = '';
    let answeredAt = Infinity;
    let written = 0;
    const chunk = Buffer.alloc(1 << 20, 'a');
    const pump = (): void => {
      while (written < 100 << 20 && !sock.destroyed) {
        written += chunk.length;
        if (!sock.write(chunk)) return void sock.once('drain', pump);
      }
      sock.end();
    };
    sock.on('connect', () => {
      sock.write('set=1\nprivate_key=');
      pump();
    });
    sock.on('data', (d) => {
      answer += d.toString();
      answeredAt = Math.min(answeredAt, performance.now());
    });
    sock.on('error', () => undefined);
    sock.on('close', () => resolve({ answer, answeredAt, written }));
  });
}

interface PingStats {
  sent: number;
  received: number;
  median: number;
}

/** `count` pings 50 ms apart from `side` to `addr`: replies and their median RTT (ms). */
async function pingStats(ns: Netns, addr: string, count: number): Promise<PingStats> {
  const r = await ns.run(['ping', '-n', '-c', String(count), '-i', '0.05', '-W', '2', addr], { check: false, timeout: 60_000 });
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
  return { sent: count, received: rtts.length, median: rtts.length ? rtts[Math.floor(rtts.length / 2)]! : Infinity };
}

describe('wgts-userspace under attack (beside wireguard-go)', () => {
  const lab = new Lab('wga');
  let a: Side; // wgts, the target
  let b: Side; // its established peer (wireguard-go)
  let ga: Side; // wireguard-go, the comparison target
  let gb: Side;
  let c: Netns; // the attacker
  let cLink: string; // c's link toward a
  let pid: number;

  beforeAll(async () => {
    [a, b] = await makePair(lab, 'wgts', 'go');
    [ga, gb] = await makePair(lab, 'go', 'go');
    c = await lab.netns();
    [, cLink] = await lab.veth(a.ns, '10.98.1.1/24', c, '10.98.1.2/24');
    await lab.veth(ga.ns, '10.98.2.1/24', c, '10.98.2.2/24');
    await ping(b, a.inner4, { count: 1 });
    await ping(gb, ga.inner4, { count: 1 });
    pid = (await daemonPids(a.ifname))[0]!;
    expect(pid).toBeGreaterThan(0);
  }, 120_000);
  afterAll(() => lab.cleanup(), 30_000);

  /** Floods `target` (on its c-side address) at `rate` per second for `seconds`. */
  function flood(target: Side, addr: string, rate: number, seconds: number): Spawned {
    return c.spawn(['python3', FLOOD, addr, String(target.port), target.publicKey, String(rate), String(seconds)]);
  }

  async function floodDone(f: Spawned): Promise<string> {
    expect(await f.exited).toBe(0);
    return f.stdout().trim();
  }

  it('an established peer keeps its pings through a 60k/s handshake flood, as through wireguard-go', async () => {
    const results: Record<string, PingStats & { flood: string }> = {};
    for (const [name, target, peer, addr] of [['wgts', a, b, '10.98.1.1'], ['wireguard-go', ga, gb, '10.98.2.1']] as const) {
      const f = flood(target, addr, 60_000, 7);
      await new Promise((r) => setTimeout(r, 1000)); // the flood at full rate (and wgts under load) before measuring
      const stats = await pingStats(peer.ns, target.inner4, 80);
      results[name] = { ...stats, flood: await floodDone(f) };
    }
    console.log(`established-peer RTT under flood: ${JSON.stringify(results)}`);
    const w = results.wgts!;
    // Before the handshake lane: median 1,468 ms and 44 % loss at this rate on a quiet machine. On
    // a shared, loaded one both implementations lose pings to CPU starvation, so the bound is loose;
    // the side-by-side ratio is the bench's (docs/benchmarks.md).
    expect(w.received / w.sent).toBeGreaterThanOrEqual(0.5);
    expect(w.median).toBeLessThan(Math.max(500, 3 * results['wireguard-go']!.median));
    expect(await daemonPids(a.ifname)).toEqual([pid]);
  }, 120_000);

  it('a new peer completes its handshake under the flood, through a cookie reply', async () => {
    const cookies = b.ns.spawn(['tcpdump', '-l', '-n', '-i', b.link, `udp and src port ${a.port} and udp[8] = 3`]);
    await waitFor(() => cookies.stderr().includes('listening on'), { what: 'tcpdump for cookie replies' });
    const toAttacker = c.spawn(['tcpdump', '-l', '-n', '-i', cLink, `udp and src port ${a.port} and udp[8] = 3`]);
    await waitFor(() => toAttacker.stderr().includes('listening on'), { what: 'tcpdump in the attacker namespace' });
    const f = flood(a, '10.98.1.1', 60_000, 45);
    try {
      // Under load: a answers the flood with cookie replies.
      await waitFor(() => toAttacker.stdout().split('\n').filter(Boolean).length > 10, { what: 'cookie replies to the flood', timeout: 20_000 });
      toAttacker.kill();
      // A fresh peer on b's side: its initiation meets a device under load.
      await wg(b, ['set', b.ifname, 'peer', a.publicKey, 'remove']);
      await wg(b, ['set', b.ifname, 'peer', a.publicKey, 'allowed-ips', `${a.inner4}/32,${a.inner6}/128`, 'endpoint', `${a.outer4}:${a.port}`]);
      // Its first initiation earns a cookie reply, the retry 5 s later carries mac2 and is answered.
      // The flooding host is held to its rate before the lane (reader-burst.ts sort()), so neither
      // try depends on finding room left by the flood; the timeout covers a few lost tries on a
      // loaded machine.
      await ping(b, a.inner4, { timeout: 40_000, count: 1 });
      expect(cookies.stdout().split('\n').filter(Boolean).length).toBeGreaterThan(0);
    } finally {
      f.kill();
      await f.exited;
      cookies.kill();
    }
  }, 90_000);

  it('survives 150k/s: same process, memory bounded, the tunnel recovers when the flood stops', async () => {
    const before = rss(pid);
    const f = flood(a, '10.98.1.1', 150_000, 8);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 200);
    const sent = await floodDone(f);
    clearInterval(sampler);
    console.log(`150k/s flood: ${sent}; RSS ${(before / 2 ** 20).toFixed(0)} -> peak ${(peak / 2 ** 20).toFixed(0)} MiB`);
    expect(await daemonPids(a.ifname)).toEqual([pid]);
    expect(peak - before).toBeLessThan(96 * 2 ** 20);
    await ping(b, a.inner4, { timeout: 20_000, count: 3 });
  }, 60_000);

  it('after the floods (thousands of handshake DHs) the raw private key is in memory at most 4 times; no core dumps, cwd /', () => {
    const key = Buffer.from(a.privateKey, 'base64');
    const clamped = Buffer.from(key);
    clamped[0]! &= 248;
    clamped[31] = (clamped[31]! & 127) | 64;
    const copies = copiesInMemory(pid, key) + (clamped.equals(key) ? 0 : copiesInMemory(pid, clamped));
    console.log(`raw private key copies in /proc/${pid}/mem: ${copies}`);
    expect(copies).toBeLessThanOrEqual(4);
    // No core file can take them to disk, and the daemon holds no directory of its caller's.
    expect(readFileSync(`/proc/${pid}/limits`, 'latin1')).toMatch(/^Max core file size\s+0\s+0\s/m);
    expect(readlinkSync(`/proc/${pid}/cwd`)).toBe('/');
  });

  it('refuses 100 MB UAPI lines (four at once) within 3 s with little memory, and keeps serving wg show and the tunnel', async () => {
    const before = rss(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 50);
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 4 }, () => hugeLine(join(SOCK_DIR, `${a.ifname}.sock`))));
    const answer = results[0]!.answer;
    const answeredAt = Math.max(...results.map((r) => r.answeredAt));
    const written = results.reduce((n, r) => n + r.written, 0);
    expect(results.map((r) => r.answer)).toEqual(Array(4).fill('errno=-5\n\n'));
    const ms = answeredAt - t0;
    clearInterval(sampler);
    console.log(`100 MB UAPI line: answered ${JSON.stringify(answer)} after ${ms.toFixed(0)} ms (${(written / 2 ** 20).toFixed(0)} MiB written in ${(performance.now() - t0).toFixed(0)} ms); RSS +${((peak - before) / 2 ** 20).toFixed(1)} MiB`);
    expect(answer).toBe('errno=-5\n\n');
    expect(ms).toBeLessThan(3000);
    expect(peak - before).toBeLessThanOrEqual(32 * 2 ** 20);
    expect((await wg(a, ['show', a.ifname, 'listen-port'])).stdout.trim()).toBe(String(a.port));
    await ping(b, a.inner4, { count: 2 });
  }, 60_000);

  it('applies a set that ends at EOF without its empty line and answers errno=0, as wireguard-go', async () => {
    for (const [side, mark] of [[a, 7], [ga, 7], [a, 0], [ga, 0]] as const) {
      const answer = await new Promise<string>((resolve) => {
        const sock = net.connect(join(SOCK_DIR, `${side.ifname}.sock`), () => sock.end(`set=1\nfwmark=${mark}`));
        let out = '';
        sock.on('data', (d) => (out += d.toString()));
        sock.on('close', () => resolve(out));
      });
      expect(answer).toBe('errno=0\n\n');
      expect((await wg(side, ['show', side.ifname, 'fwmark'])).stdout.trim()).toBe(mark === 0 ? 'off' : `0x${mark}`);
    }
  });
});
