/**
 * Run inside a fresh network namespace (by interop-wireguard-go.test.ts, bundled with esbuild):
 * our Device with the fake TUN and a small node:dgram Bind on loopback, against wireguard-go with a
 * real TUN in the same namespace. Checks, and prints one JSON line of results:
 * - `responder`: wireguard-go initiates (the kernel behind it pings us) and we answer from the fake TUN;
 * - `initiator`: after our keys are wiped (down/up) we initiate and ping the kernel behind wireguard-go;
 * - byte counters on both sides agree; a preshared key is in use.
 */
import dgram from 'node:dgram';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Device } from '../../../src/userspace-fallback/device.js';
import { dataCryptoBackend, generatePresharedKey, generatePrivateKey, publicKeyFromPrivate } from '../../../src/crypto/primitives.js';
import { keyToBase64 } from '../../../src/conf/keys.js';
import type { WgEndpoint } from '../../../src/conf/model.js';
import type { Bind } from '../../../src/userspace-fallback/bind.js';
import type { Clock } from '../../../src/userspace-fallback/clock.js';
import { FakeTun, echoReply, icmpEcho } from '../../fakes/tun.js';

const dir = process.argv[2]!;
const clock: Clock = {
  now: () => performance.now(),
  wallclock: () => {
    const ms = BigInt(Date.now());
    return { sec: ms / 1000n, nsec: Number(ms % 1000n) * 1_000_000 };
  },
  schedule: (ms, fn) => {
    const h = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(h) };
  },
};

class LoopbackBind implements Bind {
  private s: dgram.Socket | null = null;
  private cb: ((p: Uint8Array, from: WgEndpoint) => void) | null = null;
  async open(port: number): Promise<number> {
    await this.close();
    const s = dgram.createSocket('udp4');
    s.on('message', (m, r) => this.cb?.(new Uint8Array(m), { family: 4, host: r.address, port: r.port }));
    await new Promise<void>((res) => s.bind(port, '127.0.0.1', () => res()));
    this.s = s;
    return s.address().port;
  }
  async setMark(): Promise<void> {}
  send(ps: Uint8Array[], to: WgEndpoint): void {
    for (const p of ps) this.s?.send(p, to.port, to.host);
  }
  onReceive(cb: (p: Uint8Array, from: WgEndpoint) => void): void {
    this.cb = cb;
  }
  async close(): Promise<void> {
    this.s?.close();
    this.s = null;
  }
}

const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
const wait = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
};

const ourPriv = generatePrivateKey();
const goPriv = generatePrivateKey();
const psk = generatePresharedKey();
sh('ip', 'link', 'set', 'lo', 'up');
execFileSync('wireguard-go', ['wgpgo0'], { env: { ...process.env, LOG_LEVEL: 'error' }, stdio: 'ignore' });
writeFileSync(`${dir}/go.key`, keyToBase64(goPriv), { mode: 0o600 });
writeFileSync(`${dir}/psk`, keyToBase64(psk), { mode: 0o600 });
sh('wg', 'set', 'wgpgo0', 'private-key', `${dir}/go.key`, 'listen-port', '51999', 'peer', keyToBase64(publicKeyFromPrivate(ourPriv)),
  'preshared-key', `${dir}/psk`, 'allowed-ips', '10.9.0.2/32,fd09::2/128', 'endpoint', '127.0.0.1:51998');
sh('ip', 'addr', 'add', '10.9.0.1/24', 'dev', 'wgpgo0');
sh('ip', '-6', 'addr', 'add', 'fd09::1/64', 'dev', 'wgpgo0', 'nodad');
sh('ip', 'link', 'set', 'wgpgo0', 'up');

const tun = new FakeTun('wgpus0');
const dev = new Device({ tun, bind: new LoopbackBind(), clock });
await dev.ipcSet({
  name: 'wgpus0', privateKey: ourPriv, listenPort: 51998,
  peers: [{ publicKey: publicKeyFromPrivate(goPriv), presharedKey: psk, allowedIps: [
    { family: 4, addr: new Uint8Array([10, 9, 0, 0]), cidr: 24 },
    { family: 6, addr: Uint8Array.from(Buffer.from('fd090000000000000000000000000000', 'hex')), cidr: 64 }] }],
});
await dev.up();
const result: Record<string, unknown> = { backend: dataCryptoBackend() };

// 1. wireguard-go initiates: the kernel behind it pings 10.9.0.2, our fake host answers.
const answer = setInterval(() => {
  for (const p of tun.take()) if (p[20] === 8) tun.inject(echoReply(p));
}, 5);
const pinger = spawn('ping', ['-c', '3', '-i', '0.2', '-W', '3', '10.9.0.2']);
let out = '';
pinger.stdout.on('data', (d) => (out += d));
await new Promise((r) => pinger.on('exit', r));
clearInterval(answer);
result.responder = /3 received/.test(out);
result.endpointLearned = dev.ipcGet().peers[0]?.endpoint?.port === 51999;

// 2. We initiate (sessions wiped by down/up, after the TAI64N second moved on).
await dev.down();
await new Promise((r) => setTimeout(r, 1100));
await dev.up();
let v4 = 0, v6 = 0;
for (let seq = 1; seq <= 3; seq++) {
  tun.inject(icmpEcho('10.9.0.2', '10.9.0.1', { seq }));
  if (await wait(() => tun.written.some((p) => p[0]! >> 4 === 4 && p[20] === 0 && p[27] === seq))) v4++;
}
const { icmp6Echo } = await import('../../fakes/tun.js');
for (let seq = 1; seq <= 3; seq++) {
  tun.inject(icmp6Echo('fd09::2', 'fd09::1', { seq }));
  if (await wait(() => tun.written.some((p) => p[0]! >> 4 === 6 && p[40] === 129 && p[47] === seq))) v6++;
}
result.initiatorV4 = v4;
result.initiatorV6 = v6;

// 3. Counters: our tx = their rx and vice versa (wg show dump: ... rx tx ...).
await new Promise((r) => setTimeout(r, 200));
const dump = sh('wg', 'show', 'wgpgo0', 'dump').trim().split('\n')[1]!.split('\t');
const ours = dev.ipcGet().peers[0]!;
result.counters = { goRx: dump[5], goTx: dump[6], ourRx: String(ours.rxBytes), ourTx: String(ours.txBytes) };
await dev.close();
sh('ip', 'link', 'del', 'wgpgo0');
console.log(JSON.stringify(result));
process.exit(0);
