/**
 * The running device's side of `peer add|remove`, through the interface's own backend (kernel or
 * userspace): one peer is added or removed with a partial set — never REPLACE_PEERS, never a
 * re-push of the file — so every other peer keeps its session, endpoint and counters. Routes for
 * the peer's allowed IPs follow wg-quick's rules (src/quick/routes.ts): none with `Table = off`,
 * else one per prefix not already covered by a route on the interface (usually the Address's
 * connected route covers a client's /32, and nothing is added).
 */
import { WgError, type Backend } from '../conf/backend.js';
import { ENODEV, EPROTONOSUPPORT } from '../conf/errno.js';
import type { Key, WgDevice } from '../conf/model.js';
import { backendFor } from '../system/ipc.js';
import { ipRouteAdd, protoOf, routeCovered } from '../quick/ip.js';
import { isAutoTable } from '../quick/routes.js';
import * as rtnl from '../netlink/rtnl.js';
import { formatPrefix, type Prefix } from './addresses.js';

/**
 * The device as the backend sees it, or undefined when IFACE is not up: no such device (ENODEV), or
 * no UAPI socket and no kernel WireGuard to ask (EPROTONOSUPPORT). Caller wipes it.
 */
export async function runningDevice(ifname: string): Promise<{ backend: Backend; device: WgDevice } | undefined> {
  const backend = await backendFor(ifname);
  try {
    return { backend, device: await backend.get(ifname) };
  } catch (e) {
    if (e instanceof WgError && (e.errno === ENODEV || e.errno === EPROTONOSUPPORT)) return undefined;
    throw e;
  }
}

/** Routes added for a peer, so a failure later can take them back. */
export type AddedRoute = { prefix: Prefix; table: number };

/** Adds the peer, then its routes; on a failure everything done here is undone before rethrowing. */
export async function addToDevice(
  backend: Backend,
  ifname: string,
  peer: { publicKey: Key; presharedKey?: Key; allowedIps: readonly Prefix[] },
  table: string | undefined,
): Promise<() => Promise<void>> {
  await backend.set({
    name: ifname,
    peers: [
      {
        publicKey: peer.publicKey,
        ...(peer.presharedKey ? { presharedKey: peer.presharedKey } : {}),
        allowedIps: peer.allowedIps.map((p) => ({ family: p.family, addr: p.addr, cidr: p.cidr })),
      },
    ],
  });
  const undo = async (): Promise<void> => {
    await backend.set({ name: ifname, peers: [{ publicKey: peer.publicKey, remove: true, allowedIps: [] }] }).catch(() => undefined);
  };
  if (table === 'off') return undo;
  try {
    for (const p of peer.allowedIps) {
      const cidr = formatPrefix(p);
      if (!isAutoTable(table)) await ipRouteAdd(protoOf(p.family), cidr, ifname, table);
      else if (!(await routeCovered(ifname, cidr))) await ipRouteAdd(protoOf(p.family), cidr, ifname);
    }
  } catch (e) {
    await undo();
    await removeRoutes(ifname, peer.allowedIps);
    throw e;
  }
  return async () => {
    await undo();
    await removeRoutes(ifname, peer.allowedIps);
  };
}

/**
 * Deletes the routes on IF whose destination is exactly one of `prefixes`, in any table: those are
 * the routes wg-quick or `peer add` made for that peer alone (allowed IPs belong to one peer).
 * A connected route of the Address is never such a route; /0 routes stay (policy routing is
 * `quick`'s, and goes with `quick down`).
 */
export async function removeRoutes(ifname: string, prefixes: readonly Prefix[]): Promise<void> {
  let index: number;
  try {
    index = (await rtnl.getLink(ifname)).index;
  } catch {
    return;
  }
  for (const family of [4, 6] as const) {
    const wanted = prefixes.filter((p) => p.family === family && p.cidr > 0);
    if (wanted.length === 0) continue;
    for (const r of await rtnl.listRoutes(family)) {
      if (r.oif !== index) continue;
      if (!wanted.some((p) => p.cidr === r.dst.len && formatPrefix(p) === formatPrefix({ family, addr: r.dst.addr, cidr: r.dst.len }))) continue;
      await rtnl.deleteRoute({ dst: r.dst, ifname, table: r.table }).catch(() => undefined);
    }
  }
}

/** Removes one peer (its session ends with it) and its own routes. */
export async function removeFromDevice(backend: Backend, ifname: string, publicKey: Key, allowedIps: readonly Prefix[]): Promise<void> {
  await backend.set({ name: ifname, peers: [{ publicKey, remove: true, allowedIps: [] }] });
  await removeRoutes(ifname, allowedIps);
}

