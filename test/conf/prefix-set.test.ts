/**
 * Prefix-set subtraction (conf/prefix-set.ts) against two independent models:
 * - on 8- and 10-bit address spaces, brute force: the set as one boolean per address, and the
 *   minimal cover read off a binary trie (a node wholly in the set is one prefix, else recurse) —
 *   the exact answer, compared list for list;
 * - on IPv4 and IPv6, where brute force cannot go: membership of random and boundary addresses,
 *   plus the two conditions that make a cover of disjoint prefixes minimal (no block contains or
 *   touches another, no two blocks are the halves of one larger block).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatPrefix, parsePrefix, subtractBlocks, subtractPrefixes, type Block, type Prefix } from '../../src/conf/prefix-set.js';
import { captureStdio } from '../fakes/stdio.js';
import { main } from '../../src/cli/main.js';

/** A random prefix of a `bits`-wide space, host bits cleared. */
const blockArb = (bits: number) =>
  fc.tuple(fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }), fc.integer({ min: 0, max: bits })).map(([v, len]): Block => {
    const host = (1n << BigInt(bits - len)) - 1n;
    return { base: v & ~host, len };
  });

const contains = (b: Block, a: bigint, bits: number) => a >> BigInt(bits - b.len) === b.base >> BigInt(bits - b.len);

/** The brute-force model: membership per address, then the minimal cover from a trie walk. */
function model(include: Block[], exclude: Block[], bits: number): Block[] {
  const n = 1 << bits;
  const member: boolean[] = [];
  for (let a = 0; a < n; a++) {
    const x = BigInt(a);
    member.push(include.some((b) => contains(b, x, bits)) && !exclude.some((b) => contains(b, x, bits)));
  }
  const out: Block[] = [];
  const walk = (base: number, len: number): void => {
    const size = 1 << (bits - len);
    let all = true;
    let any = false;
    for (let a = base; a < base + size; a++) {
      if (member[a]) any = true;
      else all = false;
    }
    if (all) out.push({ base: BigInt(base), len });
    else if (any) {
      walk(base, len + 1);
      walk(base + size / 2, len + 1);
    }
  };
  walk(0, 0);
  return out;
}

