/**
 * The reresolve plan (conf/reresolve.ts): which peers of a config name a host, which of those are
 * looked up (stale or never handshaken, or all with --force), and when an endpoint has moved.
 */
import { describe, expect, it } from 'vitest';
import { candidates, moved, namedEndpoints, STALE_SECONDS } from '../../src/conf/reresolve.js';
import { keyFromBase64 } from '../../src/conf/keys.js';
import type { WgDevice } from '../../src/conf/model.js';

const K1 = '2S7mA0vEMethCNQrJpJKE81/JmhgtB+tHHLYQhgM6kk=';
const K2 = 'qnoxQoQI8KKMupLnSSureORV0wMmH7JryZNsmGVISzU=';
const K3 = 'L2UoJZN7RmEKsMmqaJgKG0m1S2Zs2wd2ptAf+kb3008=';
const K4 = 'MdVOIPKt9K2MPj/sO2NlWQbOnFJ6L/qX80mmhQwsUlA=';

const CONF = `[Interface]
PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
[Peer]
PublicKey = ${K1}
Endpoint = home.example.net:51820
[Peer]
PublicKey = ${K2}
Endpoint = 192.0.2.1:51820
[Peer]
PublicKey = ${K3}
Endpoint = [fe80::1%eth0]:51820
[Peer]
PublicKey = ${K4}
Endpoint = old.example:1
Endpoint = [v6.example]:51821
[Peer]
PublicKey = ${K2.replace('q', 'Q')}
Endpoint = nope
`;

const NOW = 1_800_000_000;
const device = (handshakes: Record<string, number>): WgDevice => ({
  name: 'wg0',
  peers: Object.entries(handshakes).map(([k, sec]) => ({
    publicKey: keyFromBase64(k)!,
    allowedIps: [],
    lastHandshake: { sec: BigInt(sec), nsec: 0 },
    endpoint: { family: 4 as const, host: '198.51.100.7', port: 51820 },
  })),
});

describe('namedEndpoints', () => {
  it('keeps host names only (the last Endpoint of a peer), with their lines', () => {
    expect(namedEndpoints(CONF)).toEqual([
      { publicKey: K1, endpoint: 'home.example.net:51820', host: 'home.example.net', line: 5 },
      { publicKey: K4, endpoint: '[v6.example]:51821', host: 'v6.example', line: 15 },
    ]);
  });
});

describe('candidates', () => {
  const named = namedEndpoints(CONF);
  it('looks up stale and never-handshaken peers; skips fresh ones and peers not on the device', () => {
    const plan = candidates(named, device({ [K1]: NOW - STALE_SECONDS, [K2]: 0 }), NOW, false);
    expect(plan.resolve).toEqual([]);
    expect(plan.skipped.map((s) => [s.peer.publicKey, s.why])).toEqual([[K1, 'fresh'], [K4, 'not-on-device']]);
    const stale = candidates(named, device({ [K1]: NOW - STALE_SECONDS - 1, [K4]: 0 }), NOW, false);
    expect(stale.resolve.map((p) => p.publicKey)).toEqual([K1, K4]);
  });

  it('--force looks up fresh peers too', () => {
    expect(candidates(named, device({ [K1]: NOW - 1 }), NOW, true).resolve.map((p) => p.publicKey)).toEqual([K1]);
  });
});

describe('moved', () => {
  const dev = device({ [K1]: 0 });
  it('compares the canonical endpoint text', () => {
    expect(moved(dev, K1, { family: 4, host: '198.51.100.7', port: 51820 })).toBe(false);
    expect(moved(dev, K1, { family: 4, host: '198.51.100.8', port: 51820 })).toBe(true);
    expect(moved(dev, K1, { family: 4, host: '198.51.100.7', port: 51821 })).toBe(true);
    expect(moved(device({}), K1, { family: 4, host: '198.51.100.7', port: 51820 })).toBe(true);
  });
});
