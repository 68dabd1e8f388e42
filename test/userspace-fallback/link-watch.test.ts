/**
 * The link watch's decoding (link-watch.ts, linkEvents): RTM_NEWLINK / RTM_DELLINK of the watched
 * interface with IFF_UP and IFLA_MTU, other interfaces and message types ignored. The messages are
 * built here the way the kernel lays them out (nlmsghdr, ifinfomsg, attributes; rtnetlink(7)).
 */
import { describe, expect, it } from 'vitest';
import { AttrWriter } from '../../src/netlink/attr.js';
import { IFF_UP, IFINFO_OFF_FLAGS, IFINFO_OFF_INDEX, IFINFOMSG_BYTES, NLMSG_HDRLEN, RTM_DELLINK, RTM_NEWLINK } from '../../src/netlink/constants.js';
import { IFLA_IFNAME } from '../../src/netlink/rtnl.js';
import { IFLA_MTU } from '../../src/netlink/constants.js';
import { linkEvents, type LinkEvent } from '../../src/userspace-fallback/link-watch.js';

function linkMessage(type: number, index: number, flags: number, mtu?: number): Uint8Array {
  const w = new AttrWriter();
  const hdr = w.reserve(NLMSG_HDRLEN);
  const ifi = w.reserve(IFINFOMSG_BYTES);
  w.putStrz(IFLA_IFNAME, 'wg0');
  if (mtu !== undefined) w.putU32(IFLA_MTU, mtu);
  const out = w.bytes().slice();
  const dv = new DataView(out.buffer);
  dv.setUint32(hdr, out.length, true);
  dv.setUint16(hdr + 4, type, true);
  dv.setInt32(ifi + IFINFO_OFF_INDEX, index, true);
  dv.setUint32(ifi + IFINFO_OFF_FLAGS, flags, true);
  return out;
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

describe('link watch decoding', () => {
  it("reports the watched interface's state and MTU, and nothing of others", () => {
    const events: LinkEvent[] = [];
    linkEvents(concat(
      linkMessage(RTM_NEWLINK, 7, IFF_UP, 1280),
      linkMessage(RTM_NEWLINK, 8, IFF_UP, 9000), // another interface
      linkMessage(RTM_NEWLINK, 7, 0, 1420),
      linkMessage(RTM_DELLINK, 7, 0),
    ), 7, (ev) => events.push(ev));
    expect(events).toEqual([
      { kind: 'link', index: 7, up: true, deleted: false, mtu: 1280 },
      { kind: 'link', index: 7, up: false, deleted: false, mtu: 1420 },
      { kind: 'link', index: 7, up: false, deleted: true, mtu: undefined },
    ]);
  });

  it('with no interface chosen (index 0) reports nothing; a truncated message ends the datagram', () => {
    const events: LinkEvent[] = [];
    linkEvents(linkMessage(RTM_NEWLINK, 7, IFF_UP, 1280), 0, (ev) => events.push(ev));
    const msg = linkMessage(RTM_NEWLINK, 7, IFF_UP, 1280);
    linkEvents(msg.subarray(0, msg.length - 4), 7, (ev) => events.push(ev));
    expect(events).toEqual([]);
  });
});
