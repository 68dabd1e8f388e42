/**
 * Whole-device tests (in the manner of wireguard-go's device_test.go): two Devices over the
 * in-memory Bind and TUN fakes, configured with UAPI text through uapi/codec.ts, driven by a manual
 * clock. No sleeps: the network runs when the test pumps it, time when the test advances it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Device, serialQueue } from '../../src/userspace-fallback/device.js';
import { parseSetRequest } from '../../src/uapi/codec.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../../src/crypto/primitives.js';
import { keyToHex } from '../../src/conf/keys.js';
import { MESSAGE_COOKIE_REPLY, MESSAGE_DATA, MESSAGE_INITIATION, MESSAGE_RESPONSE, REJECT_AFTER_MESSAGES, REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME } from '../../src/userspace-fallback/messages.js';
import { ManualClock } from '../fakes/clock.js';
import { FakeNetwork, type FakeBind } from '../fakes/bind.js';
import { FakeTun, echoReply, icmp6Echo, icmpEcho } from '../fakes/tun.js';

async function uapiSet(dev: Device, text: string): Promise<number> {
  const r = parseSetRequest(text);
  if (!r.ok) throw new Error(`bad uapi text: ${r.message}`);
  return dev.ipcSet(r.device);
}

interface Side {
  dev: Device;
  tun: FakeTun;
  bind: FakeBind;
  priv: Uint8Array;
  pub: Uint8Array;
}

const open: Device[] = [];
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});

async function pair(opts: { endpointOnB?: boolean; keepaliveA?: number } = {}) {
  const clock = new ManualClock();
  const net = new FakeNetwork();
  const mk = (host: string, name: string): Side => {
    const tun = new FakeTun(name);
    const bind = net.bind(host);
    const dev = new Device({ tun, bind, clock });
    open.push(dev);
    const priv = generatePrivateKey();
    return { dev, tun, bind, priv, pub: publicKeyFromPrivate(priv) };
  };
  const a = mk('192.0.2.1', 'wgp0');
  const b = mk('192.0.2.2', 'wgp1');
  expect(await uapiSet(a.dev, `set=1
private_key=${keyToHex(a.priv)}
listen_port=51820
public_key=${keyToHex(b.pub)}
endpoint=192.0.2.2:51821
allowed_ip=10.0.0.2/32
allowed_ip=fd00::2/128
${opts.keepaliveA ? `persistent_keepalive_interval=${opts.keepaliveA}\n` : ''}
`)).toBe(0);
  expect(await uapiSet(b.dev, `set=1
private_key=${keyToHex(b.priv)}
listen_port=51821
public_key=${keyToHex(a.pub)}
${opts.endpointOnB ? 'endpoint=192.0.2.1:51820\n' : ''}allowed_ip=10.0.0.1/32
allowed_ip=fd00::1/128

`)).toBe(0);
  await a.dev.up();
  await b.dev.up();
  return { clock, net, a, b };
}

const typeOf = (d: { data: Uint8Array }) => d.data[0];

/** Lets `ms` of time pass with the network running (delivering between steps of `step` ms). */
function run(clock: ManualClock, net: FakeNetwork, ms: number, step = 250): void {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done));
    net.pump();
  }
}

/** Pings from `from` (inner src) to `to` and checks delivery both ways. */
function ping(net: FakeNetwork, x: Side, y: Side, src: string, dst: string, seq = 1): void {
  const req = src.includes(':') ? icmp6Echo(src, dst, { seq }) : icmpEcho(src, dst, { seq });
  x.tun.inject(req);
  net.pump();
  const got = y.tun.take();
  expect(got).toEqual([req]);
  y.tun.inject(echoReply(req));
  net.pump();
  expect(x.tun.take()).toEqual([echoReply(req)]);
}

