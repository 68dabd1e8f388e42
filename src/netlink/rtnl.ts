/**
 * rtnetlink (NETLINK_ROUTE) for what `wgts quick` and the kernel backend need, without `ip`:
 * WireGuard links (create, delete, MTU, up/down, list), addresses, routes in any table, and policy
 * rules with fwmark / suppress_prefixlength / priority. Each call opens a socket, sends one request
 * with NLM_F_ACK, and maps a kernel error to WgError(errno) — the same errno `ip` would print.
 * Requests are built the way iproute2 builds them (ip-link, ip-address, ip-route, ip-rule), so the
 * resulting kernel state is the same as the `ip` command's.
 */
import { WgError } from '../conf/backend.js';
import { EINVAL, ENETUNREACH, ENODEV } from '../conf/errno.js';
import { AF_INET, AF_INET6, AF_UNSPEC } from '../conf/sockaddr.js';
import { formatIP, parseIP } from '../conf/ip.js';
import type { Family } from '../conf/model.js';
import { AttrWriter, attrTable, forEachAttr, getStr, getU32 } from './attr.js';
import { IFF_UP, IFLA_MTU, RTM_DELLINK, RTM_NEWLINK } from './constants.js';
import {
  NETLINK_ROUTE,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  NLMSG_HDRLEN,
  newMessage,
  requestOnce,
  type NlReply,
} from './socket.js';

export { RTM_NEWLINK, RTM_DELLINK, IFF_UP } from './constants.js';
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;

const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const RTMSG_LEN = 12;

export const IFLA_IFNAME = 3;
export const IFLA_LINKINFO = 18;
export const IFLA_INFO_KIND = 1;
export const IFLA_MIN_MTU = 50;
export const IFLA_MAX_MTU = 51;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;

export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_PRIORITY = 6;
export const RTA_METRICS = 8;
export const RTA_TABLE = 15;
export const RTAX_LOCK = 1;
export const RTAX_MTU = 2;

export const FRA_PRIORITY = 6;
export const FRA_FWMARK = 10;
export const FRA_SUPPRESS_PREFIXLEN = 14;
export const FRA_TABLE = 15;
export const FRA_FWMASK = 16;
export const FR_ACT_TO_TBL = 1;
export const FIB_RULE_INVERT = 0x2;

export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_NOWHERE = 255;
export const RTN_UNICAST = 1;
export const RTN_UNREACHABLE = 7;


function afOf(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6;
}

async function rtRequest(msg: AttrWriter, dump = false): Promise<NlReply> {
  return requestOnce(NETLINK_ROUTE, msg, { dump });
}

// ---------------------------------------------------------------------------------------------
// Links

/** One link from an RTM_GETLINK dump. */
export interface LinkInfo {
  index: number;
  name: string;
  /** IFLA_INFO_KIND (`wireguard`, `veth`...), if the link has one. */
  kind?: string;
  flags: number;
  mtu?: number;
  /** IFLA_MIN_MTU / IFLA_MAX_MTU: the range the device accepts (kernels since 4.19 report it). */
  minMtu?: number;
  maxMtu?: number;
}

function linkMessage(type: number, flags: number, index = 0, ifiFlags = 0, change = 0): AttrWriter {
  const w = newMessage(type, flags, IFINFOMSG_LEN);
  w.setU8(NLMSG_HDRLEN, AF_UNSPEC);
  w.setU32(NLMSG_HDRLEN + 4, index);
  w.setU32(NLMSG_HDRLEN + 8, ifiFlags);
  w.setU32(NLMSG_HDRLEN + 12, change);
  return w;
}

function decodeLink(payload: Uint8Array): LinkInfo | undefined {
  if (payload.length < IFINFOMSG_LEN) return undefined;
  const v = new DataView(payload.buffer, payload.byteOffset, IFINFOMSG_LEN);
  const info: LinkInfo = { index: v.getInt32(4, true), name: '', flags: v.getUint32(8, true) };
  forEachAttr(payload.subarray(IFINFOMSG_LEN), (type, p) => {
    if (type === IFLA_IFNAME) info.name = getStr(p) ?? '';
    else if (type === IFLA_MTU) info.mtu = getU32(p);
    else if (type === IFLA_MIN_MTU) info.minMtu = getU32(p);
    else if (type === IFLA_MAX_MTU) info.maxMtu = getU32(p);
    else if (type === IFLA_LINKINFO) {
      const kind = getStr(attrTable(p).get(IFLA_INFO_KIND));
      if (kind !== undefined) info.kind = kind;
    }
  });
  return info;
}

