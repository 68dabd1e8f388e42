/**
 * wgts managing our own daemon: the upstream-only `allowed-ips +x/-x` forms (which Debian's wg and
 * wireguard-go 0.0.20220316 cannot exercise) against wgts-userspace, with the real `wg` reading
 * the result, and `show`/`showconf` of wg and wgts agreeing on that device.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyToBase64 } from '../../../src/conf/keys.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../../../src/crypto/primitives.js';
import { waitFor, type Netns } from '../helpers/netns.js';
import { ManageLab, confShape, haveTools, sortedLines } from './lab.js';

const DAEMON = resolve(import.meta.dirname, '../../../bin/wgts-userspace');
const h = new ManageLab();
let ns: Netns;
const dev = h.lab.ifname('u');
const k1 = keyToBase64(publicKeyFromPrivate(generatePrivateKey()));
const k2 = keyToBase64(publicKeyFromPrivate(generatePrivateKey()));

beforeAll(async () => {
  ns = await h.lab.netns();
  h.lab.spawn(h.wrap(ns, [DAEMON, '-f', dev]), { env: { LOG_LEVEL: 'silent' } });
  await waitFor(async () => (await h.wg(ns, ['show', dev, 'listen-port'])).code === 0, {
    timeout: 15_000,
    what: `wgts-userspace ${dev}`,
  });
}, 30_000);

afterAll(() => h.cleanup());

async function ours(args: string[]) {
  const r = await h.wgts(ns, args);
  expect(r.stderr, args.join(' ')).toBe('');
  expect(r.code, args.join(' ')).toBe(0);
}

describe.skipIf(!haveTools())('wgts on wgts-userspace', { timeout: 60_000 }, () => {
  it('adds and removes single allowed IPs with +/-', async () => {
    await ours(['set', dev, 'listen-port', '43001', 'peer', k1, 'allowed-ips', '10.0.0.0/24,10.1.0.0/24,fd00::/64', 'peer', k2, 'allowed-ips', '10.9.0.1/32']);
    await ours(['set', dev, 'peer', k1, 'allowed-ips', '-10.0.0.0/24,+10.2.0.0/24, -fd00::/64, 10.3.0.0/16']);
    const r = await h.wg(ns, ['show', dev, 'allowed-ips']);
    const byPeer = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('\t')));
    expect(byPeer[k1]!.split(' ').sort()).toEqual(['10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/16']);
    expect(byPeer[k2]).toBe('10.9.0.1/32');
    // Removing a prefix the peer does not have changes nothing; a plain list still replaces.
    await ours(['set', dev, 'peer', k2, 'allowed-ips', '-10.99.0.0/16']);
    await ours(['set', dev, 'peer', k1, 'allowed-ips', '10.4.0.0/16']);
    const r2 = await h.wg(ns, ['show', dev, 'allowed-ips']);
    expect(sortedLines(r2.stdout)).toEqual(sortedLines(`${k1}\t10.4.0.0/16\n${k2}\t10.9.0.1/32\n`));
  });

  it('show and showconf agree with wg on this device', async () => {
    for (const args of [['show', dev], ['show', dev, 'dump'], ['showconf', dev]]) {
      const [w, t] = [await h.wg(ns, args), await h.wgts(ns, args)];
      expect(t.stderr).toBe(w.stderr);
      const norm = args[0] === 'showconf' ? confShape : sortedLines;
      expect(norm(t.stdout)).toEqual(norm(w.stdout));
    }
  });
});
