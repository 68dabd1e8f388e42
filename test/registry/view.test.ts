/**
 * The precomputed view answers as records.ts `respond` does on the general path (plus the OPT
 * record the server appends for an EDNS query), record for record once decoded (the view
 * compresses owner names: an SRV answer then fits 512 bytes, and it is at most 512 bytes), for random peers and random plain
 * queries in any letter case, with or without RD and EDNS; it answers SRV/A/AAAA/TXT of every peer
 * with an endpoint itself, and leaves everything else (misses, other types, odd headers) to the
 * general path by returning null.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WgPeer } from '../../src/conf/model.js';
import { parsePrefix } from '../../src/registry/ip.js';
import { respond } from '../../src/registry/records.js';
import { buildView } from '../../src/registry/view.js';
import { decodeMessage, ednsOpt, encodeMessage, type Answer, type Packet } from '../../src/registry/wire.js';
import { instanceName, serviceName } from '../../src/registry/zone.js';

const ZONE = 'example.org';

const peerArb = fc.record({
  key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  endpoint: fc.option(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 254 })), { nil: undefined }),
  allowed: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 4 }),
});

function toPeer(p: { key: Uint8Array; endpoint: [boolean, number, number] | undefined; allowed: number[] }): WgPeer {
  return {
    publicKey: p.key,
    ...(p.endpoint && {
      endpoint: p.endpoint[0]
        ? { family: 6 as const, host: `2001:db8::${p.endpoint[2].toString(16)}`, port: p.endpoint[1] }
        : { family: 4 as const, host: `198.51.100.${p.endpoint[2]}`, port: p.endpoint[1] },
    }),
    allowedIps: p.allowed.map((b) => parsePrefix(`10.${b}.0.0/16`)!),
  };
}

function randomCase(name: string, bits: number[]): string {
  return [...name].map((c, i) => (bits[i % bits.length] ? c.toUpperCase() : c)).join('');
}

async function general(msg: Buffer, peers: WgPeer[]): Promise<Buffer | null> {
  const query = decodeMessage(msg)!;
  const r = await respond(query, ZONE, async () => peers);
  if (!r) return null;
  const withOpt: Packet = query.additionals?.some((a) => a.type === 'OPT') ? { ...r, additionals: [...(r.additionals ?? []), ednsOpt()] } : r;
  return encodeMessage(withOpt);
}

describe('precomputed view', () => {
  it('answers as the general path, and answers every peer with an endpoint itself', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(peerArb, { maxLength: 6, selector: (p) => Buffer.from(p.key).toString('hex') }),
        fc.array(fc.record({
          which: fc.nat(),
          type: fc.constantFrom('SRV', 'A', 'AAAA', 'TXT', 'PTR', 'MX') as fc.Arbitrary<'SRV' | 'A' | 'AAAA' | 'TXT' | 'PTR' | 'MX'>,
          caseBits: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 8 }),
          rd: fc.boolean(),
          edns: fc.boolean(),
          id: fc.integer({ min: 0, max: 65535 }),
        }), { minLength: 1, maxLength: 10 }),
        async (raw, queries) => {
          const peers = raw.map(toPeer);
          const view = await buildView(peers, ZONE);
          const names = [serviceName(ZONE), ...peers.map((p) => instanceName(p.publicKey, ZONE)), `x.${ZONE}`];
          for (const q of queries) {
            const name = randomCase(names[q.which % names.length]!, q.caseBits);
            const msg = encodeMessage({
              type: 'query', id: q.id, flags: q.rd ? 0x100 : 0,
              questions: [{ name, type: q.type, class: 'IN' }],
              ...(q.edns && { additionals: [ednsOpt()] }),
            });
            const fast = view.lookup(msg, () => 65535);
            const peer = peers.find((p) => instanceName(p.publicKey, ZONE) === name.toLowerCase());
            if (peer?.endpoint && q.type !== 'PTR' && q.type !== 'MX') expect(fast, `${q.type} ${name}`).not.toBeNull();
            if (fast) {
              expect(fast.length).toBeLessThanOrEqual(512);
              expect(decodeMessage(fast)).toEqual(decodeMessage((await general(msg, peers))!));
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('leaves odd queries to the general path', async () => {
    const peer: WgPeer = { publicKey: new Uint8Array(32).fill(1), endpoint: { family: 4, host: '192.0.2.1', port: 1 }, allowedIps: [] };
    const view = await buildView([peer], ZONE);
    const q = (extra: Partial<Packet>) =>
      encodeMessage({ type: 'query', id: 1, flags: 0, questions: [{ name: instanceName(peer.publicKey, ZONE), type: 'SRV', class: 'IN' }], ...extra });
    expect(view.lookup(q({}), () => 65535)).not.toBeNull();
    expect(view.lookup(q({ flags: 5 << 11 }), () => 65535)).toBeNull(); // UPDATE opcode
    expect(view.lookup(q({ type: 'response' }), () => 65535)).toBeNull();
    expect(view.lookup(Buffer.concat([q({}), Buffer.from([0])]), () => 65535)).toBeNull(); // trailing byte
    expect(view.lookup(q({ additionals: [{ ...ednsOpt(), ednsVersion: 1 } as Answer] }), () => 65535)).toBeNull();
    expect(view.lookup(q({ questions: [{ name: instanceName(peer.publicKey, ZONE), type: 'SRV', class: 'CH' }] }), () => 65535)).toBeNull();
    expect(view.lookup(q({}).subarray(0, 20), () => 65535)).toBeNull();
    // A query with an EDNS option (a cookie) needs an answer of its own.
    expect(view.lookup(q({ additionals: [ednsOpt([{ code: 10, data: Buffer.alloc(8) }])] }), () => 65535)).toBeNull();
    // Over the size limit: the stored truncated answer, TC set, the question echoed, nothing else.
    const cut = decodeMessage(view.lookup(q({}), () => 100)!)!;
    expect([cut.flag_tc, cut.answers?.length, cut.additionals?.length, cut.questions?.[0]?.type]).toEqual([true, 0, 0, 'SRV']);
  });
});
