/**
 * `wgts exporter` against live userspace devices (wgts-userspace and wireguard-go, both answering
 * over UAPI) in test-made namespaces: after a real handshake through a tunnel, every scraped series
 * carries the counters and handshake time `wgts show all dump` reports; friendly names come from
 * the config file `wgts quick up` recorded (a state file in a private state directory); interface
 * filtering, the HTTP edges, and a clean exit on SIGTERM.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyToBase64 } from '../../../src/conf/keys.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../../../src/crypto/primitives.js';
import { waitFor, type Spawned } from '../helpers/netns.js';
import { haveTools, keyPair, OpsLab, WGTS, type Side } from './lab.js';

const ops = new OpsLab();
let a: Side;
let b: Side;
const devA = ops.lab.ifname('a');
const devB = ops.lab.ifname('b');
const devC = ops.lab.ifname('c');
let kA: { file: string; pub: string };
let kB: { file: string; pub: string };
let kC: { file: string; pub: string };
const lonely = keyToBase64(publicKeyFromPrivate(generatePrivateKey())); // a peer of devC that never answers
const stateDir = join(ops.dir, 'state');
let exporter: Spawned;
const URL = 'http://127.0.0.1:9586';

async function curl(path: string, extra: string[] = []): Promise<{ code: number; status: string; body: string }> {
  const r = await a.run(['curl', '-s', '-o', '-', '-w', '\n%{http_code}', ...extra, `${URL}${path}`]);
  const cut = r.stdout.lastIndexOf('\n');
  return { code: r.code, status: r.stdout.slice(cut + 1), body: r.stdout.slice(0, cut) };
}

/** Series lines as {name, labels, value}, labels parsed from the text format (no escapes but \" here). */
function series(body: string) {
  return body
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\w+)\{(.*)\} (\d+)$/.exec(l)!;
      const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
      return { name: m[1]!, labels, value: m[3]! };
    });
}

beforeAll(async () => {
  if (!haveTools()) return;
  [a, b] = [await ops.side(), await ops.side()];
  await ops.lab.veth(a.ns, '10.98.0.1/24', b.ns, '10.98.0.2/24');
  [kA, kB, kC] = [keyPair(ops, 'a'), keyPair(ops, 'b'), keyPair(ops, 'c')];
  await a.device('wgts-userspace', devA);
  await a.device('wireguard-go', devC);
  await b.device('wireguard-go', devB);
  await a.must([WGTS, 'set', devA, 'private-key', kA.file, 'listen-port', '43101', 'peer', kB.pub, 'allowed-ips', '10.201.0.2/32,fd01::2/128', 'endpoint', '10.98.0.2:43102']);
  await b.must([WGTS, 'set', devB, 'private-key', kB.file, 'listen-port', '43102', 'peer', kA.pub, 'allowed-ips', '10.201.0.1/32']);
  await a.must([WGTS, 'set', devC, 'private-key', kC.file, 'peer', lonely, 'allowed-ips', '10.202.0.0/24']);
  for (const [side, dev, addr] of [[a, devA, '10.201.0.1/24'], [b, devB, '10.201.0.2/24']] as const) {
    await side.ns.ip(['addr', 'add', addr, 'dev', dev]);
    await side.ns.ip(['link', 'set', dev, 'up']);
  }
  await a.ns.run(['ping', '-c', '2', '-W', '5', '10.201.0.2']);
  // devA was brought up by `wgts quick up` from this file (as far as the exporter can tell).
  const conf = ops.file(`${devA}.conf`, `[Interface]\nAddress = 10.201.0.1/24\n\n[Peer]\n# friendly_name=Bee's "B" box\nPublicKey = ${kB.pub}\n`);
  const netns = (await a.must(['readlink', '/proc/self/ns/net'])).match(/\[(\d+)\]/)![1];
  mkdirSync(stateDir, { mode: 0o700 });
  ops.file(`state/${devA}@${netns}.json`, JSON.stringify({ ifname: devA, configFile: conf, journal: [], holds: [] }));
  a.env.WGTS_QUICK_STATE_DIR = stateDir;
  exporter = a.spawn([WGTS, 'exporter']);
  await waitFor(async () => (await curl('/metrics')).status === '200', { timeout: 15_000, what: 'exporter answering' });
}, 90_000);