describe('subtractBlocks', () => {
  it.each([8, 10])('equals the brute-force minimal cover on a %i-bit space', (bits) => {
    fc.assert(
      fc.property(fc.array(blockArb(bits), { maxLength: 6 }), fc.array(blockArb(bits), { maxLength: 6 }), (inc, exc) => {
        expect(subtractBlocks(inc, exc, bits)).toEqual(model(inc, exc, bits));
      }),
      { numRuns: 400 },
    );
  });

  it.each([32, 128])('covers exactly the difference and is minimal on a %i-bit space', (bits) => {
    fc.assert(
      fc.property(
        fc.array(blockArb(bits), { minLength: 1, maxLength: 5 }),
        fc.array(blockArb(bits), { maxLength: 5 }),
        fc.array(fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }), { maxLength: 20 }),
        (inc, exc, samples) => {
          const got = subtractBlocks(inc, exc, bits);
          // Boundary addresses of every input block, and their neighbours, plus random ones.
          const edge = (b: Block) => {
            const hi = b.base + (1n << BigInt(bits - b.len)) - 1n;
            return [b.base - 1n, b.base, hi, hi + 1n];
          };
          const max = (1n << BigInt(bits)) - 1n;
          const probes = [...samples, ...inc.flatMap(edge), ...exc.flatMap(edge)].filter((a) => a >= 0n && a <= max);
          for (const a of probes) {
            const want = inc.some((b) => contains(b, a, bits)) && !exc.some((b) => contains(b, a, bits));
            expect(got.some((b) => contains(b, a, bits))).toBe(want);
          }
          for (let i = 1; i < got.length; i++) {
            const prev = got[i - 1]!;
            const prevHi = prev.base + (1n << BigInt(bits - prev.len)) - 1n;
            expect(got[i]!.base > prevHi).toBe(true); // sorted, disjoint
            const cur = got[i]!;
            // Halves of one block: same length, prev on an even boundary of the parent, adjacent.
            const buddies = cur.len === prev.len && cur.len > 0 && prevHi + 1n === cur.base && ((prev.base >> BigInt(bits - prev.len)) & 1n) === 0n;
            expect(buddies).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

const p = (s: string): Prefix => parsePrefix(s);
const texts = (list: Prefix[]) => list.map(formatPrefix);

describe('subtractPrefixes', () => {
  it('routes everything but one private /16 (the calculator case)', () => {
    expect(texts(subtractPrefixes([p('0.0.0.0/0')], [p('192.168.0.0/16')]))).toEqual([
      '0.0.0.0/1',
      '128.0.0.0/2',
      '192.0.0.0/9',
      '192.128.0.0/11',
      '192.160.0.0/13',
      '192.169.0.0/16',
      '192.170.0.0/15',
      '192.172.0.0/14',
      '192.176.0.0/12',
      '192.192.0.0/10',
      '193.0.0.0/8',
      '194.0.0.0/7',
      '196.0.0.0/6',
      '200.0.0.0/5',
      '208.0.0.0/4',
      '224.0.0.0/3',
    ]);
  });

  it('handles IPv6 beside IPv4, and an exclude of the other family changes nothing', () => {
    expect(texts(subtractPrefixes([p('::/0'), p('10.0.0.0/8')], [p('::/1'), p('fd00::/8')]))).toEqual([
      '10.0.0.0/8',
      '8000::/2',
      'c000::/3',
      'e000::/4',
      'f000::/5',
      'f800::/6',
      'fc00::/8',
      'fe00::/7',
    ]);
  });

  it('merges overlapping and adjacent includes, and an exclude covering everything leaves nothing', () => {
    expect(texts(subtractPrefixes([p('10.0.0.0/25'), p('10.0.0.128/25'), p('10.0.0.7')], []))).toEqual(['10.0.0.0/24']);
    expect(subtractPrefixes([p('10.0.0.0/24')], [p('0.0.0.0/0')])).toEqual([]);
  });
});

describe('parsePrefix', () => {
  it('reads a bare address as a host and canonicalises the text', () => {
    expect(formatPrefix(p('10.1.2.3'))).toBe('10.1.2.3/32');
    expect(formatPrefix(p('FD00:0:0::1'))).toBe('fd00::1/128');
  });

  it.each([
    ['10.0.0.1/8', /host bits set/, '10.0.0.0/8'],
    ['fd00::1/64', /host bits set/, 'fd00::/64'],
    ['10.0.0.0/33', /0 to 32/, undefined],
    ['010.0.0.0/8', /not an IPv4 or IPv6 address/, undefined],
    ['10.0.0.0/', /0 to 32/, undefined],
    ['example.com', /not an IPv4 or IPv6 address/, undefined],
  ])('rejects %s', (text, message, suggestion) => {
    let err: { message: string; suggestion?: string } | undefined;
    try {
      p(text);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.message).toMatch(message);
    expect(err?.suggestion).toBe(suggestion);
  });
});

describe('wgts allowed-ips', () => {
  const run = (...args: string[]) => captureStdio(() => main(['wgts', 'allowed-ips', ...args]));

  it('prints one AllowedIPs-ready line; lists may be split over words and repeated --exclude', async () => {
    const r = await run('0.0.0.0/0,', '::/0', '--exclude', '0.0.0.0/1', '-x', '128.0.0.0/2,::/1');
    expect(r).toEqual({ rc: 0, err: '', out: '192.0.0.0/2, 8000::/1\n' });
  });

  it('names a bad prefix and what was probably meant', async () => {
    const r = await run('0.0.0.0/0', '--exclude', '192.168.1.1/24');
    expect(r.rc).toBe(1);
    expect(r.out).toBe('');
    expect(r.err.split('\n')[0]).toBe("wgts allowed-ips: --exclude: `192.168.1.1/24' has host bits set (did you mean 192.168.1.0/24?)");
  });

  it('rejects no prefixes and unknown options with the usage', async () => {
    expect((await run()).err).toMatch(/^wgts allowed-ips: no prefixes given\nUsage: wgts allowed-ips /);
    expect((await run('10.0.0.0/8', '--bogus')).err).toMatch(/^wgts allowed-ips: Unknown option '--bogus'/);
  });
});