describe('two devices over fakes', () => {
  it('handshake initiated by A, ping both ways over IPv4 and IPv6, counters and handshake time', async () => {
    const { net, a, b, clock } = await pair();
    clock.advance(1500);
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    ping(net, b, a, '10.0.0.2', '10.0.0.1', 2);
    ping(net, a, b, 'fd00::1', 'fd00::2', 3);
    const types = net.log.map(typeOf);
    expect(types.filter((t) => t === MESSAGE_INITIATION).length).toBe(1);
    expect(types.filter((t) => t === MESSAGE_RESPONSE).length).toBe(1);
    const ga = a.dev.ipcGet(), gb = b.dev.ipcGet();
    expect(ga.listenPort).toBe(51820);
    expect(gb.peers[0]!.endpoint).toEqual({ family: 4, host: '192.0.2.1', port: 51820 }); // learned
    expect(ga.peers[0]!.lastHandshake!.sec).toBe(1_700_000_001n);
    expect(gb.peers[0]!.lastHandshake!.sec).toBe(1_700_000_001n);
    // Bytes: every message A sent is B's rx and vice versa.
    expect(ga.peers[0]!.txBytes).toBe(gb.peers[0]!.rxBytes);
    expect(gb.peers[0]!.txBytes).toBe(ga.peers[0]!.rxBytes);
    const aSent = net.log.filter((d) => d.from.host === '192.0.2.1').reduce((n, d) => n + d.data.length, 0);
    expect(ga.peers[0]!.txBytes).toBe(BigInt(aSent));
    // 84-byte ICMP padded to 96 → 128-byte data messages (the WireGuard paper §5.4.6).
    expect(net.log.filter((d) => typeOf(d) === MESSAGE_DATA && d.data.length === 128).length).toBeGreaterThan(0);
  });

  it('handshake initiated by B (who knows A\'s endpoint); responder waits for key confirmation', async () => {
    const { net, a, b } = await pair({ endpointOnB: true });
    b.tun.inject(icmpEcho('10.0.0.2', '10.0.0.1'));
    net.pump();
    expect(a.tun.take().length).toBe(1);
    // A responded: it may only send on the new session after B's first data packet, which came.
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    expect(net.log.filter((d) => typeOf(d) === MESSAGE_INITIATION).map((d) => d.from.host)).toEqual(['192.0.2.2']);
  });

  it('simultaneous initiations from both sides still converge and deliver', async () => {
    const { net, a, b, clock } = await pair({ endpointOnB: true });
    const pa = icmpEcho('10.0.0.1', '10.0.0.2'), pb = icmpEcho('10.0.0.2', '10.0.0.1');
    a.tun.inject(pa);
    b.tun.inject(pb);
    net.pump();
    // Both became responders and dropped each other's responses; the retransmit jitter separates
    // the retries (a real network delivers within ms; 10 ms steps stand in for that; two retries
    // within 10 ms of each other just repeat the dance 5 s later).
    for (let t = 0; t < 60_000 && b.tun.written.length + a.tun.written.length < 2; t += 10) run(clock, net, 10, 10);
    expect(b.tun.take()).toEqual([pa]);
    expect(a.tun.take()).toEqual([pb]);
    ping(net, a, b, '10.0.0.1', '10.0.0.2', 9);
  });

  it('packets staged before the handshake are delivered in order after it', async () => {
    const { net, a, b } = await pair();
    const pkts = [1, 2, 3, 4, 5].map((seq) => icmpEcho('10.0.0.1', '10.0.0.2', { seq }));
    a.tun.inject(...pkts.slice(0, 2));
    a.tun.inject(...pkts.slice(2));
    net.pump();
    expect(b.tun.take()).toEqual(pkts);
  });

  it('rekeys after REKEY_AFTER_TIME when sending, and traffic keeps flowing', async () => {
    const { net, a, b, clock } = await pair();
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    for (let t = 0; t < REKEY_AFTER_TIME + 10_000; t += 5_000) {
      clock.advance(5_000);
      net.pump();
      ping(net, a, b, '10.0.0.1', '10.0.0.2', t / 1000);
    }
    expect(net.log.filter((d) => typeOf(d) === MESSAGE_INITIATION).length).toBe(2);
    expect(net.log.filter((d) => typeOf(d) === MESSAGE_RESPONSE).length).toBe(2);
  });

  it('200 s of pings every second each way lose nothing across rekeys (initiator and responder roles)', async () => {
    const { net, a, b, clock } = await pair({ endpointOnB: true });
    for (let t = 0; t < 200; t++) {
      ping(net, a, b, '10.0.0.1', '10.0.0.2', 2 * t);
      ping(net, b, a, '10.0.0.2', '10.0.0.1', 2 * t + 1);
      run(clock, net, 1000);
    }
    const inits = net.log.filter((d) => typeOf(d) === MESSAGE_INITIATION).length;
    expect(inits).toBeGreaterThanOrEqual(2);
    expect(inits).toBeLessThanOrEqual(4);
    expect(a.dev.stats.rxReplay + b.dev.stats.rxReplay + a.dev.stats.rxInvalid + b.dev.stats.rxInvalid).toBe(0);
  });

  it('passive keepalive 10 s after receiving data, persistent keepalive at its interval', async () => {
    const { net, a, b, clock } = await pair({ keepaliveA: 25 });
    net.pump(); // keepalive on up triggers the handshake
    const before = net.log.length;
    b.tun.inject(icmpEcho('10.0.0.2', '10.0.0.1'));
    net.pump();
    expect(a.tun.take().length).toBe(1);
    clock.advance(10_000);
    net.pump();
    const ka = net.log.slice(before).filter((d) => typeOf(d) === MESSAGE_DATA && d.data.length === 32);
    expect(ka.map((d) => d.from.host)).toEqual(['192.0.2.1']); // A answers B's data with a keepalive
    const t0 = net.log.length;
    clock.advance(25_000);
    net.pump();
    const persist = net.log.slice(t0).filter((d) => d.from.host === '192.0.2.1' && d.data.length === 32);
    expect(persist.length).toBe(1);
  });

  it('a replayed data packet is dropped', async () => {
    const { net, a, b } = await pair();
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    const data = net.log.filter((d) => typeOf(d) === MESSAGE_DATA && d.from.host === '192.0.2.1').at(-1)!;
    net.inject(data.data, data.from, data.to);
    net.pump();
    expect(b.tun.take()).toEqual([]);
    expect(b.dev.stats.rxReplay).toBe(1);
  });

  it('a packet whose inner source is not in the peer\'s allowed IPs is dropped', async () => {
    const { net, a, b } = await pair();
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    // A routes to B by destination, but B only accepts 10.0.0.1 from A.
    a.tun.inject(icmpEcho('10.0.0.99', '10.0.0.2'));
    net.pump();
    expect(b.tun.take()).toEqual([]);
    expect(b.dev.stats.rxBadSource).toBe(1);
  });

  it('roaming: the endpoint follows authenticated packets, not forged ones', async () => {
    const { net, a, b } = await pair();
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    a.bind.moveTo('198.51.100.7');
    ping(net, a, b, '10.0.0.1', '10.0.0.2', 2);
    expect(b.dev.ipcGet().peers[0]!.endpoint).toEqual({ family: 4, host: '198.51.100.7', port: 51820 });
    // A garbage data packet from elsewhere does not move it.
    const junk = new Uint8Array(64);
    junk[0] = 4;
    junk.set(net.log.filter((d) => typeOf(d) === MESSAGE_DATA && d.from.host === '198.51.100.7').at(-1)!.data.subarray(4, 8), 4);
    net.inject(junk, { family: 4, host: '203.0.113.5', port: 1 }, { family: 4, host: '192.0.2.2', port: 51821 });
    net.pump();
    expect(b.dev.ipcGet().peers[0]!.endpoint!.host).toBe('198.51.100.7');
  });

  it('under load: initiations without mac2 get cookie replies, the real peer still connects', async () => {
    const { net, a, b, clock } = await pair();
    // Flood B with copies of a valid initiation (mac1 right) from many sources.
    a.tun.inject(icmpEcho('10.0.0.1', '10.0.0.2'));
    const init = net.queue.find((d) => typeOf(d) === MESSAGE_INITIATION)!;
    net.queue = [];
    for (let i = 0; i < 200; i++) net.inject(init.data, { family: 4, host: `203.0.113.${i}`, port: 1000 + i }, init.to);
    net.pump();
    expect(b.dev.stats.cookieRepliesSent).toBeGreaterThan(0);
    expect(net.log.filter((d) => typeOf(d) === MESSAGE_COOKIE_REPLY).every((d) => d.to.host.startsWith('203.0.113.'))).toBe(true);
    // While still under load, A's retry gets a cookie reply, then the next retry carries mac2 and is answered.
    for (let i = 0; i < 3 && b.tun.written.length === 0; i++) {
      // Keep the load up: the flood arrives just before A's retransmission.
      for (let j = 0; j < 130; j++) net.inject(init.data, { family: 4, host: '203.0.113.250', port: 9 }, init.to);
      clock.advance(5_400);
      net.pump();
    }
    expect(net.log.some((d) => typeOf(d) === MESSAGE_COOKIE_REPLY && d.to.host === '192.0.2.1')).toBe(true);
    expect(b.tun.take().length).toBe(1);
  });

  it('drops are logged at a limited rate and never with key material', async () => {
    const clock = new ManualClock();
    const net = new FakeNetwork();
    const lines: string[] = [];
    const priv = generatePrivateKey();
    const dev = new Device({ tun: new FakeTun('wgp5'), bind: net.bind('192.0.2.5'), clock, log: { verbose: (m) => lines.push(m), error: (m) => lines.push(m) } });
    open.push(dev);
    await uapiSet(dev, `set=1\nprivate_key=${keyToHex(priv)}\nlisten_port=7\n\n`);
    await dev.up();
    lines.length = 0;
    for (let i = 0; i < 1000; i++) net.inject(new Uint8Array(148).fill(i & 0xff).fill(0, 1, 4), { family: 4, host: '203.0.113.1', port: 1 }, { family: 4, host: '192.0.2.5', port: 7 });
    net.pump();
    expect(lines.length).toBe(10);
    clock.advance(1000);
    net.inject(new Uint8Array(3), { family: 4, host: '203.0.113.1', port: 1 }, { family: 4, host: '192.0.2.5', port: 7 });
    net.pump();
    expect(lines.length).toBe(11);
    const secret = keyToHex(priv);
    expect(lines.some((l) => l.toLowerCase().includes(secret.slice(0, 16)))).toBe(false);
  });

  it('mutated copies of real data and handshake packets are all rejected without a throw', async () => {
    const { net, a, b } = await pair();
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    const real = net.log.filter((d) => d.from.host === '192.0.2.1').map((d) => d.data);
    let seed = 3;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let i = 0; i < 3000; i++) {
      const p = real[i % real.length]!.slice();
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) {
        // Leave the type word alone so each packet reaches its type's checks.
        const at = 4 + Math.floor(rnd() * (p.length - 4));
        p[at]! ^= 1 + Math.floor(rnd() * 255);
      }
      net.inject(p, { family: 4, host: '192.0.2.1', port: 51820 }, { family: 4, host: '192.0.2.2', port: 51821 });
    }
    expect(() => net.pump()).not.toThrow();
    expect(b.tun.take()).toEqual([]);
    ping(net, a, b, '10.0.0.1', '10.0.0.2', 2);
  });

  it('garbage of every size is counted and dropped, never thrown', async () => {
    const { net, a, b } = await pair();
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(rnd() * 200);
      const p = new Uint8Array(len).map(() => Math.floor(rnd() * 256));
      if (len >= 4 && rnd() < 0.7) { p[0] = 1 + Math.floor(rnd() * 4); p[1] = p[2] = p[3] = 0; }
      net.inject(p, { family: 4, host: '203.0.113.9', port: 4 }, { family: 4, host: '192.0.2.2', port: 51821 });
    }
    expect(() => net.pump()).not.toThrow();
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
  });
});

