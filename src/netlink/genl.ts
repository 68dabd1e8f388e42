/**
 * Generic netlink: the genlmsghdr after nlmsghdr, family lookup through the controller
 * (GENL_ID_CTRL, CTRL_CMD_GETFAMILY) and requests to a resolved family. The role of wg's mnlg.c.
 */
import { WgError } from '../conf/backend.js';
import { ENOENT, EPROTONOSUPPORT } from '../conf/errno.js';
import { AttrWriter, attrTable, getU16 } from './attr.js';
import {
  NETLINK_GENERIC,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_HDRLEN,
  NetlinkSocket,
  newMessage,
  type NlReply,
} from './socket.js';

export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;


/** Starts a generic netlink message: nlmsghdr + genlmsghdr {cmd, version, 0}. */
export function newGenlMessage(family: number, cmd: number, version: number, flags: number, limit = Infinity): AttrWriter {
  const w = newMessage(family, flags, GENL_HDRLEN, limit);
  w.setU8(NLMSG_HDRLEN, cmd);
  w.setU8(NLMSG_HDRLEN + 1, version);
  return w;
}

/** The attributes of a generic netlink payload (after the 4-byte genlmsghdr). */
export function genlAttrs(payload: Uint8Array): Uint8Array {
  return payload.subarray(GENL_HDRLEN);
}

/** A socket bound to one resolved generic netlink family. */
export class GenlSocket {
  readonly sock: NetlinkSocket;
  readonly family: number;
  readonly version: number;

  private constructor(sock: NetlinkSocket, family: number, version: number) {
    this.sock = sock;
    this.family = family;
    this.version = version;
  }

  /**
   * Opens a NETLINK_GENERIC socket and resolves `name`. An unknown family (ENOENT from the
   * controller) becomes EPROTONOSUPPORT, as wg reports it ("Protocol not supported"). The lookup
   * itself may make the kernel load the module (genl family alias). `opts`: NetlinkSocket.open's.
   */
  static async open(name: string, version: number, opts: { recvBuffer?: number } = {}): Promise<GenlSocket> {
    const sock = NetlinkSocket.open(NETLINK_GENERIC, opts);
    try {
      const family = await resolveFamily(sock, name);
      return new GenlSocket(sock, family, version);
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  message(cmd: number, flags: number, limit = Infinity): AttrWriter {
    return newGenlMessage(this.family, cmd, this.version, flags, limit);
  }

  request(msg: AttrWriter, opts: { dump?: boolean } = {}): Promise<NlReply> {
    return this.sock.request(msg, opts);
  }

  /** Several acknowledged requests in one datagram: NetlinkSocket.requestBatch. */
  requestBatch(msgs: readonly AttrWriter[]): Promise<NlReply> {
    return this.sock.requestBatch(msgs);
  }

  close(): void {
    this.sock.close();
  }
}

/** CTRL_CMD_GETFAMILY by name; returns the family id. */
export async function resolveFamily(sock: NetlinkSocket, name: string): Promise<number> {
  const msg = newGenlMessage(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_REQUEST | NLM_F_ACK);
  msg.putStrz(CTRL_ATTR_FAMILY_NAME, name);
  let reply: NlReply;
  try {
    reply = await sock.request(msg);
  } catch (e) {
    if (e instanceof WgError && e.errno === ENOENT) {
      throw new WgError(EPROTONOSUPPORT, `generic netlink family ${name} not found`, { cause: e });
    }
    throw e;
  }
  for (const m of reply.messages) {
    if (m.type !== GENL_ID_CTRL) continue;
    const id = getU16(attrTable(genlAttrs(m.payload)).get(CTRL_ATTR_FAMILY_ID));
    if (id !== undefined) return id;
  }
  throw new WgError(EPROTONOSUPPORT, `generic netlink family ${name}: no id in the reply`);
}
