/**
 * Step "routes": one route per runtime allowed IP (read back from the device, not the file, as
 * wg-quick reads `wg show IF allowed-ips`), most specific first; Table decides where they go:
 * `off` → none; a number or name → `ip route add CIDR dev IF table T`; unset/`auto` → the main table,
 * except `/0`, which becomes policy routing (policy.ts). A route already covered by one on IF (the
 * Address's connected route) is skipped. Routes vanish with the link: no undo of their own.
 */
import { familyFlag } from './address.js';
import { ipRouteAdd, routeCovered } from './ip.js';
import { addDefaultRoute } from './policy.js';
import { wipeDevice } from '../conf/model.js';
import { formatAllowedIp } from '../conf/write.js';
import type { QuickContext } from './context.js';

/** Byte-wise string comparison, as `sort` under LC_ALL=C. */
function cCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * wg-quick's `sort -nr -k 2 -t /` of the CIDRs: prefix length descending, ties by whole line
 * descending (sort's last-resort comparison, reversed by -r) — so `::/0` comes before `0.0.0.0/0`.
 */
export function orderRoutes(cidrs: readonly string[]): string[] {
  const valid = cidrs.filter((c) => /^[0-9a-z:.]+\/[0-9]+$/.test(c));
  return [...valid].sort((a, b) => {
    const d = Number(b.split('/')[1]) - Number(a.split('/')[1]);
    return d !== 0 ? d : cCompare(b, a);
  });
}

export function isAutoTable(table: string | undefined): boolean {
  return table === undefined || table === '' || table === 'auto';
}

export async function runtimeAllowedIps(ctx: QuickContext): Promise<string[]> {
  const device = await (await ctx.backend()).get(ctx.ifname);
  try {
    return device.peers.flatMap((p) => p.allowedIps.map(formatAllowedIp));
  } finally {
    wipeDevice(device);
  }
}

export async function addRoutes(ctx: QuickContext): Promise<void> {
  const table = ctx.conf.interface.table;
  if (table === 'off') return;
  for (const cidr of orderRoutes(await runtimeAllowedIps(ctx))) {
    const proto = familyFlag(cidr);
    if (!isAutoTable(table)) {
      await ipRouteAdd(proto, cidr, ctx.ifname, table!);
      ctx.routes.push({ cidr, table: table! });
    } else if (cidr.endsWith('/0')) {
      await addDefaultRoute(ctx, cidr);
    } else if (!(await routeCovered(ctx.ifname, cidr))) {
      await ipRouteAdd(proto, cidr, ctx.ifname);
      ctx.routes.push({ cidr });
    }
  }
}