describe('lifecycle and key hygiene', () => {
  const peerOf = (d: Device) => [...(d as unknown as { peers: Map<string, import('../../src/userspace-fallback/peer.js').Peer> }).peers.values()][0]!;

  it('keys are zeroed 540 s after the last session was derived', async () => {
    const { net, a, b, clock } = await pair();
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    const kp = peerOf(a.dev).keypairs.current!;
    const key = kp.sendKey;
    run(clock, net, 539_000);
    expect(peerOf(a.dev).keypairs.current).toBe(kp);
    run(clock, net, 1_000);
    expect(peerOf(a.dev).keypairs.current).toBeNull();
    expect(key.every((x) => x === 0)).toBe(true);
    expect(a.dev.stats.rxDropped).toBe(0);
  });

  it('volume limits: a rekey past REKEY_AFTER_MESSAGES, no sending at REJECT_AFTER_MESSAGES', async () => {
    const { net, a, b, clock } = await pair();
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    clock.advance(6_000); // past the handshake send limit
    const kp = peerOf(a.dev).keypairs.current!;
    kp.sendCounter = REKEY_AFTER_MESSAGES;
    a.tun.inject(icmpEcho('10.0.0.1', '10.0.0.2', { seq: 2 }));
    expect(net.queue.map(typeOf)).toEqual([MESSAGE_DATA, MESSAGE_INITIATION]); // sent, then rekey
    net.pump();
    expect(b.tun.take().length).toBe(1);
    const kp2 = peerOf(a.dev).keypairs.current!;
    expect(kp2).not.toBe(kp);
    clock.advance(6_000);
    kp2.sendCounter = REJECT_AFTER_MESSAGES - 1;
    net.queue = [];
    a.tun.inject(icmpEcho('10.0.0.1', '10.0.0.2', { seq: 3 }), icmpEcho('10.0.0.1', '10.0.0.2', { seq: 4 }));
    const q = net.queue.map(typeOf);
    expect(q.filter((t) => t === MESSAGE_DATA).length).toBe(1); // the last counter, then nothing more on it
    expect(q).toContain(MESSAGE_INITIATION);
    expect(peerOf(a.dev).staged.length).toBe(1);
    net.pump();
    expect(b.tun.take().length).toBe(2); // the staged one went out on the new session
  });

  it('an unanswered handshake is retried 20 times in all, then staged packets are dropped', async () => {
    const { net, a, clock } = await pair();
    net.filter = () => false; // B never hears anything
    a.tun.inject(icmpEcho('10.0.0.1', '10.0.0.2'));
    clock.advanceBy(120_000, 1_000);
    expect(net.log.filter((d) => typeOf(d) === MESSAGE_INITIATION).length).toBe(20);
    expect(peerOf(a.dev).staged.length).toBe(0);
  });

  it('down drops sessions and stops timers; up handshakes again; close leaves no timer pending', async () => {
    const { net, a, b, clock } = await pair({ keepaliveA: 25 });
    net.pump();
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    await a.dev.down();
    expect(peerOf(a.dev).keypairs.current).toBeNull();
    a.tun.inject(icmpEcho('10.0.0.1', '10.0.0.2'));
    net.pump();
    expect(b.tun.take()).toEqual([]);
    clock.advance(1000); // a new TAI64N second, or B would take the new initiation for a replay
    await a.dev.up();
    ping(net, a, b, '10.0.0.1', '10.0.0.2', 2);
    expect(net.log.filter((d) => typeOf(d) === MESSAGE_INITIATION).length).toBe(2);
    await a.dev.close();
    await b.dev.close();
    expect(clock.pendingCount).toBe(0);
  });

  it('padding: to a multiple of 16, capped at the MTU', async () => {
    const { net, a, b } = await pair();
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    const sizes: number[] = [];
    net.filter = (d) => { if (typeOf(d) === MESSAGE_DATA && d.from.host === '192.0.2.1') sizes.push(d.data.length - 32); return true; };
    for (const payload of [1, 1419 - 28, 1420 - 28]) {
      const p = icmpEcho('10.0.0.1', '10.0.0.2', { payload });
      a.tun.inject(p);
      net.pump();
      expect(b.tun.take()).toEqual([p]);
    }
    expect(sizes).toEqual([32, 1420, 1420]);
  });
});

