/**
 * wg-quick's `ip` commands, done over rtnetlink (src/netlink/rtnl.ts) — no `ip` process, on both
 * backends (the userspace daemon's TUN link is an ordinary link to rtnetlink).
 *
 * A change is narrated as the exact `[#] ip ...` line wg-quick prints, then made. A failure prints
 * what iproute2 prints for it and throws RunError with ip's exit status, so wg-quick's "exit with
 * the failing command's status" still holds:
 * - an argument ip would refuse before asking the kernel: `Error: inet prefix is expected rather
 *   than "X".` (1), `Error: argument "X" is wrong: Invalid "mtu" value` (255, ip's invarg());
 * - an unknown device: `Cannot find device "X"` (1);
 * - a kernel refusal: `RTNETLINK answers: <strerror>` (2), or, for the refusals wg-quick users meet,
 *   the kernel's own extended-ack text as ip shows it (`Error: Unknown device type.`, `Error: mtu
 *   greater than device maximum.`, `Error: ipv4: Address already assigned.`). Our netlink socket does
 *   not ask for extended acks, so those texts are chosen here from the operation and errno.
 * Read-only looks replace wg-quick's `ip ... show` pipelines with the same selection logic.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { WgError } from '../conf/backend.js';
import { EEXIST, EINVAL, ENETDOWN, ENODEV, EOPNOTSUPP, strerror } from '../conf/errno.js';
import { formatIP, parseIPv6 } from '../conf/ip.js';
import type { Family } from '../conf/model.js';
import * as rtnl from '../netlink/rtnl.js';
import { RunError, narrateCommand } from '../system/run.js';
import { rtnlOps } from './system.js';

export type Proto = '-4' | '-6';

export function familyOf(proto: Proto): Family {
  return proto === '-4' ? 4 : 6;
}

export function protoOf(family: Family): Proto {
  return family === 4 ? '-4' : '-6';
}


/** What ip prints and its exit status, for a failure found before or after asking the kernel. */
export class IpFailure extends Error {
  constructor(
    readonly text: string,
    readonly status: number,
  ) {
    super(text);
    this.name = 'IpFailure';
  }
}

/** The kernel's extended-ack text for an errno of this operation, when it has one (see top). */
type Explain = (errno: number) => Promise<string | undefined> | string | undefined;

/**
 * Narrates `argv`, runs `op`; on failure prints ip's message on stderr and throws RunError (the
 * same error a failing `cmd(['ip', ...])` threw, so callers and exit codes are unchanged).
 */
export async function ipChange<T>(argv: readonly string[], op: () => Promise<T>, explain?: Explain): Promise<T> {
  narrateCommand(argv);
  try {
    return await op();
  } catch (e) {
    let failure: IpFailure;
    if (e instanceof IpFailure) failure = e;
    else if (e instanceof WgError) {
      const text = (await explain?.(e.errno)) ?? `RTNETLINK answers: ${strerror(e.errno)}`;
      failure = new IpFailure(text, 2);
    } else throw e;
    process.stderr.write(`${failure.text}\n`);
    throw new RunError(argv.join(' '), failure.status, failure.text, { cause: e });
  }
}

// ---------------------------------------------------------------------------------------------
// ip's argument parsing (iproute2 lib/utils.c), for the values wg-quick passes through unchecked

/** strtoul/strtol with base 0 on a prefix of `s`: the value and the rest, or undefined without digits. */
function strtoNum(s: string): { value: number; rest: string } | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(s);
  if (!m) return undefined;
  const digits = m[2]!;
  let value = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : digits.length > 1 && digits[0] === '0' ? parseInt(digits, 8) : Number(digits);
  if (m[1] === '-') value = -value;
  return { value, rest: s.slice(m[0].length) };
}

/** get_unsigned / get_u32 (base 0, whole string). */
function getUnsigned(s: string, max = 0xffffffff): number | undefined {
  const n = strtoNum(s);
  if (!n || n.rest !== '' || n.value < 0 || n.value > max) return undefined;
  return n.value;
}

