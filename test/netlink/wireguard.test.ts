// The wireguard genl codec against real bytes: fixtures captured from Debian's `wg` talking to
// Linux 6.1 on an nlmon device (scripts/vm/capture-netlink-fixtures.mjs). wgts must send exactly
// the messages wg sends — same split points, same attributes in the same order — and read the
// kernel's split dump back into what `wg showconf` printed.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/conf/parse.js';
import { formatConfig } from '../../src/conf/write.js';
import type { WgDevice, WgPeer } from '../../src/conf/model.js';
import { forEachAttr, AttrWriter } from '../../src/netlink/attr.js';
import { GENL_HDRLEN } from '../../src/netlink/genl.js';
import { NLMSG_HDRLEN } from '../../src/netlink/socket.js';
import {
  WGDEVICE_A_PEERS,
  WGPEER_A_ALLOWEDIPS,
  WGPEER_A_PUBLIC_KEY,
  decodeDevice,
  decodeSockaddr,
  encodeSetMessages,
  encodeSockaddr,
  setMessageFactory,
  usesAllowedIpRemoval,
} from '../../src/netlink/wireguard.js';
import { SYSTEM_IO } from '../../src/system/conf-io.js';

interface Fixture {
  config: string;
  family: number;
  requests: string[];
  replies: string[];
  stdout: string;
}

const fixture = (name: string): Fixture =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as Fixture;

/** Message hex with the sequence number (bytes 8-11, time-based in wg) zeroed. */
function normalized(hexMsg: string): string {
  return hexMsg.slice(0, 16) + '00000000' + hexMsg.slice(24);
}

function encodeAll(device: WgDevice, family: number, limit?: number): string[] {
  return [...encodeSetMessages(device, setMessageFactory(family, limit))].map((w) => {
    w.setU32(0, w.len); // request() fills length and sequence
    return Buffer.from(w.bytes()).toString('hex');
  });
}

async function parse(text: string): Promise<WgDevice> {
  return parseConfig(text, { file: 'fixture.conf', ...SYSTEM_IO });
}

/** What wg setconf does on top of the parsed file (config.c, append = false). */
function asSetconf(device: WgDevice): WgDevice {
  device.replacePeers = true;
  device.privateKey ??= new Uint8Array(32);
  device.listenPort ??= 0;
  device.fwmark ??= 0;
  return device;
}

describe('SET messages are byte-identical to wg', () => {
  test('setconf with 30 peers, one with 300 IPv4 and one with 150 IPv6 prefixes: 5 messages, same splits', async () => {
    const f = fixture('setconf-split');
    const device = asSetconf(await parse(f.config));
    device.name = 'wgk0';
    const ours = encodeAll(device, f.family);
    expect(ours.length).toBe(f.requests.length);
    ours.forEach((m, i) => expect(normalized(m), `message ${i}`).toBe(normalized(f.requests[i]!)));
  });

  test('addconf: no replace-peers, device attributes only as given', async () => {
    const f = fixture('addconf');
    const device = await parse(f.config);
    device.name = 'wgk0';
    expect(encodeAll(device, f.family).map(normalized)).toEqual(f.requests.map(normalized));
  });

  test('set with remove, link-local endpoint with scope, keepalive off, PSK from an empty file', () => {
    const f = fixture('set-args');
    const device: WgDevice = {
      name: 'wgk0',
      listenPort: 1234,
      peers: [
        { publicKey: fixtureKey('peer-0'), remove: true, allowedIps: [] },
        {
          publicKey: fixtureKey('peer-1'),
          endpoint: { family: 6, host: 'fe80::1%2', port: 7 },
          persistentKeepalive: 0,
          presharedKey: new Uint8Array(32),
          replaceAllowedIps: true,
          allowedIps: [
            { family: 4, addr: new Uint8Array([10, 1, 2, 3]), cidr: 32 },
            { family: 6, addr: Uint8Array.from([0xfd, 0, ...new Array(13).fill(0), 1]), cidr: 128 },
          ],
        },
      ],
    };
    expect(encodeAll(device, f.family).map(normalized)).toEqual(f.requests.map(normalized));
  });

  test('every nest carries NLA_F_NESTED', async () => {
    const f = fixture('setconf-split');
    const device = asSetconf(await parse(f.config));
    device.name = 'wgk0';
    for (const w of encodeSetMessages(device, setMessageFactory(f.family))) {
      const view = new DataView(w.bytes().buffer);
      const checkNest = (off: number, end: number, depth: number): void => {
        // depth 0: device attrs; PEERS (8) nested; depth 1 peers (type 0); depth 2 peer attrs; ALLOWEDIPS (9)...
        while (off < end) {
          const len = view.getUint16(off, true);
          const type = view.getUint16(off + 2, true);
          const nested =
            (depth === 0 && (type & 0x3fff) === WGDEVICE_A_PEERS) ||
            depth === 1 ||
            (depth === 2 && (type & 0x3fff) === WGPEER_A_ALLOWEDIPS) ||
            depth === 3;
          if (nested) {
            expect(type & 0x8000).toBe(0x8000);
            checkNest(off + 4, off + len, depth + 1);
          }
          off += (len + 3) & ~3;
        }
      };
      checkNest(NLMSG_HDRLEN + GENL_HDRLEN, w.len, 0);
    }
  });

  test('a smaller limit still splits consistently: every prefix is sent once, flags only on first fragments', async () => {
    const f = fixture('setconf-split');
    const device = asSetconf(await parse(f.config));
    device.name = 'wgk0';
    const msgs = [...encodeSetMessages(device, setMessageFactory(f.family, 600))];
    expect(msgs.length).toBeGreaterThan(20);
    const back = decodeDevice('wgk0', msgs.map((w) => w.bytes().subarray(NLMSG_HDRLEN + GENL_HDRLEN)));
    expect(back.peers.map((p) => p.allowedIps.length)).toEqual(device.peers.map((p) => p.allowedIps.length));
    // REPLACE_PEERS is in the first message only.
    const flagsAttr = (w: AttrWriter) => {
      let found = false;
      forEachAttr(w.bytes().subarray(NLMSG_HDRLEN + GENL_HDRLEN), (t) => {
        if (t === 5) found = true;
      });
      return found;
    };
    expect(msgs.map(flagsAttr)).toEqual(msgs.map((_, i) => i === 0));
  });

  test('usesAllowedIpRemoval', () => {
    const peer: WgPeer = { publicKey: new Uint8Array(32), allowedIps: [{ family: 4, addr: new Uint8Array(4), cidr: 0 }] };
    expect(usesAllowedIpRemoval({ name: 'x', peers: [peer] })).toBe(false);
    peer.allowedIps[0]!.remove = true;
    expect(usesAllowedIpRemoval({ name: 'x', peers: [peer] })).toBe(true);
  });
});