describe('netns.sh scenarios that need no kernel (tools/testing/selftests/wireguard/netns.sh)', () => {
  it('byte counters after 10 pings from a fresh tunnel are 1372 rx / 1428 tx, mirrored', async () => {
    const { net, a, b } = await pair({ endpointOnB: true });
    for (let seq = 1; seq <= 10; seq++) ping(net, b, a, '10.0.0.2', '10.0.0.1', seq);
    const pb = b.dev.ipcGet().peers[0]!, pa = a.dev.ipcGet().peers[0]!;
    expect([pb.rxBytes, pb.txBytes]).toEqual([1372n, 1428n]);
    expect([pa.rxBytes, pa.txBytes]).toEqual([1428n, 1372n]);
    expect(pb.lastHandshake!.sec).not.toBe(0n);
  });

  it('a 34736-byte MTU carries ~34 KB packets both ways', async () => {
    const { net, a, b } = await pair();
    a.tun.mtuValue = b.tun.mtuValue = 34736;
    const big = icmpEcho('10.0.0.1', '10.0.0.2', { payload: 34736 - 28 });
    a.tun.inject(big);
    net.pump();
    expect(b.tun.take()).toEqual([big]);
    expect(net.log.at(-1)!.data.length).toBe(34736 + 32);
  });

  it('another peer owning the source address makes the packets drop, roaming still happens', async () => {
    const { net, a, b } = await pair();
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    const other = publicKeyFromPrivate(generatePrivateKey());
    expect(await uapiSet(b.dev, `set=1\npublic_key=${keyToHex(other)}\nallowed_ip=10.0.0.1/32\n\n`)).toBe(0);
    a.bind.moveTo('192.0.2.77');
    a.tun.inject(icmpEcho('10.0.0.1', '10.0.0.2'));
    net.pump();
    expect(b.tun.take()).toEqual([]);
    expect(b.dev.stats.rxBadSource).toBe(1);
    expect(b.dev.ipcGet().peers.find((p) => keyToHex(p.publicKey) === keyToHex(a.pub))!.endpoint!.host).toBe('192.0.2.77');
  });

  it('after a private-key change and the peer replaced in one set, the first ping gets through', async () => {
    const { net, a, b, clock } = await pair({ endpointOnB: true });
    ping(net, a, b, '10.0.0.1', '10.0.0.2');
    clock.advance(1000);
    const newPriv = generatePrivateKey(), newPub = publicKeyFromPrivate(newPriv);
    expect(await uapiSet(a.dev, `set=1\nprivate_key=${keyToHex(newPriv)}\n\n`)).toBe(0);
    expect(await uapiSet(b.dev, `set=1\npublic_key=${keyToHex(a.pub)}\nremove=true\npublic_key=${keyToHex(newPub)}\nendpoint=192.0.2.1:51820\nallowed_ip=10.0.0.1/32\n\n`)).toBe(0);
    ping(net, b, a, '10.0.0.2', '10.0.0.1', 2);
  });

  it('one peer with 65280 IPv4 /16s and 5000 IPv6 /128s applies in one set, reads back complete and routes', async () => {
    const { dev } = await (async () => {
      const clock = new ManualClock();
      const d = new Device({ tun: new FakeTun('wgp3'), bind: new FakeNetwork().bind('192.0.2.3'), clock });
      open.push(d);
      return { dev: d };
    })();
    const allowedIps = [];
    for (let i = 0; i < 255; i++) for (let j = 0; j < 256; j++) allowedIps.push({ family: 4 as const, addr: new Uint8Array([i, j, 0, 0]), cidr: 16 });
    for (let i = 0; i < 5000; i++) allowedIps.push({ family: 6 as const, addr: Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i >> 8, i & 0xff]), cidr: 128 });
    const pub = publicKeyFromPrivate(generatePrivateKey());
    expect(await dev.ipcSet({ name: 'x', peers: [{ publicKey: pub, allowedIps }] })).toBe(0);
    const back = dev.ipcGet().peers[0]!.allowedIps;
    expect(back.length).toBe(255 * 256 + 5000);
    expect(new Set(back.map((a) => `${a.family} ${a.addr.join('.')}/${a.cidr}`)).size).toBe(back.length);
    // The table routes by the new prefixes: first, last and a middle /16; an IPv6 /128; a miss.
    for (const addr of [[0, 0, 9, 9], [254, 255, 1, 2], [128, 77, 0, 1]]) expect(dev.allowedIps.lookup(4, new Uint8Array(addr))?.publicKey).toEqual(pub);
    expect(dev.allowedIps.lookup(6, Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x13, 0x87]))?.publicKey).toEqual(pub);
    expect(dev.allowedIps.lookup(4, new Uint8Array([255, 0, 0, 1]))).toBeNull();
  });

  it('peers with low-order public keys emit nothing on up', async () => {
    const clock = new ManualClock();
    const net = new FakeNetwork();
    const dev = new Device({ tun: new FakeTun('wgp4'), bind: net.bind('192.0.2.4'), clock });
    open.push(dev);
    const lowOrder = ['0000000000000000000000000000000000000000000000000000000000000000', '0100000000000000000000000000000000000000000000000000000000000000',
      'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'];
    const text = `set=1\nprivate_key=${keyToHex(generatePrivateKey())}\n` + lowOrder.map((k) => `public_key=${k}\npersistent_keepalive_interval=1\nendpoint=127.0.0.1:1111\n`).join('') + '\n';
    expect(await uapiSet(dev, text)).toBe(0);
    await dev.up();
    clock.advanceBy(2000, 100);
    net.pump();
    expect(net.log).toEqual([]);
  });
});