/**
 * All links of this network namespace in ifindex order (RTM_GETLINK dump). A dump interrupted by
 * concurrent changes is accepted as it is, as wg does for its interface list.
 */
export async function listLinks(): Promise<LinkInfo[]> {
  const reply = await rtRequest(linkMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP), true);
  const links: LinkInfo[] = [];
  for (const m of reply.messages) {
    if (m.type !== RTM_NEWLINK) continue;
    const l = decodeLink(m.payload);
    if (l) links.push(l);
  }
  return links.sort((a, b) => a.index - b.index);
}

/** Names of the WireGuard links (IFLA_INFO_KIND `wireguard`) in ifindex order. */
export async function wireguardLinks(): Promise<string[]> {
  return (await listLinks()).filter((l) => l.kind === 'wireguard').map((l) => l.name);
}

/** One link by name (RTM_GETLINK with IFLA_IFNAME); ENODEV if absent. */
export async function getLink(name: string): Promise<LinkInfo> {
  const msg = linkMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
  msg.putStrz(IFLA_IFNAME, name);
  const reply = await rtRequest(msg);
  for (const m of reply.messages) {
    const l = m.type === RTM_NEWLINK ? decodeLink(m.payload) : undefined;
    if (l) return l;
  }
  throw new WgError(ENODEV, `no link ${name}`);
}

/** One link by ifindex (RTM_GETLINK with ifi_index set); ENODEV if absent. */
export async function getLinkByIndex(index: number): Promise<LinkInfo> {
  const reply = await rtRequest(linkMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, index));
  for (const m of reply.messages) {
    const l = m.type === RTM_NEWLINK ? decodeLink(m.payload) : undefined;
    if (l) return l;
  }
  throw new WgError(ENODEV, `no link with index ${index}`);
}

/** `ip link add dev NAME type KIND [mtu N]`: RTM_NEWLINK with CREATE|EXCL (EEXIST if taken). */
export async function createLink(name: string, kind = 'wireguard', opts: { mtu?: number } = {}): Promise<void> {
  const msg = linkMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  msg.putStrz(IFLA_IFNAME, name);
  if (opts.mtu !== undefined) msg.putU32(IFLA_MTU, opts.mtu);
  const info = msg.nestStart(IFLA_LINKINFO);
  msg.putStrz(IFLA_INFO_KIND, kind);
  msg.nestEnd(info);
  await rtRequest(msg);
}

/** `ip link delete dev NAME`. */
export async function deleteLink(name: string): Promise<void> {
  const msg = linkMessage(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
  msg.putStrz(IFLA_IFNAME, name);
  await rtRequest(msg);
}

/** `ip link set dev NAME [mtu N] [up|down]`. */
export async function setLink(name: string, opts: { up?: boolean; mtu?: number }): Promise<void> {
  const change = opts.up === undefined ? 0 : IFF_UP;
  const msg = linkMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 0, opts.up ? IFF_UP : 0, change);
  msg.putStrz(IFLA_IFNAME, name);
  if (opts.mtu !== undefined) msg.putU32(IFLA_MTU, opts.mtu);
  await rtRequest(msg);
}

async function indexOf(name: string): Promise<number> {
  return (await getLink(name)).index;
}

// ---------------------------------------------------------------------------------------------
// Prefixes

/** An address or route prefix; `addr` 4 or 16 bytes. */
export interface Prefix {
  family: Family;
  addr: Uint8Array;
  len: number;
}

/** Parses `a.b.c.d[/n]` or `x::y[/n]` (no prefix length = host prefix). */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf('/');
  const host = slash < 0 ? text : text.slice(0, slash);
  const addr = parseIP(host);
  if (!addr) throw new WgError(EINVAL, `invalid address: ${text}`);
  const max = addr.length * 8;
  const lenText = slash < 0 ? String(max) : text.slice(slash + 1);
  const len = /^[0-9]{1,3}$/.test(lenText) ? Number(lenText) : NaN;
  if (!(len >= 0 && len <= max)) throw new WgError(EINVAL, `invalid prefix length: ${text}`);
  return { family: addr.length === 4 ? 4 : 6, addr, len };
}

