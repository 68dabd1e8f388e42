/**
 * Step "mtu": the configured MTU, else (upstream wg-quick) the SMALLEST MTU of the routes towards the
 * peers' endpoints, else that of the IPv4 default route, else 1500 — minus 80 (40 IPv6 + 8 UDP + 32
 * WireGuard overhead). Then the link goes up: `ip link set mtu N up dev IF`. The route lookups are
 * rtnetlink's answers to what wg-quick asks `ip route get ADDR` and `ip route show default` (ip.ts).
 */
import { wipeDevice } from '../conf/model.js';
import { formatEndpoint } from '../conf/write.js';
import type { QuickContext } from './context.js';
import { defaultRouteMtu, ipLinkSetMtuUp, routeGetMtu } from './ip.js';

export async function autoMtu(ctx: QuickContext): Promise<number> {
  const device = await (await ctx.backend()).get(ctx.ifname);
  let mtu = 0;
  try {
    for (const peer of device.peers) {
      if (!peer.endpoint) continue;
      const m = /^\[?([a-z0-9:.]+)\]?:[0-9]+$/.exec(formatEndpoint(peer.endpoint));
      if (!m) continue; // scoped IPv6 endpoints are skipped, as wg-quick's regex does
      const found = await routeGetMtu(m[1]!);
      if (found !== undefined && (mtu === 0 || found < mtu)) mtu = found;
    }
  } finally {
    wipeDevice(device);
  }
  if (mtu === 0) {
    mtu = (await defaultRouteMtu()) ?? 0;
  }
  return (mtu > 0 ? mtu : 1500) - 80;
}

export async function setMtuUp(ctx: QuickContext): Promise<void> {
  // wg-quick hands the MTU text to ip unchecked; ip's own error is the message for a bad one.
  const mtu = ctx.conf.interface.mtuText ?? String(await autoMtu(ctx));
  await ipLinkSetMtuUp(mtu, ctx.ifname);
}