describe('ipcSet / ipcGet semantics (wireguard.com/xplatform)', () => {
  async function one() {
    const clock = new ManualClock();
    const net = new FakeNetwork();
    const tun = new FakeTun('wgp2');
    const bind = net.bind('192.0.2.9');
    const dev = new Device({ tun, bind, clock });
    open.push(dev);
    return { dev, net, bind, clock, tun };
  }
  const k = () => publicKeyFromPrivate(generatePrivateKey());

  it('validates the whole request before applying anything', async () => {
    const { dev } = await one();
    const p1 = k();
    const bad = { name: 'x', listenPort: 1234, peers: [{ publicKey: p1, allowedIps: [] }, { publicKey: p1, allowedIps: [{ family: 4 as const, addr: new Uint8Array(4), cidr: 33 }] }] };
    expect(await dev.ipcSet(bad)).toBe(-22);
    expect(dev.ipcGet().peers).toEqual([]);
    expect(dev.ipcGet().listenPort).toBeUndefined();
    expect(await dev.ipcSet({ name: 'x', peers: [{ publicKey: p1, protocolVersion: 2, allowedIps: [] }] })).toBe(-71);
  });

  it('replace_peers, remove, update_only, replace_allowed_ips, allowed_ip removal, masking', async () => {
    const { dev } = await one();
    const [p1, p2, p3] = [k(), k(), k()];
    expect(await uapiSet(dev, `set=1\npublic_key=${keyToHex(p1)}\nallowed_ip=10.1.0.1/16\nallowed_ip=10.2.0.0/16\npublic_key=${keyToHex(p2)}\nallowed_ip=10.3.0.0/16\n\n`)).toBe(0);
    let g = dev.ipcGet();
    expect(g.peers.map((p) => p.allowedIps.map((a) => `${a.addr.join('.')}/${a.cidr}`))).toEqual([['10.1.0.0/16', '10.2.0.0/16'], ['10.3.0.0/16']]);
    expect(await uapiSet(dev, `set=1\npublic_key=${keyToHex(p1)}\nallowed_ip=-10.1.0.0/16\npublic_key=${keyToHex(p2)}\nreplace_allowed_ips=true\nallowed_ip=10.4.0.0/16\npublic_key=${keyToHex(p3)}\nupdate_only=true\nallowed_ip=10.5.0.0/16\n\n`)).toBe(0);
    g = dev.ipcGet();
    expect(g.peers.length).toBe(2);
    expect(g.peers.map((p) => p.allowedIps.map((a) => `${a.addr.join('.')}/${a.cidr}`))).toEqual([['10.2.0.0/16'], ['10.4.0.0/16']]);
    expect(await uapiSet(dev, `set=1\npublic_key=${keyToHex(p1)}\nremove=true\n\n`)).toBe(0);
    expect(dev.ipcGet().peers.map((p) => keyToHex(p.publicKey))).toEqual([keyToHex(p2)]);
    expect(await uapiSet(dev, `set=1\nreplace_peers=true\npublic_key=${keyToHex(p3)}\n\n`)).toBe(0);
    expect(dev.ipcGet().peers.map((p) => keyToHex(p.publicKey))).toEqual([keyToHex(p3)]);
  });

  it('private key equal to a peer removes it; own public key as a peer is ignored; zero key removes it', async () => {
    const { dev } = await one();
    const priv = generatePrivateKey(), pub = publicKeyFromPrivate(priv);
    expect(await uapiSet(dev, `set=1\npublic_key=${keyToHex(pub)}\n\n`)).toBe(0);
    expect(dev.ipcGet().peers.length).toBe(1);
    expect(await uapiSet(dev, `set=1\nprivate_key=${keyToHex(priv)}\npublic_key=${keyToHex(pub)}\n\n`)).toBe(0);
    const g = dev.ipcGet();
    expect(g.peers.length).toBe(0);
    expect(keyToHex(g.publicKey!)).toBe(keyToHex(pub));
    expect(await uapiSet(dev, `set=1\nprivate_key=${'0'.repeat(64)}\n\n`)).toBe(0);
    expect(dev.ipcGet().privateKey).toBeUndefined();
  });

  it('listen_port 0 picks a port; a port in use answers -98 and changes nothing; fwmark reaches the Bind', async () => {
    const { dev, net, bind } = await one();
    await dev.up();
    const port = dev.ipcGet().listenPort!;
    expect(port).toBeGreaterThan(0);
    const other = net.bind('192.0.2.9');
    await other.open(5555);
    expect(await uapiSet(dev, `set=1\nlisten_port=5555\nfwmark=7\n\n`)).toBe(-98);
    expect(dev.ipcGet().listenPort).toBe(port);
    expect(dev.ipcGet().fwmark).toBeUndefined();
    expect(await uapiSet(dev, `set=1\nlisten_port=5556\nfwmark=7\n\n`)).toBe(0);
    expect(dev.ipcGet().listenPort).toBe(5556);
    expect(bind.mark).toBe(7);
  });

  it('the first configuration binds: its port (a random one too) is reported before up and kept by up', async () => {
    const { dev, bind } = await one();
    expect(dev.ipcGet().listenPort).toBeUndefined();
    expect(await uapiSet(dev, `set=1\nprivate_key=${keyToHex(generatePrivateKey())}\n\n`)).toBe(0);
    expect(bind.closed).toBe(false);
    const port = dev.ipcGet().listenPort!;
    expect(port).toBeGreaterThan(0);
    expect(port).toBe(bind.port);
    await dev.up();
    expect(dev.ipcGet().listenPort).toBe(port);
    // down closes it; a configuration while down (after the first up) does not reopen it
    await dev.down();
    expect(bind.closed).toBe(true);
    expect(await uapiSet(dev, `set=1\nlisten_port=5601\n\n`)).toBe(0);
    expect(bind.closed).toBe(true);
    expect(dev.ipcGet().listenPort).toBe(5601);
    await dev.up();
    expect(bind.port).toBe(5601);
  });

  it('before the first up, a new port rebinds at once and a port in use is refused with -98', async () => {
    const { dev, net, bind } = await one();
    expect(await uapiSet(dev, `set=1\nlisten_port=5611\nfwmark=9\n\n`)).toBe(0);
    expect([bind.port, bind.mark, dev.isUp]).toEqual([5611, 9, false]);
    await net.bind('192.0.2.9').open(5612);
    expect(await uapiSet(dev, `set=1\nlisten_port=5612\n\n`)).toBe(-98);
    expect(dev.ipcGet().listenPort).toBe(5611);
    expect(await uapiSet(dev, `set=1\nlisten_port=5613\n\n`)).toBe(0);
    expect(bind.port).toBe(5613);
  });

  it('persistent keepalive 0 → N while up sends a keepalive (here: starts the handshake) at once', async () => {
    const { dev, net } = await one();
    const peer = k();
    await uapiSet(dev, `set=1\nprivate_key=${keyToHex(generatePrivateKey())}\npublic_key=${keyToHex(peer)}\nendpoint=192.0.2.50:1\n\n`);
    await dev.up();
    expect(net.log.length).toBe(0);
    await uapiSet(dev, `set=1\npublic_key=${keyToHex(peer)}\npersistent_keepalive_interval=5\n\n`);
    expect(net.log.map(typeOf)).toEqual([MESSAGE_INITIATION]);
  });
});

describe('serialQueue', () => {
  it('runs operations one at a time in call order, past a failure', async () => {
    const serial = serialQueue();
    const events: string[] = [];
    const op = (name: string, fail = false) => async () => {
      events.push(`${name} start`);
      await Promise.resolve();
      await Promise.resolve();
      events.push(`${name} end`);
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([serial(op('a')), serial(op('b', true)), serial(op('c'))]);
    expect(events).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b', 'c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});