/** The capture script's deterministic keys. */
function fixtureKey(label: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`wgts-fixture-${label}`).digest());
}

describe('GET dump decoding', () => {
  test("a 6-message dump with split peers reads back to exactly wg showconf's text", () => {
    const f = fixture('showconf-split');
    const payloads = f.replies.map((h) => new Uint8Array(Buffer.from(h, 'hex')).subarray(NLMSG_HDRLEN + GENL_HDRLEN));
    // The dump really is split inside a peer: some message starts with a peer that repeats the previous key.
    let continued = 0;
    let lastKey = '';
    for (const p of payloads) {
      forEachAttr(p, (type, peers) => {
        if (type !== WGDEVICE_A_PEERS) return;
        forEachAttr(peers, (_t, peer) => {
          forEachAttr(peer, (pt, v) => {
            if (pt !== WGPEER_A_PUBLIC_KEY) return;
            const k = Buffer.from(v).toString('hex');
            if (k === lastKey) continued++;
            lastKey = k;
          });
        });
      });
    }
    expect(continued).toBeGreaterThan(0);
    const device = decodeDevice('wgk0', payloads);
    expect(device.peers.length).toBe(30);
    expect(device.ifindex).toBe(2);
    expect(formatConfig(device)).toBe(f.stdout);
  });

  test('a peer without a public key fails the dump (EPROTO), like wg', () => {
    const w = new AttrWriter();
    const peers = w.nestStart(WGDEVICE_A_PEERS);
    const p = w.nestStart(0);
    w.putU16(5, 25);
    w.nestEnd(p);
    w.nestEnd(peers);
    expect(() => decodeDevice('x', [w.bytes()])).toThrow(expect.objectContaining({ errno: 71 }));
  });

  test('padding attributes (type 0) are skipped', () => {
    const w = new AttrWriter();
    const peers = w.nestStart(WGDEVICE_A_PEERS);
    const p = w.nestStart(0);
    w.put(WGPEER_A_PUBLIC_KEY, new Uint8Array(32).fill(9));
    w.put(0, new Uint8Array(0));
    w.putU64(7, 1234n);
    w.nestEnd(p);
    w.nestEnd(peers);
    const d = decodeDevice('x', [w.bytes()]);
    expect(d.peers[0]!.rxBytes).toBe(1234n);
  });
});

describe('sockaddr', () => {
  test('IPv4 and IPv6 round trip; port in network order, family in host order', () => {
    const v4 = encodeSockaddr({ family: 4, host: '192.0.2.1', port: 51820 });
    expect(Buffer.from(v4).toString('hex')).toBe('0200ca6cc000020100000000' + '00000000');
    expect(decodeSockaddr(v4)).toEqual({ family: 4, host: '192.0.2.1', port: 51820 });
    const v6 = encodeSockaddr({ family: 6, host: '2001:db8::1', port: 443 });
    expect(v6.length).toBe(28);
    expect(decodeSockaddr(v6)).toEqual({ family: 6, host: '2001:db8::1', port: 443 });
    const scoped = encodeSockaddr({ family: 6, host: 'fe80::1%4242', port: 1 });
    expect(decodeSockaddr(scoped)).toEqual({ family: 6, host: 'fe80::1%4242', port: 1 });
  });

  test('other sizes are ignored, as the kernel and wg ignore them', () => {
    expect(decodeSockaddr(new Uint8Array(12))).toBeUndefined();
    expect(decodeSockaddr(new Uint8Array([2, 0, 0, 0]))).toBeUndefined();
  });
});