/** get_integer (base 0, whole string, int range). */
function getInteger(s: string): number | undefined {
  const n = strtoNum(s);
  if (!n || n.rest !== '' || n.value > 0x7fffffff || n.value < -0x80000000) return undefined;
  return n.value;
}

/** iproute2's get_addr_ipv4: up to four base-0 numbers (`10.1` = 10.1.0.0, `010` = 8). */
function parseIpv4Loose(text: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let cp = text;
  for (let i = 0; i < 4; i++) {
    const n = strtoNum(cp);
    if (!n || n.value < 0 || n.value > 255 || /^\s|^[+-]/.test(cp)) return undefined;
    out[i] = n.value;
    if (n.rest === '') return out;
    if (i === 3 || n.rest[0] !== '.') return undefined;
    cp = n.rest.slice(1);
  }
  return undefined;
}

/** A dotted IPv4 netmask's prefix length (contiguous ones only), as get_netmask accepts. */
function maskBits(mask: Uint8Array): number | undefined {
  const v = ((mask[0]! << 24) | (mask[1]! << 16) | (mask[2]! << 8) | mask[3]!) >>> 0;
  for (let bits = 0; bits <= 32; bits++) if (v === (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0)) return bits;
  return undefined;
}

/** `ip -4|-6 ... ADDR[/LEN]` as ip's get_prefix reads it; refused as ip refuses it. */
export function ipPrefix(proto: Proto, text: string): rtnl.Prefix {
  const family = familyOf(proto);
  const refuse = (): never => {
    throw new IpFailure(`Error: ${family === 4 ? 'inet' : 'inet6'} prefix is expected rather than "${text}".`, 1);
  };
  const slash = text.indexOf('/');
  const host = slash < 0 ? text : text.slice(0, slash);
  const addr = family === 4 ? (host.includes(':') ? undefined : parseIpv4Loose(host)) : host.includes(':') ? parseIPv6(host) ?? undefined : undefined;
  if (!addr) return refuse();
  const max = addr.length * 8;
  if (slash < 0) return { family, addr, len: max };
  const lenText = text.slice(slash + 1);
  let len = getUnsigned(lenText, max);
  if (len === undefined && family === 4) {
    const mask = parseIpv4Loose(lenText);
    if (mask) len = maskBits(mask);
  }
  if (len === undefined) return refuse();
  return { family, addr, len };
}

/** ip's invarg(): `Error: argument "X" is wrong: MSG` and exit(-1); the messages end in `\n` (a blank line follows). */
function invalidArgument(value: string, what: string): IpFailure {
  return new IpFailure(`Error: argument "${value}" is wrong: ${what}`, 255);
}

