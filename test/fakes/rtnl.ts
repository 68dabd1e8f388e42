/**
 * A fake rtnetlink for quick's unit tests: links, addresses, routes and policy rules of one network
 * namespace kept in memory, with the kernel's answers that quick relies on — ENODEV for a missing
 * link, EEXIST for a duplicate, a connected route for each address, a link's routes and addresses
 * gone with it, a rule added without priority placed just above the highest-priority one but the
 * local rule (as fib_rules.c does). `failNext(op)` makes the next call of an operation fail.
 */
import { WgError } from '../../src/conf/backend.js';
import { EADDRNOTAVAIL, EEXIST, EINVAL, ENETUNREACH, ENODEV, ENOENT } from '../../src/conf/errno.js';
import type { Family } from '../../src/conf/model.js';
import type { LinkInfo, Prefix, RouteInfo, RouteSpec, RuleInfo, RuleSpec } from '../../src/netlink/rtnl.js';
import { IFF_UP, RT_TABLE_MAIN, RTN_UNICAST, parsePrefix } from '../../src/netlink/rtnl.js';
import type { RtnlOps } from '../../src/quick/system.js';

type Op = keyof RtnlOps;

function prefixOf(p: Prefix | string): Prefix {
  return typeof p === 'string' ? parsePrefix(p) : p;
}

function masked(p: Prefix): Prefix {
  const addr = new Uint8Array(p.addr.length);
  for (let bit = 0; bit < p.len; bit++) addr[bit >> 3]! |= p.addr[bit >> 3]! & (0x80 >> (bit & 7));
  return { family: p.family, addr, len: p.len };
}

function samePrefix(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && a.len === b.len && a.addr.every((x, i) => x === b.addr[i]);
}

function covers(route: Prefix, addr: Uint8Array, family: Family): boolean {
  if (route.family !== family) return false;
  for (let bit = 0; bit < route.len; bit++) {
    const m = 0x80 >> (bit & 7);
    if ((route.addr[bit >> 3]! & m) !== (addr[bit >> 3]! & m)) return false;
  }
  return true;
}

export class FakeRtnl implements RtnlOps {
  readonly links: LinkInfo[] = [];
  readonly addresses = new Map<number, Prefix[]>();
  readonly routes: RouteInfo[] = [];
  readonly rules: RuleInfo[] = [];
  /** Every call, as `op arg`, in order. */
  readonly calls: string[] = [];
  /** Called before each change is made (with its `op what` line). */
  beforeChange: (call: string) => void = () => undefined;
  /** Called when an injected failure is thrown. */
  onFail: () => void = () => undefined;
  private nextIndex = 1;
  private failures = new Map<Op, number>();

  constructor() {
    // The default rules of a namespace.
    for (const family of [4, 6] as const) {
      this.rules.push({ family, priority: 0, table: 255 }, { family, priority: 32766, table: RT_TABLE_MAIN });
      if (family === 4) this.rules.push({ family, priority: 32767, table: 253 });
    }
    this.addLink('lo', 'loopback', 65536);
  }

  /** A link that is there before the test (an uplink, `lo`). */
  addLink(name: string, kind?: string, mtu = 1500): LinkInfo {
    const link: LinkInfo = { index: this.nextIndex++, name, flags: IFF_UP, mtu, ...(kind ? { kind } : {}) };
    this.links.push(link);
    return link;
  }

  /** The next call of `op` throws WgError(errno). */
  failNext(op: Op, errno = EINVAL): void {
    this.failures.set(op, errno);
  }

  private enter(op: Op, what: string): void {
    this.calls.push(`${op} ${what}`);
    this.beforeChange(`${op} ${what}`);
    const errno = this.failures.get(op);
    if (errno !== undefined) {
      this.failures.delete(op);
      this.onFail();
      throw new WgError(errno, `fake ${op} failure`);
    }
  }

  private link(name: string): LinkInfo {
    const l = this.links.find((x) => x.name === name);
    if (!l) throw new WgError(ENODEV, `no link ${name}`);
    return l;
  }

  async getLink(name: string): Promise<LinkInfo> {
    return { ...this.link(name) };
  }

  async getLinkByIndex(index: number): Promise<LinkInfo> {
    const l = this.links.find((x) => x.index === index);
    if (!l) throw new WgError(ENODEV, `no link with index ${index}`);
    return { ...l };
  }

  async createLink(name: string, kind = 'wireguard', opts: { mtu?: number } = {}): Promise<void> {
    this.enter('createLink', name);
    if (this.links.some((l) => l.name === name)) throw new WgError(EEXIST, 'exists');
    const link = this.addLink(name, kind, opts.mtu ?? 1420);
    link.flags = 0;
  }

  async deleteLink(name: string): Promise<void> {
    this.enter('deleteLink', name);
    const l = this.link(name);
    this.links.splice(this.links.indexOf(l), 1);
    this.addresses.delete(l.index);
    for (let i = this.routes.length - 1; i >= 0; i--) if (this.routes[i]!.oif === l.index) this.routes.splice(i, 1);
  }

