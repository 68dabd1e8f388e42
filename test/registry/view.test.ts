/**
 * The precomputed view sends the bytes the general path (answer.ts `answer`) sends, for random peers
 * and random plain queries in any letter case, with or without RD and EDNS, over UDP or TCP, with no
 * cookie, a client cookie only, a valid server cookie, a forged, stale or odd-sized one (the same
 * cookie and size gate: truncated answers where the general path truncates); it answers SRV/A/AAAA/
 * TXT of every peer with an endpoint itself, and leaves everything else (misses, other types, odd
 * headers, other EDNS options, malformed cookies) to the general path by returning null.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WgPeer } from '../../src/conf/model.js';
import { parsePrefix } from '../../src/registry/ip.js';
import { answer, answerStored, type AnswerContext, type Asker } from '../../src/registry/answer.js';
import { cookieSigner } from '../../src/registry/dns-cookie.js';
import { buildView, type Gate } from '../../src/registry/view.js';
import { RCODE, decodeMessage, ednsOpt, encodeMessage, rcodeOf, type Answer, type Packet } from '../../src/registry/wire.js';
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

const NOW_S = 1_800_000_000;
const SECRET = new Uint8Array(32).fill(7);

function contextFor(peers: WgPeer[]): AnswerContext {
  return { zone: ZONE, getPeers: async () => peers, cookies: cookieSigner(SECRET), nowS: () => NOW_S, onDeviceError: () => {} };
}

/** The COOKIE option a query carries, by kind; `valid` and `stale` are made with the server's secret for `addr`. */
function cookieOf(kind: string, client: Uint8Array, addr: Uint8Array, other: Uint8Array): Buffer | null {
  const sign = cookieSigner(SECRET);
  switch (kind) {
    case 'none':
      return null;
    case 'client':
      return Buffer.from(client);
    case 'valid':
      return Buffer.concat([client, sign(client, addr, NOW_S - 100)]);
    case 'stale':
      return Buffer.concat([client, sign(client, addr, NOW_S - 4000)]);
    case 'forged':
      return Buffer.concat([client, Buffer.from([1, 0, 0, 0]), other.subarray(0, 12)]);
    case 'long':
      return Buffer.concat([client, other]); // 8 + 24 bytes: well-formed, not ours
    default:
      return Buffer.from(other.subarray(0, 11)); // malformed: FORMERR
  }
}

