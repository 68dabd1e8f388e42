/**
 * Step "mtu": the configured MTU, else (upstream wg-quick) the SMALLEST MTU of the routes towards the
 * peers' endpoints, else that of the IPv4 default route, else 1500 — minus 80 (40 IPv6 + 8 UDP + 32
 * WireGuard overhead). Then the link goes up: `ip link set mtu N up dev IF`.
 */
import { cmd, query } from '../cli/run.js';
import { wipeDevice } from '../conf/model.js';
import { formatEndpoint } from '../conf/write.js';
import type { QuickContext } from './context.js';

/** `mtu N` in a route line, else the MTU of its `dev` (wg-quick's two regexes). */
async function mtuOfRoute(routeLine: string): Promise<number | undefined> {
  const direct = /mtu ([0-9]+)/.exec(routeLine);
  if (direct) return Number(direct[1]);
  const dev = /dev ([^ ]+)/.exec(routeLine);
  if (!dev) return undefined;
  const link = await query(['ip', 'link', 'show', 'dev', dev[1]!]);
  const m = /mtu ([0-9]+)/.exec(link.stdout);
  return m ? Number(m[1]) : undefined;
}

export async function autoMtu(ctx: QuickContext): Promise<number> {
  const device = await (await ctx.backend()).get(ctx.ifname);
  let mtu = 0;
  try {
    for (const peer of device.peers) {
      if (!peer.endpoint) continue;
      const m = /^\[?([a-z0-9:.]+)\]?:[0-9]+$/.exec(formatEndpoint(peer.endpoint));
      if (!m) continue; // scoped IPv6 endpoints are skipped, as wg-quick's regex does
      const route = await query(['ip', 'route', 'get', m[1]!]);
      const found = await mtuOfRoute(route.stdout);
      if (found !== undefined && (mtu === 0 || found < mtu)) mtu = found;
    }
  } finally {
    wipeDevice(device);
  }
  if (mtu === 0) {
    const first = (await query(['ip', 'route', 'show', 'default'])).stdout.split('\n')[0] ?? '';
    mtu = (await mtuOfRoute(first)) ?? 0;
  }
  return (mtu > 0 ? mtu : 1500) - 80;
}

export async function setMtuUp(ctx: QuickContext): Promise<void> {
  // wg-quick hands the MTU text to ip unchecked; ip's own error is the message for a bad one.
  const mtu = ctx.conf.interface.mtuText ?? String(await autoMtu(ctx));
  await cmd(['ip', 'link', 'set', 'mtu', mtu, 'up', 'dev', ctx.ifname]);
}
