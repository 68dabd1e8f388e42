/**
 * The TUN's link watch, read by whichever thread polls the TUN (the main thread's idle poll,
 * idle-poll.ts, or the reader worker, reader-worker.ts): a NETLINK_ROUTE socket subscribed to
 * RTMGRP_LINK, opened once by the main thread and drained whenever poll() says it is readable, reporting RTM_NEWLINK and
 * RTM_DELLINK of one interface (the ifindex the main thread stores in the ring's LINK_INDEX word)
 * with IFF_UP and IFLA_MTU decoded. Riding on the reader costs no extra isolate. The socket lives in the network
 * namespace the daemon was started in, like the UDP sockets (rtnetlink(7)).
 */
import { EAGAIN, EINTR, ENOBUFS } from '../conf/errno.js';
import {
  AF_NETLINK, IFF_UP, IFINFO_OFF_FLAGS, IFINFO_OFF_INDEX, IFINFOMSG_BYTES, NETLINK_ROUTE, NLMSG_HDRLEN,
  IFLA_MTU, RTMGRP_LINK, RTM_DELLINK, RTM_NEWLINK, SOCKADDR_NL_BYTES,
} from '../netlink/constants.js';
import { forEachAttr, getU32 } from '../netlink/attr.js';
import { MSG_DONTWAIT, SOCK_CLOEXEC, sys } from '../system/libc.js';
import { Ctrl } from './ring.js';

/**
 * What the link watch reports: 'ready' once subscribed (the caller looks up anything before that
 * itself), 'resync' when the kernel dropped notifications (ENOBUFS: look the state up again),
 * 'error' if the netlink socket cannot be made or read (the watch ends; poll instead).
 */
export type LinkEvent =
  | { kind: 'ready' }
  | { kind: 'link'; index: number; up: boolean; deleted: boolean; mtu: number | undefined }
  | { kind: 'resync' }
  | { kind: 'error'; errno: number };

const SOCK_RAW = 3;
/** Offsets inside a netlink message: nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid }. */
const NLMSG_OFF_TYPE = 4;
/** sockaddr_nl's pid: the sender's port id (0 is the kernel). */
const SOCKADDR_NL_OFF_PID = 4;
const SOCKADDR_NL_OFF_GROUPS = 8;

export interface LinkWatch {
  readonly fd: number;
  /** Drains the socket, reporting events; false once it failed (then it is read no more). */
  read(): boolean;
}

/**
 * Opens the watch's socket (it stays open, with the same subscription, whichever thread reads it);
 * reports 'ready' or 'error' through `report` (undefined on error).
 */
export function openLinkSocket(report: (ev: LinkEvent) => void): number | undefined {
  const fd = sys.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  const sa = new Uint8Array(SOCKADDR_NL_BYTES);
  const sv = new DataView(sa.buffer);
  sv.setUint16(0, AF_NETLINK, true);
  sv.setUint32(SOCKADDR_NL_OFF_GROUPS, RTMGRP_LINK, true);
  if (fd < 0 || sys.bind(fd, sa, sa.length) < 0) {
    report({ kind: 'error', errno: sys.errno() });
    if (fd >= 0) sys.close(fd);
    return undefined;
  }
  report({ kind: 'ready' });
  return fd;
}

/** A reader of the watch's socket `fd` (closing it is its opener's business). */
export function linkWatch(fd: number, ctrl: Int32Array, report: (ev: LinkEvent) => void): LinkWatch {
  const buf = new Uint8Array(64 << 10);
  const from = new Uint8Array(SOCKADDR_NL_BYTES);
  const fv = new DataView(from.buffer);
  const flen = new Uint32Array(1);
  const read = (): boolean => {
    for (;;) {
      flen[0] = from.length;
      const n = sys.recvfrom(fd, buf, buf.length, MSG_DONTWAIT, from, flen);
      if (n < 0) {
        const e = sys.errno();
        if (e === EAGAIN) return true;
        if (e === EINTR) continue;
        if (e === ENOBUFS) {
          report({ kind: 'resync' });
          continue;
        }
        report({ kind: 'error', errno: e });
        return false;
      }
      if (fv.getUint32(SOCKADDR_NL_OFF_PID, true) !== 0) continue; // only the kernel speaks for interfaces
      linkEvents(buf.subarray(0, n), Atomics.load(ctrl, Ctrl.LINK_INDEX), report);
    }
  };
  return { fd, read };
}

/** Reports the RTM_NEWLINK and RTM_DELLINK messages of interface `index` (0: none) in one datagram. */
export function linkEvents(buf: Uint8Array, index: number, report: (ev: LinkEvent) => void): void {
  const bv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = buf.length;
  const min = NLMSG_HDRLEN + IFINFOMSG_BYTES;
  for (let off = 0; off + min <= n; ) {
    const len = bv.getUint32(off, true);
    if (len < NLMSG_HDRLEN || off + len > n) break;
    const type = bv.getUint16(off + NLMSG_OFF_TYPE, true);
    const ifi = off + NLMSG_HDRLEN;
    if ((type === RTM_NEWLINK || type === RTM_DELLINK) && len >= min && index !== 0 && bv.getInt32(ifi + IFINFO_OFF_INDEX, true) === index) {
      let mtu: number | undefined;
      forEachAttr(buf.subarray(ifi + IFINFOMSG_BYTES, off + len), (t, p) => {
        if (t === IFLA_MTU) mtu = getU32(p);
      });
      report({ kind: 'link', index, up: (bv.getUint32(ifi + IFINFO_OFF_FLAGS, true) & IFF_UP) !== 0, deleted: type === RTM_DELLINK, mtu });
    }
    off += (len + 3) & ~3;
  }
}
