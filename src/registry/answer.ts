/**
 * What the registry sends for one query, over either transport: the general path (decode, records.ts
 * `respond`, encode) and the precomputed one (view.ts), both through one gate:
 * - The client's DNS cookie (RFC 7873, dns-cookie.ts) is checked; a malformed one is answered
 *   FORMERR (RFC 7873 §5.2.2), and an answer with an OPT record carries our cookie for the client's
 *   (RFC 7873 §5.2.3-4).
 * - UDP: an answer larger than the client allows (512 bytes, or its EDNS size up to 1232) goes out
 *   truncated (TC), keeping the OPT record (RFC 6891 §7). A client that has not shown a valid
 *   cookie may be a spoofed source: its answers are at most AMPLIFICATION times the size of its
 *   query, larger ones are truncated and move to TCP (man/wgts-registry.8).
 * The precomputed path sends the same bytes as the general one (test/registry/view.test.ts).
 */
import type { WgPeer } from '../conf/model.js';
import { reply, respond } from './records.js';
import type { View } from './view.js';
import { COOKIE_OPTION, checkCookie, replyCookie, type CookieCheck, type CookieSigner } from './dns-cookie.js';
import { parseAddress } from './ip.js';
import { EDNS_SIZE, FLAG, RCODE, compressOwners, decodeMessage, ednsOpt, ednsOption, ednsSizeOf, encodeMessage, type Packet } from './wire.js';

/** A UDP answer to a client without a valid cookie is at most this many times its query's size. */
export const AMPLIFICATION = 3;

export interface Asker {
  transport: 'udp' | 'tcp';
  /** The client's address bytes (for its cookie; parseAddress of the socket's text). */
  addr: Uint8Array;
}

export interface AnswerContext {
  zone: string;
  getPeers: () => Promise<WgPeer[]>;
  cookies: CookieSigner;
  /** The clock for cookies, in seconds. */
  nowS: () => number;
  onDeviceError: (err: unknown) => void;
}

/** The client's address as cookie input (empty if the socket gave none). */
export function askerAddress(text: string | undefined): Uint8Array {
  return parseAddress(text ?? '')?.addr ?? new Uint8Array(0);
}

/** The largest answer allowed for a query of `querySize` bytes. */
export function sizeLimit(transport: 'udp' | 'tcp', querySize: number, edns: number | null, validCookie: boolean): number {
  if (transport === 'tcp') return 65535;
  const buffer = Math.min(Math.max(512, edns ?? 512), EDNS_SIZE);
  return validCookie ? buffer : Math.min(buffer, AMPLIFICATION * querySize);
}

/** The gate's verdict for one query: its cookie, the COOKIE option data to answer with, the size limit. */
interface Verdict {
  cookie: CookieCheck;
  reply: Buffer | null;
  limit: number;
}

function verdict(querySize: number, ednsSize: number | null, cookieData: Uint8Array | null, asker: Asker, ctx: AnswerContext): Verdict {
  const nowS = ctx.nowS();
  const cookie = checkCookie(cookieData, ctx.cookies, asker.addr, nowS);
  const valid = cookie.kind === 'cookie' && cookie.valid;
  return {
    cookie,
    reply: cookie.kind === 'cookie' ? replyCookie(cookie.client, ctx.cookies, asker.addr, nowS) : null,
    limit: sizeLimit(asker.transport, querySize, ednsSize, valid),
  };
}

/** Encodes the general path's answer to one query, or null if there is none to send. */
export async function answer(msg: Buffer, asker: Asker, ctx: AnswerContext): Promise<Buffer | null> {
  const query = decodeMessage(msg);
  if (!query) return null;
  const ednsSize = ednsSizeOf(query);
  const gate = verdict(msg.length, ednsSize, ednsOption(query, COOKIE_OPTION), asker, ctx);
  let response: Packet | null;
  if (gate.cookie.kind === 'malformed') {
    response = query.type === 'response' ? null : reply(query, RCODE.FORMERR, false);
  } else {
    try {
      response = await respond(query, ctx.zone, ctx.getPeers);
    } catch (err) {
      ctx.onDeviceError(err);
      response = reply(query, RCODE.SERVFAIL, false);
    }
  }
  if (!response) return null;
  const opt = ednsSize === null ? [] : [ednsOpt(gate.reply ? [{ code: COOKIE_OPTION, data: gate.reply }] : [])];
  response.additionals = [...(response.additionals ?? []), ...opt];
  // A record over 65535 bytes (a peer with thousands of allowed IPs) cannot even be encoded.
  let out: Buffer | null = null;
  try {
    out = compressOwners(encodeMessage(response));
  } catch {
    out = null;
  }
  if (out && out.length <= gate.limit) return out;
  if (asker.transport === 'tcp' || !out) {
    // Cannot be framed: say so rather than send a cut record.
    return encodeMessage({ ...reply(query, RCODE.SERVFAIL, false), additionals: opt });
  }
  // Header, question and OPT only, TC set (RFC 2181 §9, RFC 6891 §7): the client asks again over TCP.
  return encodeMessage({ ...response, flags: (response.flags ?? 0) | FLAG.TC, answers: [], authorities: [], additionals: opt });
}

/**
 * The stored answer to `msg` from `view`, through the same gate, or null for the general path (no
 * stored answer, or a malformed cookie, whose FORMERR the general path sends).
 */
export function answerStored(view: View, msg: Buffer, asker: Asker, ctx: AnswerContext): Buffer | null {
  return view.lookup(msg, (ednsSize, cookieData) => {
    const gate = verdict(msg.length, ednsSize, cookieData, asker, ctx);
    return gate.cookie.kind === 'malformed' ? null : { limit: gate.limit, cookie: gate.reply };
  });
}
