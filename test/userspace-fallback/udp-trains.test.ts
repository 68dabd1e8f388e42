/** Which queued datagrams form one UDP GSO train (udp-trains.ts). */
import { describe, expect, it } from 'vitest';
import { GSO_MAX_BYTES, GSO_MAX_SEGMENTS, trainEnd } from '../../src/userspace-fallback/udp-trains.js';

/** Splits datagrams [0, n) into trains: their lengths, one array per train. */
function trains(lengths: number[], dests = lengths.map(() => 0), limit = 0xffff): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < lengths.length; ) {
    const j = trainEnd(lengths, dests, i, lengths.length, limit);
    expect(j).toBeGreaterThan(i);
    out.push(lengths.slice(i, j));
    i = j;
  }
  return out;
}

describe('trainEnd', () => {
  it('takes equal-size datagrams to one destination, and a shorter last one', () => {
    expect(trains([1452, 1452, 1452, 700])).toEqual([[1452, 1452, 1452, 700]]);
  });

  it('ends a train after a shorter datagram, and before a longer one', () => {
    expect(trains([1452, 1452, 700, 1452, 1452])).toEqual([[1452, 1452, 700], [1452, 1452]]);
    expect(trains([700, 700, 1452, 1452])).toEqual([[700, 700], [1452, 1452]]);
  });

  it('never joins datagrams to different destinations', () => {
    expect(trains([1452, 1452, 1452, 1452], [0, 0, 2, 2])).toEqual([[1452, 1452], [1452, 1452]]);
    expect(trains([1452, 1452, 1452], [0, 1, 0])).toEqual([[1452], [1452], [1452]]);
  });

  it('lone datagrams and a single one stay alone', () => {
    expect(trains([148])).toEqual([[148]]);
    expect(trains([92, 148, 32])).toEqual([[92], [148, 32]]);
  });

  it(`stops at ${GSO_MAX_SEGMENTS} segments`, () => {
    const t = trains(new Array(150).fill(100));
    expect(t.map((x) => x.length)).toEqual([64, 64, 22]);
  });

  it(`stops before ${GSO_MAX_BYTES} bytes`, () => {
    const seg = 1452;
    const t = trains(new Array(60).fill(seg));
    const fit = Math.floor(GSO_MAX_BYTES / seg); // 45
    expect(t[0]!.length).toBe(fit);
    expect(t.flat().length).toBe(60);
    for (const x of t) expect(x.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(GSO_MAX_BYTES);
    // A tail that would cross the limit starts the next train.
    expect(trains([...new Array(fit).fill(seg), 1000]).map((x) => x.length)).toEqual([fit, 1]);
  });

  it('sends alone what is larger than the segment size GSO accepts on the socket (0: GSO off)', () => {
    expect(trains([1452, 1452, 1452], undefined, 0)).toEqual([[1452], [1452], [1452]]);
    expect(trains([1452, 1452, 600, 600], undefined, 1000)).toEqual([[1452], [1452], [600, 600]]);
  });

  it('respects the end it is given', () => {
    expect(trainEnd([100, 100, 100, 100], [0, 0, 0, 0], 1, 3, 0xffff)).toBe(3);
  });
});