// ---------------------------------------------------------------------------------------------
// Addresses

async function addressRequest(type: number, flags: number, ifname: string, p: Prefix): Promise<void> {
  const index = await indexOf(ifname);
  const msg = newMessage(type, flags, IFADDRMSG_LEN);
  msg.setU8(NLMSG_HDRLEN, afOf(p.family));
  msg.setU8(NLMSG_HDRLEN + 1, p.len);
  msg.setU32(NLMSG_HDRLEN + 4, index);
  // iproute2 without `peer`: IFA_LOCAL and IFA_ADDRESS both the address.
  msg.put(IFA_LOCAL, p.addr);
  msg.put(IFA_ADDRESS, p.addr);
  await rtRequest(msg);
}

/** `ip address add ADDR/LEN dev IFNAME`. */
export async function addAddress(ifname: string, prefix: Prefix | string): Promise<void> {
  const p = typeof prefix === 'string' ? parsePrefix(prefix) : prefix;
  await addressRequest(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifname, p);
}

/** `ip address del ADDR/LEN dev IFNAME`. */
export async function deleteAddress(ifname: string, prefix: Prefix | string): Promise<void> {
  const p = typeof prefix === 'string' ? parsePrefix(prefix) : prefix;
  await addressRequest(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, ifname, p);
}