afterAll(() => ops.cleanup());

describe.skipIf(!haveTools())('wgts exporter', { timeout: 60_000 }, () => {
  it('serves every peer of every device with the values of `show all dump`', async () => {
    // Counters move only with traffic; wait until a dump, a scrape and a dump agree (idle tunnel).
    let body = '';
    let dump = '';
    await waitFor(
      async () => {
        const before = (await a.wgts(['show', 'all', 'dump'])).stdout;
        body = (await curl('/metrics')).body;
        dump = (await a.wgts(['show', 'all', 'dump'])).stdout;
        return before === dump;
      },
      { timeout: 30_000, what: 'an idle tunnel' },
    );
    const peers = dump.trim().split('\n').map((l) => l.split('\t')).filter((f) => f.length === 9);
    expect(peers.length).toBe(2);
    const got = series(body);
    expect(got.length).toBe(3 * peers.length);
    for (const [iface, pub, , , ips, hs, rx, tx] of peers) {
      const mine = got.filter((s) => s.labels.public_key === pub);
      expect(mine.map((s) => [s.name, s.labels.interface, s.labels.allowed_ips, s.value])).toEqual([
        ['wireguard_sent_bytes_total', iface, ips!.replace(/ /g, '').replace('(none)', ''), tx],
        ['wireguard_received_bytes_total', iface, ips!.replace(/ /g, '').replace('(none)', ''), rx],
        ['wireguard_latest_handshake_seconds', iface, ips!.replace(/ /g, '').replace('(none)', ''), hs],
      ]);
    }
    const bee = got.find((s) => s.labels.public_key === kB.pub)!;
    expect(Number(bee.value)).toBeGreaterThan(0); // the ping did a handshake
    expect(bee.labels.friendly_name).toBe('Bee\'s \\"B\\" box');
    // devC has no config: no friendly_name label at all, and its exact line.
    expect(body).toContain(`\nwireguard_latest_handshake_seconds{interface="${devC}",public_key="${lonely}",allowed_ips="10.202.0.0/24"} 0\n`);
  });

  it('serves only the interfaces named, and none for an interface that is gone', async () => {
    const only = a.spawn([WGTS, 'exporter', '--listen', '127.0.0.1:9587', devC, 'nosuchdev0']);
    let r = { status: '', body: '' };
    await waitFor(async () => (r = await a.run(['curl', '-s', 'http://127.0.0.1:9587/metrics']).then((x) => ({ status: String(x.code), body: x.stdout }))).status === '0', {
      timeout: 15_000,
      what: 'second exporter',
    });
    expect(series(r.body).map((s) => s.labels.interface)).toEqual([devC, devC, devC]);
    only.kill('SIGTERM');
    expect(await only.exited).toBe(0);
  });

  it('answers / with a link, 404 elsewhere, 405 for other methods, HEAD without a body', async () => {
    expect((await curl('/')).body).toContain('href="/metrics"');
    expect((await curl('/nope')).status).toBe('404');
    expect((await curl('/metrics', ['-X', 'POST'])).status).toBe('405');
    const head = await a.run(['curl', '-sI', `${URL}/metrics`]);
    expect(head.stdout).toMatch(/content-type: text\/plain; version=0\.0\.4; charset=utf-8/i);
  });

  it('exits 0 on SIGTERM, and refuses a port in use', async () => {
    const second = await a.wgts(['exporter']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^wgts exporter: cannot listen on 127\.0\.0\.1:9586: .*EADDRINUSE/);
    exporter.kill('SIGTERM');
    expect(await exporter.exited).toBe(0);
  });
});