/** The `NUMBER NAME` lines of an rt_tables file (`#` comments, hex or decimal numbers), in order. */
export function parseRtTables(text: string): Map<string, number> {
  const names = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(0x[0-9a-fA-F]+|[0-9]+)\s+([^\s#]+)/.exec(line);
    if (m) names.set(m[2]!, m[1]!.startsWith('0x') ? parseInt(m[1]!.slice(2), 16) : Number(m[1]));
  }
  return names;
}

/** Routing table names of iproute2: built-ins, then rt_tables and rt_tables.d/*.conf. */
async function routingTables(): Promise<Map<string, number>> {
  const names = new Map<string, number>([
    ['default', 253],
    ['main', 254],
    ['local', 255],
  ]);
  const read = async (path: string): Promise<boolean> => {
    try {
      for (const [name, id] of parseRtTables(await readFile(path, 'utf8'))) names.set(name, id);
      return true;
    } catch {
      return false;
    }
  };
  // iproute2 reads /etc/iproute2, newer releases fall back to their vendor directory.
  for (const dir of ['/etc/iproute2', '/usr/share/iproute2', '/usr/lib/iproute2']) {
    if (await read(join(dir, 'rt_tables'))) break;
  }
  for (const dir of ['/usr/lib/iproute2', '/usr/share/iproute2', '/etc/iproute2']) {
    let entries: string[] = [];
    try {
      entries = (await readdir(join(dir, 'rt_tables.d'))).filter((n) => n.endsWith('.conf')).sort();
    } catch {
      /* none */
    }
    for (const name of entries) await read(join(dir, 'rt_tables.d', name));
  }
  return names;
}

/** `table T` as ip reads it: a name from rt_tables, else a number (base 0). */
export async function tableId(text: string): Promise<number> {
  const named = (await routingTables()).get(text);
  if (named !== undefined) return named;
  const n = getUnsigned(text);
  if (n === undefined) throw invalidArgument(text, '"table" value is invalid\n');
  return n;
}

/** `table N` as ip prints it in a rule command (`main` for 254). */
export function tableText(table: number): string {
  return table === rtnl.RT_TABLE_MAIN ? 'main' : String(table);
}

// ---------------------------------------------------------------------------------------------
// Links

async function deviceIndex(ifname: string): Promise<number> {
  try {
    return (await rtnlOps().getLink(ifname)).index;
  } catch (e) {
    if (e instanceof WgError && e.errno === ENODEV) throw new IpFailure(`Cannot find device "${ifname}"`, 1);
    throw e;
  }
}

/** `ip link show dev IF` prints something: the name is taken (by any kind of link). */
export async function linkExists(ifname: string): Promise<boolean> {
  try {
    await rtnlOps().getLink(ifname);
    return true;
  } catch {
    return false;
  }
}

/** A link's MTU (`ip link show dev IF` → `mtu N`), undefined if there is no such link. */
export async function linkMtu(ifname: string | number): Promise<number | undefined> {
  try {
    return (typeof ifname === 'number' ? await rtnlOps().getLinkByIndex(ifname) : await rtnlOps().getLink(ifname)).mtu;
  } catch {
    return undefined;
  }
}

/** `ip link add dev IF type wireguard`. */
export async function ipLinkAddWireguard(ifname: string): Promise<void> {
  await ipChange(['ip', 'link', 'add', 'dev', ifname, 'type', 'wireguard'], () => rtnlOps().createLink(ifname, 'wireguard'), (errno) =>
    errno === EOPNOTSUPP ? 'Error: Unknown device type.' : undefined,
  );
}

/** `ip link delete dev IF`. */
export async function ipLinkDelete(ifname: string): Promise<void> {
  await ipChange(['ip', 'link', 'delete', 'dev', ifname], async () => {
    await deviceIndex(ifname);
    await rtnlOps().deleteLink(ifname);
  });
}

/** `ip link set mtu N up dev IF` (N as the file gave it: ip's parsing and messages). */
export async function ipLinkSetMtuUp(mtuText: string, ifname: string): Promise<void> {
  await ipChange(
    ['ip', 'link', 'set', 'mtu', mtuText, 'up', 'dev', ifname],
    async () => {
      const mtu = getInteger(mtuText);
      if (mtu === undefined) throw invalidArgument(mtuText, 'Invalid "mtu" value\n');
      await deviceIndex(ifname);
      await rtnlOps().setLink(ifname, { mtu: mtu >>> 0, up: true });
    },
    async (errno) => {
      if (errno !== EINVAL) return undefined;
      const link = await rtnlOps().getLink(ifname).catch(() => undefined);
      const mtu = getInteger(mtuText)! >>> 0;
      if (link?.maxMtu !== undefined && link.maxMtu > 0 && mtu > link.maxMtu) return 'Error: mtu greater than device maximum.';
      if (link?.minMtu !== undefined && mtu < link.minMtu) return 'Error: mtu less than device minimum.';
      return undefined;
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Addresses

/** `ip -4|-6 address add ADDR dev IF`. */
export async function ipAddressAdd(proto: Proto, address: string, ifname: string): Promise<void> {
  await ipChange(
    ['ip', proto, 'address', 'add', address, 'dev', ifname],
    async () => {
      const prefix = ipPrefix(proto, address);
      await deviceIndex(ifname);
      await rtnlOps().addAddress(ifname, prefix);
    },
    (errno) => (errno === EEXIST ? `Error: ${proto === '-4' ? 'ipv4: Address' : 'ipv6: address'} already assigned.` : undefined),
  );
}

/** `ip -4|-6 address del ADDR dev IF`. */
export async function ipAddressDelete(proto: Proto, address: string, ifname: string): Promise<void> {
  await ipChange(['ip', proto, 'address', 'del', address, 'dev', ifname], async () => {
    const prefix = ipPrefix(proto, address);
    await deviceIndex(ifname);
    await rtnlOps().deleteAddress(ifname, prefix);
  });
}

/** The addresses on IF, as `ip` prints them (`ADDR/LEN`), in the kernel's order; [] without the link. */
export async function linkAddresses(ifname: string, family?: Family): Promise<string[]> {
  let list: rtnl.Prefix[];
  try {
    list = await rtnlOps().listAddresses(ifname);
  } catch {
    return [];
  }
  return list.filter((p) => family === undefined || p.family === family).map((p) => `${formatIP(p.addr)}/${p.len}`);
}

// ---------------------------------------------------------------------------------------------
// Routes

/** `ip -4|-6 route add CIDR dev IF [table T]`. */
export async function ipRouteAdd(proto: Proto, cidr: string, ifname: string, table?: string): Promise<void> {
  const argv = ['ip', proto, 'route', 'add', cidr, 'dev', ifname, ...(table !== undefined ? ['table', table] : [])];
  await ipChange(argv, async () => {
    const dst = ipPrefix(proto, cidr);
    const id = table === undefined ? rtnl.RT_TABLE_MAIN : await tableId(table);
    await deviceIndex(ifname);
    await rtnlOps().addRoute({ dst, ifname, table: id });
  }, (errno) => (errno === ENETDOWN ? `Error: ${proto === '-4' ? 'Device for nexthop' : 'Nexthop device'} is not up.` : undefined));
}

/** `ip -4|-6 route delete CIDR dev IF [table T]`. */
export async function ipRouteDelete(proto: Proto, cidr: string, ifname: string, table?: string): Promise<void> {
  const argv = ['ip', proto, 'route', 'delete', cidr, 'dev', ifname, ...(table !== undefined ? ['table', table] : [])];
  await ipChange(argv, async () => {
    const dst = ipPrefix(proto, cidr);
    const id = table === undefined ? rtnl.RT_TABLE_MAIN : await tableId(table);
    await deviceIndex(ifname);
    await rtnlOps().deleteRoute({ dst, ifname, table: id });
  });
}

/** A route without device (an `unreachable` fallback) by its table and metric. */
export interface DevicelessRoute {
  family: Family;
  dst: string;
  table: number;
  metric: number;
  type: number;
}

function devicelessArgv(verb: 'add' | 'delete', r: DevicelessRoute): string[] {
  return ['ip', protoOf(r.family), 'route', verb, 'unreachable', r.dst, 'table', tableText(r.table), 'metric', String(r.metric)];
}

/** `ip -4|-6 route add unreachable DST table T metric M`. */
export async function ipRouteAddSpec(r: DevicelessRoute): Promise<void> {
  await ipChange(devicelessArgv('add', r), () => rtnlOps().addRoute({ dst: r.dst, table: r.table, metric: r.metric, type: r.type }));
}

/** `ip -4|-6 route delete unreachable DST table T metric M`; a route that is not there is not an error. */
export async function ipRouteDeleteSpec(r: DevicelessRoute): Promise<void> {
  const there = (await rtnlOps().listRoutes(r.family, r.table)).some(
    (x) => x.type === r.type && x.metric === r.metric && x.dst.len === rtnl.parsePrefix(r.dst).len,
  );
  if (!there) return;
  await ipChange(devicelessArgv('delete', r), () => rtnlOps().deleteRoute({ dst: r.dst, table: r.table, metric: r.metric, type: r.type }));
}

function prefixCovers(route: rtnl.Prefix, p: rtnl.Prefix): boolean {
  if (route.family !== p.family || route.len > p.len) return false;
  for (let bit = 0; bit < route.len; bit++) {
    const mask = 0x80 >> (bit & 7);
    if ((route.addr[bit >> 3]! & mask) !== (p.addr[bit >> 3]! & mask)) return false;
  }
  return true;
}

/**
 * `ip route show dev IF match CIDR` is non-empty: a main-table route on IF whose prefix contains
 * CIDR (e.g. the connected route of an Address) — iproute2's `match` filter.
 */
export async function routeCovered(ifname: string, cidr: string): Promise<boolean> {
  let p: rtnl.Prefix;
  try {
    p = rtnl.parsePrefix(cidr);
  } catch {
    return false;
  }
  let index: number;
  try {
    index = (await rtnlOps().getLink(ifname)).index;
  } catch {
    return false;
  }
  const routes = await rtnlOps().listRoutes(p.family, rtnl.RT_TABLE_MAIN);
  return routes.some((r) => r.oif === index && prefixCovers(r.dst, p));
}

/** `ip -4|-6 route show table N` is non-empty. */
export async function tableHasRoutes(family: Family, table: number): Promise<boolean> {
  return (await rtnlOps().listRoutes(family, table)).length > 0;
}

/** wg-quick's MTU of a route line: its `mtu N` (not `mtu lock N`), else the MTU of its `dev`. */
async function routeMtu(route: rtnl.RouteInfo): Promise<number | undefined> {
  if (route.mtu !== undefined && !route.mtuLocked) return route.mtu;
  return route.oif !== undefined ? linkMtu(route.oif) : undefined;
}

/** The MTU `ip route get ADDR` leads to (wg-quick's auto MTU), undefined when there is no route. */
export async function routeGetMtu(address: string): Promise<number | undefined> {
  let route: rtnl.RouteInfo;
  try {
    route = await rtnlOps().getRoute(address);
  } catch {
    return undefined;
  }
  return routeMtu(route);
}

/** The MTU of the first line of `ip route show default` (IPv4, main table). */
export async function defaultRouteMtu(): Promise<number | undefined> {
  const route = (await rtnlOps().listRoutes(4, rtnl.RT_TABLE_MAIN).catch(() => [])).find((r) => r.dst.len === 0);
  return route ? routeMtu(route) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Rules

/** A policy rule as wg-quick adds one, with the words `ip rule add|delete` shows for it. */
export interface IpRule {
  family: Family;
  table: number;
  fwmark?: number;
  invert?: boolean;
  suppressPrefixlen?: number;
  priority?: number;
}

/** The `ip rule` words for a rule: `[pref N] [not fwmark M] table T [suppress_prefixlength L]`. */
export function ruleWords(r: IpRule): string[] {
  const w: string[] = [];
  if (r.priority !== undefined) w.push('pref', String(r.priority));
  if (r.fwmark !== undefined) w.push(...(r.invert ? ['not'] : []), 'fwmark', String(r.fwmark));
  w.push('table', tableText(r.table));
  if (r.suppressPrefixlen !== undefined) w.push('suppress_prefixlength', String(r.suppressPrefixlen));
  return w;
}

function ruleSpec(r: IpRule): rtnl.RuleSpec {
  const spec: rtnl.RuleSpec = { family: r.family, table: r.table };
  if (r.priority !== undefined) spec.priority = r.priority;
  if (r.fwmark !== undefined) spec.fwmark = r.fwmark;
  if (r.invert) spec.invert = true;
  if (r.suppressPrefixlen !== undefined) spec.suppressPrefixlen = r.suppressPrefixlen;
  return spec;
}

export async function listRules(family: Family): Promise<rtnl.RuleInfo[]> {
  return rtnlOps().listRules(family);
}

/**
 * `ip -4|-6 rule add ...`; resolves to the priorities of the rules that appeared (the kernel picks
 * the priority), so the undo can delete exactly this rule.
 */
export async function ipRuleAdd(rule: IpRule): Promise<number[]> {
  const before = new Set((await rtnlOps().listRules(rule.family)).map((r) => r.priority));
  await ipChange(['ip', protoOf(rule.family), 'rule', 'add', ...ruleWords(rule)], () => rtnlOps().addRule(ruleSpec(rule)));
  return (await rtnlOps().listRules(rule.family)).map((r) => r.priority).filter((p) => !before.has(p));
}

/** `ip -4|-6 rule delete ...`: the first rule matching every given field. */
export async function ipRuleDelete(rule: IpRule): Promise<void> {
  await ipChange(['ip', protoOf(rule.family), 'rule', 'delete', ...ruleWords(rule)], () => rtnlOps().deleteRule(ruleSpec(rule)));
}