/** Addresses of one link (both families). */
export async function listAddresses(ifname: string): Promise<Prefix[]> {
  const index = await indexOf(ifname);
  const msg = newMessage(RTM_GETADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, IFADDRMSG_LEN);
  const reply = await rtRequest(msg, true);
  const out: Prefix[] = [];
  for (const m of reply.messages) {
    if (m.type !== RTM_NEWADDR || m.payload.length < IFADDRMSG_LEN) continue;
    const v = new DataView(m.payload.buffer, m.payload.byteOffset, IFADDRMSG_LEN);
    if (v.getUint32(4, true) !== index) continue;
    const t = attrTable(m.payload.subarray(IFADDRMSG_LEN));
    const addr = t.get(IFA_LOCAL) ?? t.get(IFA_ADDRESS);
    if (addr && (addr.length === 4 || addr.length === 16)) {
      out.push({ family: addr.length === 4 ? 4 : 6, addr: addr.slice(), len: v.getUint8(1) });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Routes

/**
 * A device route: `ip route add DST dev IFNAME [table T] [metric M]`; or, with `type`
 * RTN_UNREACHABLE and no device, `ip route add unreachable DST [table T] [metric M]`.
 */
export interface RouteSpec {
  dst: Prefix | string;
  ifname?: string;
  /** Routing table id (default main, 254). */
  table?: number;
  metric?: number;
  /** rtm_type (default RTN_UNICAST). */
  type?: number;
}

async function routeMessage(type: number, flags: number, r: RouteSpec): Promise<AttrWriter> {
  const dst = typeof r.dst === 'string' ? parsePrefix(r.dst) : r.dst;
  const table = r.table ?? RT_TABLE_MAIN;
  const index = r.ifname === undefined ? undefined : await indexOf(r.ifname);
  const routeType = r.type ?? RTN_UNICAST;
  const msg = newMessage(type, flags, RTMSG_LEN);
  const h = NLMSG_HDRLEN;
  msg.setU8(h, afOf(dst.family));
  msg.setU8(h + 1, dst.len);
  msg.setU8(h + 4, table < 256 ? table : RT_TABLE_UNSPEC);
  if (type === RTM_NEWROUTE) {
    msg.setU8(h + 5, RTPROT_BOOT);
    // As iproute2 scopes a route: a unicast one without gateway link for IPv4, everything else universe.
    msg.setU8(h + 6, dst.family === 4 && routeType === RTN_UNICAST ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
    msg.setU8(h + 7, routeType);
  } else {
    if (dst.family === 4) msg.setU8(h + 6, RT_SCOPE_NOWHERE); // delete: any scope (iproute2 does the same)
    if (r.type !== undefined) msg.setU8(h + 7, r.type);
  }
  if (dst.len > 0) msg.put(RTA_DST, dst.addr);
  msg.putU32(RTA_TABLE, table);
  if (index !== undefined) msg.putU32(RTA_OIF, index);
  if (r.metric !== undefined) msg.putU32(RTA_PRIORITY, r.metric);
  return msg;
}

export async function addRoute(r: RouteSpec): Promise<void> {
  await rtRequest(await routeMessage(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, r));
}

export async function deleteRoute(r: RouteSpec): Promise<void> {
  await rtRequest(await routeMessage(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, r));
}

/** A route from a dump (device routes; gateways are not decoded). */
export interface RouteInfo {
  family: Family;
  dst: Prefix;
  table: number;
  oif?: number;
  metric?: number;
  /** rtm_type (RTN_UNICAST, RTN_LOCAL, RTN_UNREACHABLE...). */
  type?: number;
  /** The RTAX_MTU metric (a route's `mtu N`, or a cached path MTU in a route lookup's answer). */
  mtu?: number;
  /** The MTU metric is locked (`ip` prints `mtu lock N`). */
  mtuLocked?: boolean;
}

/** Fills the fields every route message shares (type, oif, metric, MTU metric) from its attributes. */
function decodeRouteExtras(info: RouteInfo, payload: Uint8Array, t: Map<number, Uint8Array>): void {
  info.type = payload[7]!;
  const oif = getU32(t.get(RTA_OIF));
  if (oif !== undefined) info.oif = oif;
  const metric = getU32(t.get(RTA_PRIORITY));
  if (metric !== undefined) info.metric = metric;
  const metrics = t.get(RTA_METRICS);
  if (metrics) {
    const mt = attrTable(metrics);
    const mtu = getU32(mt.get(RTAX_MTU));
    if (mtu !== undefined) {
      info.mtu = mtu;
      if ((getU32(mt.get(RTAX_LOCK)) ?? 0) & (1 << RTAX_MTU)) info.mtuLocked = true;
    }
  }
}

/** Routes of one family in one table (all tables when `table` is undefined). */
export async function listRoutes(family: Family, table?: number): Promise<RouteInfo[]> {
  const msg = newMessage(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, RTMSG_LEN);
  msg.setU8(NLMSG_HDRLEN, afOf(family));
  const reply = await rtRequest(msg, true);
  const out: RouteInfo[] = [];
  const size = family === 4 ? 4 : 16;
  for (const m of reply.messages) {
    if (m.type !== RTM_NEWROUTE || m.payload.length < RTMSG_LEN) continue;
    const t = attrTable(m.payload.subarray(RTMSG_LEN));
    const tid = getU32(t.get(RTA_TABLE)) ?? m.payload[4]!;
    if (table !== undefined && tid !== table) continue;
    const dstLen = m.payload[1]!;
    const addr = t.get(RTA_DST)?.slice() ?? new Uint8Array(size);
    const info: RouteInfo = { family, dst: { family, addr, len: dstLen }, table: tid };
    decodeRouteExtras(info, m.payload, t);
    out.push(info);
  }
  return out;
}

/** The request of `ip route get ADDR`: RTM_GETROUTE for one host address (RTA_DST, full-length prefix). */
export function routeGetMessage(dst: Prefix): AttrWriter {
  const msg = newMessage(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK, RTMSG_LEN);
  msg.setU8(NLMSG_HDRLEN, afOf(dst.family));
  msg.setU8(NLMSG_HDRLEN + 1, dst.addr.length * 8);
  msg.put(RTA_DST, dst.addr);
  return msg;
}

/**
 * `ip route get ADDR`: the route the kernel would use towards one address (the answer's `dst` is
 * that address; `oif` its device; `mtu` a route MTU or cached path MTU). Errors as the kernel gives
 * them (ENETUNREACH when nothing matches).
 */
export async function getRoute(address: Prefix | string): Promise<RouteInfo> {
  const p = typeof address === 'string' ? parsePrefix(address) : address;
  const dst: Prefix = { family: p.family, addr: p.addr, len: p.addr.length * 8 };
  const reply = await rtRequest(routeGetMessage(dst));
  for (const m of reply.messages) {
    if (m.type !== RTM_NEWROUTE || m.payload.length < RTMSG_LEN) continue;
    const t = attrTable(m.payload.subarray(RTMSG_LEN));
    const info: RouteInfo = { family: dst.family, dst, table: getU32(t.get(RTA_TABLE)) ?? m.payload[4]! };
    decodeRouteExtras(info, m.payload, t);
    return info;
  }
  throw new WgError(ENETUNREACH, `no route to ${formatIP(dst.addr)}`);
}

// ---------------------------------------------------------------------------------------------
// Rules

/**
 * A policy rule as wg-quick writes them:
 * `ip -4 rule add not fwmark 51820 table 51820` = { family: 4, fwmark: 51820, invert: true, table: 51820 };
 * `ip -4 rule add table main suppress_prefixlength 0` = { family: 4, table: 254, suppressPrefixlen: 0 }.
 */
export interface RuleSpec {
  family: Family;
  table: number;
  priority?: number;
  fwmark?: number;
  /** Defaults to 0xffffffff with a fwmark, as iproute2 does. */
  fwmask?: number;
  /** `not`: FIB_RULE_INVERT. */
  invert?: boolean;
  suppressPrefixlen?: number;
}

function ruleMessage(type: number, flags: number, r: RuleSpec): AttrWriter {
  const msg = newMessage(type, flags, RTMSG_LEN);
  const h = NLMSG_HDRLEN;
  msg.setU8(h, afOf(r.family));
  msg.setU8(h + 4, r.table < 256 ? r.table : RT_TABLE_UNSPEC);
  msg.setU8(h + 7, FR_ACT_TO_TBL);
  msg.setU32(h + 8, r.invert ? FIB_RULE_INVERT : 0);
  if (r.priority !== undefined) msg.putU32(FRA_PRIORITY, r.priority);
  if (r.fwmark !== undefined) {
    msg.putU32(FRA_FWMARK, r.fwmark);
    msg.putU32(FRA_FWMASK, r.fwmask ?? 0xffffffff);
  }
  if (r.suppressPrefixlen !== undefined) msg.putU32(FRA_SUPPRESS_PREFIXLEN, r.suppressPrefixlen);
  msg.putU32(FRA_TABLE, r.table);
  return msg;
}

export async function addRule(r: RuleSpec): Promise<void> {
  await rtRequest(ruleMessage(RTM_NEWRULE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, r));
}

/** Deletes the first rule matching every given field (the kernel's RTM_DELRULE matching). */
export async function deleteRule(r: RuleSpec): Promise<void> {
  await rtRequest(ruleMessage(RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK, r));
}

/** A rule from a dump. */
export interface RuleInfo extends RuleSpec {
  priority: number;
}

export async function listRules(family: Family): Promise<RuleInfo[]> {
  const msg = newMessage(RTM_GETRULE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, RTMSG_LEN);
  msg.setU8(NLMSG_HDRLEN, afOf(family));
  const reply = await rtRequest(msg, true);
  const out: RuleInfo[] = [];
  for (const m of reply.messages) {
    if (m.type !== RTM_NEWRULE || m.payload.length < RTMSG_LEN) continue;
    const v = new DataView(m.payload.buffer, m.payload.byteOffset, RTMSG_LEN);
    const t = attrTable(m.payload.subarray(RTMSG_LEN));
    const rule: RuleInfo = {
      family,
      table: getU32(t.get(FRA_TABLE)) ?? v.getUint8(4),
      priority: getU32(t.get(FRA_PRIORITY)) ?? 0,
    };
    if (v.getUint32(8, true) & FIB_RULE_INVERT) rule.invert = true;
    const fwmark = getU32(t.get(FRA_FWMARK));
    if (fwmark !== undefined) {
      rule.fwmark = fwmark;
      rule.fwmask = getU32(t.get(FRA_FWMASK)) ?? 0xffffffff;
    }
    const sp = getU32(t.get(FRA_SUPPRESS_PREFIXLEN));
    if (sp !== undefined && sp !== 0xffffffff) rule.suppressPrefixlen = sp;
    out.push(rule);
  }
  return out;
}