describe('precomputed view', () => {
  it('sends the bytes of the general path, and answers every peer with an endpoint itself', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(peerArb, { maxLength: 6, selector: (p) => Buffer.from(p.key).toString('hex') }),
        fc.array(fc.record({
          which: fc.nat(),
          type: fc.constantFrom('SRV', 'A', 'AAAA', 'TXT', 'PTR', 'MX') as fc.Arbitrary<'SRV' | 'A' | 'AAAA' | 'TXT' | 'PTR' | 'MX'>,
          caseBits: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 8 }),
          rd: fc.boolean(),
          edns: fc.option(fc.constantFrom(0, 512, 800, 1232, 4096), { nil: undefined }),
          cookie: fc.constantFrom('none', 'client', 'valid', 'stale', 'forged', 'long', 'malformed'),
          client: fc.uint8Array({ minLength: 8, maxLength: 8 }),
          other: fc.uint8Array({ minLength: 24, maxLength: 24 }),
          addr: fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })),
          transport: fc.constantFrom('udp', 'udp', 'tcp') as fc.Arbitrary<'udp' | 'tcp'>,
          id: fc.integer({ min: 0, max: 65535 }),
        }), { minLength: 1, maxLength: 10 }),
        async (raw, queries) => {
          const peers = raw.map(toPeer);
          const view = await buildView(peers, ZONE);
          const ctx = contextFor(peers);
          const names = [serviceName(ZONE), ...peers.map((p) => instanceName(p.publicKey, ZONE)), `x.${ZONE}`];
          for (const q of queries) {
            const name = randomCase(names[q.which % names.length]!, q.caseBits);
            const cookie = q.edns === undefined ? null : cookieOf(q.cookie, q.client, q.addr, q.other);
            const msg = encodeMessage({
              type: 'query', id: q.id, flags: q.rd ? 0x100 : 0,
              questions: [{ name, type: q.type, class: 'IN' }],
              ...(q.edns !== undefined && {
                additionals: [{ ...ednsOpt(cookie ? [{ code: 10, data: cookie }] : []), udpPayloadSize: q.edns } as Answer],
              }),
            });
            const asker: Asker = { transport: q.transport, addr: q.addr };
            const fast = answerStored(view, msg, asker, ctx);
            const slow = await answer(msg, asker, ctx);
            const what = `${q.type} ${name} ${q.transport} edns ${q.edns} cookie ${q.edns === undefined ? '-' : q.cookie}`;
            const peer = peers.find((p) => instanceName(p.publicKey, ZONE) === name.toLowerCase());
            const malformed = q.edns !== undefined && q.cookie === 'malformed';
            if (peer?.endpoint && q.type !== 'PTR' && q.type !== 'MX' && !malformed) expect(fast, what).not.toBeNull();
            if (malformed) expect([fast, rcodeOf(decodeMessage(slow!)!)], what).toEqual([null, RCODE.FORMERR]);
            if (fast) expect(fast.toString('hex'), what).toBe(slow!.toString('hex'));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('truncates as the general path: a cookie-less SRV query over UDP gets the stored truncated form, a valid cookie the whole answer', async () => {
    const peer: WgPeer = {
      publicKey: new Uint8Array(32).fill(2),
      endpoint: { family: 4, host: '192.0.2.1', port: 51820 },
      allowedIps: [parsePrefix('10.0.0.0/16')!, parsePrefix('10.1.0.0/16')!],
    };
    const view = await buildView([peer], ZONE);
    const ctx = contextFor([peer]);
    const addr = new Uint8Array([127, 0, 0, 1]);
    const client = new Uint8Array(8).fill(3);
    const query = (cookie: Buffer | null) =>
      encodeMessage({
        type: 'query', id: 9, flags: 0,
        questions: [{ name: instanceName(peer.publicKey, ZONE), type: 'SRV', class: 'IN' }],
        additionals: [ednsOpt(cookie ? [{ code: 10, data: cookie }] : [])],
      });
    for (const [cookie, tc] of [[null, true], [cookieOf('client', client, addr, new Uint8Array(24)), true], [cookieOf('valid', client, addr, new Uint8Array(24)), false]] as const) {
      const msg = query(cookie);
      const fast = answerStored(view, msg, { transport: 'udp', addr }, ctx)!;
      expect(fast.toString('hex')).toBe((await answer(msg, { transport: 'udp', addr }, ctx))!.toString('hex'));
      const decoded = decodeMessage(fast)!;
      expect([decoded.flag_tc, decoded.answers?.length ? 'answer' : 'none']).toEqual([tc, tc ? 'none' : 'answer']);
      if (tc) expect(fast.length).toBeLessThanOrEqual(3 * msg.length);
      // Our cookie for the client's comes back, whole answer or truncated.
      const opt = decoded.additionals?.find((a) => a.type === 'OPT') as { options?: { code: number; data: Buffer }[] } | undefined;
      if (cookie) expect(opt?.options?.[0]?.data.subarray(0, 8)).toEqual(Buffer.from(client));
    }
  });

  it('leaves odd queries to the general path', async () => {
    const peer: WgPeer = { publicKey: new Uint8Array(32).fill(1), endpoint: { family: 4, host: '192.0.2.1', port: 1 }, allowedIps: [] };
    const view = await buildView([peer], ZONE);
    const open: Gate = () => ({ limit: 65535, cookie: null });
    const q = (extra: Partial<Packet>) =>
      encodeMessage({ type: 'query', id: 1, flags: 0, questions: [{ name: instanceName(peer.publicKey, ZONE), type: 'SRV', class: 'IN' }], ...extra });
    expect(view.lookup(q({}), open)).not.toBeNull();
    expect(view.lookup(q({ flags: 5 << 11 }), open)).toBeNull(); // UPDATE opcode
    expect(view.lookup(q({ type: 'response' }), open)).toBeNull();
    expect(view.lookup(Buffer.concat([q({}), Buffer.from([0])]), open)).toBeNull(); // trailing byte
    expect(view.lookup(q({ additionals: [{ ...ednsOpt(), ednsVersion: 1 } as Answer] }), open)).toBeNull();
    expect(view.lookup(q({ questions: [{ name: instanceName(peer.publicKey, ZONE), type: 'SRV', class: 'CH' }] }), open)).toBeNull();
    expect(view.lookup(q({}).subarray(0, 20), open)).toBeNull();
    // A COOKIE option is for the gate to judge; any other option (here padding, RFC 7830), or a
    // second one, is the general path's.
    const cookie = ednsOpt([{ code: 10, data: Buffer.alloc(8) }]);
    expect(view.lookup(q({ additionals: [cookie] }), open)).not.toBeNull();
    expect(view.lookup(q({ additionals: [cookie] }), () => null)).toBeNull();
    expect(view.lookup(q({ additionals: [ednsOpt([{ code: 12, data: Buffer.alloc(8) }])] }), open)).toBeNull();
    expect(view.lookup(q({ additionals: [ednsOpt([{ code: 10, data: Buffer.alloc(8) }, { code: 10, data: Buffer.alloc(8) }])] }), open)).toBeNull();
    // An option running past the OPT record, or the record past the message.
    const withCookie = q({ additionals: [cookie] });
    expect(view.lookup(withCookie.subarray(0, withCookie.length - 1), open)).toBeNull();
    const longer = Buffer.from(withCookie);
    longer.writeUInt16BE(longer.readUInt16BE(longer.length - 10) + 1, longer.length - 10); // the option's length
    expect(view.lookup(longer, open)).toBeNull();
    // Over the size limit: the stored truncated answer, TC set, the question echoed, nothing else.
    const cut = decodeMessage(view.lookup(q({}), () => ({ limit: 100, cookie: null }))!)!;
    expect([cut.flag_tc, cut.answers?.length, cut.additionals?.length, cut.questions?.[0]?.type]).toEqual([true, 0, 0, 'SRV']);
  });
});