  async setLink(name: string, opts: { up?: boolean; mtu?: number }): Promise<void> {
    this.enter('setLink', name);
    const l = this.link(name);
    if (opts.mtu !== undefined) l.mtu = opts.mtu;
    if (opts.up !== undefined) l.flags = opts.up ? l.flags | IFF_UP : l.flags & ~IFF_UP;
  }

  async addAddress(ifname: string, prefix: Prefix | string): Promise<void> {
    this.enter('addAddress', ifname);
    const l = this.link(ifname);
    const p = prefixOf(prefix);
    const list = this.addresses.get(l.index) ?? [];
    if (list.some((a) => samePrefix(a, p))) throw new WgError(EEXIST, 'address exists');
    list.push(p);
    this.addresses.set(l.index, list);
    // The connected route of the address's network.
    if (p.len < p.addr.length * 8) this.routes.push({ family: p.family, dst: masked(p), table: RT_TABLE_MAIN, oif: l.index, type: RTN_UNICAST });
  }

  async deleteAddress(ifname: string, prefix: Prefix | string): Promise<void> {
    this.enter('deleteAddress', ifname);
    const l = this.link(ifname);
    const p = prefixOf(prefix);
    const list = this.addresses.get(l.index) ?? [];
    const at = list.findIndex((a) => samePrefix(a, p));
    if (at < 0) throw new WgError(EADDRNOTAVAIL, 'no such address');
    list.splice(at, 1);
    const net = masked(p);
    const r = this.routes.findIndex((x) => x.oif === l.index && samePrefix(x.dst, net));
    if (r >= 0) this.routes.splice(r, 1);
  }

  async listAddresses(ifname: string): Promise<Prefix[]> {
    return [...(this.addresses.get(this.link(ifname).index) ?? [])];
  }

  async addRoute(r: RouteSpec): Promise<void> {
    this.enter('addRoute', typeof r.dst === 'string' ? r.dst : `${r.dst.family}/${r.dst.len}`);
    const dst = masked(prefixOf(r.dst));
    const oif = r.ifname === undefined ? undefined : this.link(r.ifname).index;
    const table = r.table ?? RT_TABLE_MAIN;
    const type = r.type ?? RTN_UNICAST;
    if (this.routes.some((x) => x.table === table && samePrefix(x.dst, dst) && (x.metric ?? 0) === (r.metric ?? 0))) throw new WgError(EEXIST, 'route exists');
    this.routes.push({ family: dst.family, dst, table, type, ...(oif !== undefined ? { oif } : {}), ...(r.metric !== undefined ? { metric: r.metric } : {}) });
  }

  async deleteRoute(r: RouteSpec): Promise<void> {
    this.enter('deleteRoute', typeof r.dst === 'string' ? r.dst : `${r.dst.family}/${r.dst.len}`);
    const dst = masked(prefixOf(r.dst));
    const oif = r.ifname === undefined ? undefined : this.link(r.ifname).index;
    const at = this.routes.findIndex(
      (x) =>
        x.table === (r.table ?? RT_TABLE_MAIN) &&
        samePrefix(x.dst, dst) &&
        (oif === undefined || x.oif === oif) &&
        (r.metric === undefined || x.metric === r.metric) &&
        (r.type === undefined || x.type === r.type),
    );
    if (at < 0) throw new WgError(ENOENT, 'no such route'); // the kernel says ESRCH; quick does not look
    this.routes.splice(at, 1);
  }

  async listRoutes(family: Family, table?: number): Promise<RouteInfo[]> {
    return this.routes.filter((r) => r.family === family && (table === undefined || r.table === table)).map((r) => ({ ...r }));
  }

  /** The main table's most specific route towards `address`. */
  async getRoute(address: Prefix | string): Promise<RouteInfo> {
    const p = prefixOf(address);
    const best = this.routes
      .filter((r) => r.table === RT_TABLE_MAIN && covers(r.dst, p.addr, p.family))
      .sort((a, b) => b.dst.len - a.dst.len)[0];
    if (!best) throw new WgError(ENETUNREACH, 'no route');
    return { ...best, dst: { family: p.family, addr: p.addr, len: p.addr.length * 8 } };
  }

  async listRules(family: Family): Promise<RuleInfo[]> {
    return this.rules.filter((r) => r.family === family).sort((a, b) => a.priority - b.priority).map((r) => ({ ...r }));
  }

  async addRule(r: RuleSpec): Promise<void> {
    this.enter('addRule', `${r.family} table ${r.table}`);
    let priority = r.priority;
    if (priority === undefined) {
      const taken = this.rules.filter((x) => x.family === r.family && x.priority > 0).map((x) => x.priority);
      priority = Math.max(1, Math.min(...taken) - 1);
    }
    this.rules.push({ ...r, priority });
  }

  async deleteRule(r: RuleSpec): Promise<void> {
    this.enter('deleteRule', `${r.family} table ${r.table}`);
    const at = this.rules.findIndex(
      (x) =>
        x.family === r.family &&
        x.table === r.table &&
        (r.priority === undefined || x.priority === r.priority) &&
        (r.fwmark === undefined || x.fwmark === r.fwmark) &&
        (r.suppressPrefixlen === undefined || x.suppressPrefixlen === r.suppressPrefixlen),
    );
    if (at < 0) throw new WgError(ENOENT, 'no such rule');
    this.rules.splice(at, 1);
  }
}

