import { describe, expect, it } from 'vitest';
import { emptyDevice, fillOrWipe, wipeDevice, type WgDevice } from '../../src/conf/model.js';

const key = (b: number) => new Uint8Array(32).fill(b);
const ZERO = new Uint8Array(32);

function keyed(): WgDevice {
  return {
    name: 'wgc0',
    privateKey: key(1),
    publicKey: key(2),
    peers: [
      { publicKey: key(3), presharedKey: key(4), allowedIps: [] },
      { publicKey: key(5), allowedIps: [] },
    ],
  };
}

describe('wipeDevice', () => {
  it('zeroes the private and preshared keys and leaves public keys', () => {
    const d = keyed();
    wipeDevice(d);
    expect(d.privateKey).toEqual(ZERO);
    expect(d.peers[0]!.presharedKey).toEqual(ZERO);
    expect([d.publicKey, d.peers[0]!.publicKey, d.peers[1]!.publicKey]).toEqual([key(2), key(3), key(5)]);
    expect(d.peers[1]!.presharedKey).toBeUndefined();
  });
});

describe('fillOrWipe', () => {
  it('returns the filled model untouched on success', async () => {
    const d = await fillOrWipe(emptyDevice('wgc0'), async (dev) => void Object.assign(dev, keyed()));
    expect(d).toEqual(keyed());
  });

  it('wipes the keys read so far when filling fails, and rethrows', async () => {
    const d = emptyDevice('wgc0');
    const err = new Error('bad line');
    await expect(
      fillOrWipe(d, async (dev) => {
        Object.assign(dev, keyed());
        throw err;
      }),
    ).rejects.toBe(err);
    expect(d.privateKey).toEqual(ZERO);
    expect(d.peers[0]!.presharedKey).toEqual(ZERO);
  });
});
