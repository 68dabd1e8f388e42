/**
 * A default route (`/0` in AllowedIPs with Table auto) by policy routing, as wg-quick does:
 * the device's fwmark (or the first free table from 51820, then `wgts set IF fwmark N`) names a
 * table holding the default route; `not fwmark N → table N` sends everything but WireGuard's own UDP
 * there, `table main suppress_prefixlength 0` lets more specific main-table routes win.
 * Upstream order: the rules first, then the route (no window where the route exists without rules).
 * Then src_valid_mark (only when not already 1) and the firewall (firewall.ts).
 *
 * Each rule's undo deletes that rule by its priority (read back after adding), so `down` removes
 * this tunnel's rules only — wg-quick deletes every `suppress_prefixlength 0` rule, another tunnel's too.
 *
 * Beyond wg-quick, no leak in the clear: before the rules, table N gets `unreachable default metric
 * 4294967295`, behind the device route (metric 0). While the device is there it changes nothing;
 * when the device is gone (its userspace daemon died, the link was deleted by hand, or it is down)
 * its route goes with it and the fallback answers: traffic meant for the tunnel is dropped with
 * "unreachable" instead of falling through the rules to the main table and out of the physical
 * interface. wg-quick leaves the rules pointing at an empty table. `down` removes it.
 */
import { narrate } from '../system/run.js';
import { wipeDevice } from '../conf/model.js';
import { RTN_UNREACHABLE, RT_TABLE_MAIN } from '../netlink/rtnl.js';
import { familyFlag } from './address.js';
import { addFirewall } from './firewall.js';
import type { QuickContext } from './context.js';
import { type IpRule, familyOf, ipRouteAdd, ipRouteAddSpec, ipRuleAdd, tableHasRoutes } from './ip.js';
import { cmd, query } from './system.js';

/** The metric of the fallback: the largest, so any device route in the table wins. */
export const FALLBACK_METRIC = 0xffffffff;

/** The table/fwmark to use: the device's fwmark if set, else the first table free in both families. */
export async function chooseTable(ctx: QuickContext): Promise<number> {
  if (ctx.fwmarkTable !== undefined) return ctx.fwmarkTable;
  const backend = await ctx.backend();
  const device = await backend.get(ctx.ifname);
  let table = device.fwmark ?? 0;
  wipeDevice(device);
  if (table === 0) {
    table = 51820;
    while ((await tableHasRoutes(4, table)) || (await tableHasRoutes(6, table))) table++;
    narrate(`[#] wgts set ${ctx.ifname} fwmark ${table}`);
    await backend.set({ name: ctx.ifname, fwmark: table, peers: [] });
  }
  ctx.fwmarkTable = table;
  return table;
}

/**
 * `ip rule add ...` with an intent recorded first (the rule by its fields), made precise afterwards:
 * an undo that deletes exactly the rule that appeared (by priority).
 */
async function addRule(ctx: QuickContext, rule: IpRule): Promise<void> {
  const base = { kind: 'rule-delete', step: 'rules', family: rule.family, table: rule.table, bestEffort: true } as const;
  const amend = ctx.undo({
    ...base,
    ...(rule.fwmark !== undefined ? { fwmark: rule.fwmark } : {}),
    ...(rule.invert ? { invert: true } : {}),
    ...(rule.suppressPrefixlen !== undefined ? { suppressPrefixlen: rule.suppressPrefixlen } : {}),
  });
  let priorities: number[];
  try {
    priorities = await ipRuleAdd(rule);
  } catch (e) {
    amend([]); // refused: nothing was added, and the intent must not match someone else's rule
    throw e;
  }
  amend(priorities.map((priority) => ({ ...base, priority })));
}

/** The unreachable fallback of table N (see top), recorded before it is added. */
async function addFallback(ctx: QuickContext, cidr: string, table: number): Promise<void> {
  const route = { family: familyOf(familyFlag(cidr)), dst: cidr, table, metric: FALLBACK_METRIC } as const;
  ctx.undo({ kind: 'route-delete', step: 'fallback', ...route, unreachable: true });
  await ipRouteAddSpec({ ...route, type: RTN_UNREACHABLE });
}

export async function addDefaultRoute(ctx: QuickContext, cidr: string): Promise<void> {
  const table = await chooseTable(ctx);
  const proto = familyFlag(cidr);
  const family = familyOf(proto);
  await addFallback(ctx, cidr, table);
  await addRule(ctx, { family, invert: true, fwmark: table, table });
  await addRule(ctx, { family, table: RT_TABLE_MAIN, suppressPrefixlen: 0 });
  await ipRouteAdd(proto, cidr, ctx.ifname, String(table));
  ctx.routes.push({ cidr, table: String(table), policy: true });
  if (proto === '-4') {
    const key = 'net.ipv4.conf.all.src_valid_mark';
    const current = (await query(['sysctl', '-n', key])).stdout.trim();
    ctx.hold(`sysctl:${key}`);
    if (current !== '1') {
      // Kept on `down` like wg-quick (other tunnels may rely on it); taken back only by a rollback.
      ctx.undo({ kind: 'sysctl', step: 'sysctl', key, previous: current || '0', holds: `sysctl:${key}`, rollbackOnly: true });
      await cmd(['sysctl', '-q', `${key}=1`]);
    }
  }
  await addFirewall(ctx, proto, table);
}
