/**
 * `quick down`: PreDown, save (SaveConfig = true), then the journal `up` recorded replayed in reverse
 * (firewall, NAT, this tunnel's own rules, DNS, the link — which stops a userspace daemon), PostDown.
 * For a tunnel not brought up by wgts (no state file, e.g. by wg-quick) it falls back to wg-quick's
 * own teardown. As in wg-quick, a failing PreDown aborts and leaves the tunnel up.
 */
import { backendFor, listDevices } from '../system/ipc.js';
import { wipeDevice } from '../conf/model.js';
import { cmd } from '../system/run.js';
import { RT_TABLE_MAIN } from '../netlink/rtnl.js';
import type { QuickContext } from './context.js';
import { resolvconfPrefix } from './dns.js';
import { removeFirewallLegacy } from './firewall.js';
import { runHooks } from './hooks.js';
import { ipLinkDelete, ipRuleDelete, listRules } from './ip.js';
import { ifindexOfName } from '../netlink/ifindex.js';
import { dropState, loadState, replay } from './journal.js';
import { isAutoTable, runtimeAllowedIps } from './routes.js';
import { saveConfig } from './save.js';
import { QuickError, type QuickTarget, makeContext } from './target.js';

/** wg-quick: the name must be among `wg show interfaces`. A backend that cannot list still answers a get. */
export async function requireWireGuard(ifname: string): Promise<void> {
  let found: boolean;
  try {
    found = (await listDevices()).includes(ifname);
  } catch {
    found = await backendFor(ifname)
      .then((b) => b.get(ifname))
      .then(
        (device) => {
          wipeDevice(device);
          return true;
        },
        () => false,
      );
  }
  if (!found) throw new QuickError(`\`${ifname}' is not a WireGuard interface`);
}

/** wg-quick's del_if + unset_dns + remove_firewall, for tunnels without a wgts state file. */
async function legacyTeardown(ctx: QuickContext): Promise<void> {
  const device = await (await ctx.backend()).get(ctx.ifname);
  const table = device.fwmark ?? 0;
  wipeDevice(device);
  if (isAutoTable(ctx.conf.interface.table) && table !== 0 && (await runtimeAllowedIps(ctx)).some((c) => c.endsWith('/0'))) {
    for (const family of [4, 6] as const) {
      // `ip rule show` mentions `lookup N` / `from all lookup main suppress_prefixlength 0`
      const any = async (match: (r: Awaited<ReturnType<typeof listRules>>[number]) => boolean): Promise<boolean> =>
        (await listRules(family)).some(match);
      while (await any((r) => r.table === table)) await ipRuleDelete({ family, table });
      while (await any((r) => r.table === RT_TABLE_MAIN && r.suppressPrefixlen === 0 && r.fwmark === undefined)) {
        await ipRuleDelete({ family, table: RT_TABLE_MAIN, suppressPrefixlen: 0 });
      }
    }
  }
  await ipLinkDelete(ctx.ifname);
  if (ctx.conf.interface.dns.length > 0) {
    await cmd(['resolvconf', '-d', `${await resolvconfPrefix()}${ctx.ifname}`, '-f']).catch(() => undefined);
  }
  await removeFirewallLegacy(ctx.ifname).catch(() => undefined);
}

export async function down(target: QuickTarget): Promise<void> {
  await requireWireGuard(target.ifname);
  const ctx = makeContext(target, [], []);
  await runHooks(ctx.conf.interface.preDown, ctx.ifname);
  if (ctx.conf.interface.saveConfig) await saveConfig(ctx);
  const state = await loadState(ctx.ifname);
  if (state && (state.ifindex === undefined || state.ifindex === ifindexOfName(ctx.ifname))) {
    await replay(state.journal, ctx.ifname);
  } else {
    await legacyTeardown(ctx);
  }
  await dropState(ctx.ifname);
  await runHooks(ctx.conf.interface.postDown, ctx.ifname);
}

export async function save(target: QuickTarget): Promise<void> {
  await requireWireGuard(target.ifname);
  await saveConfig(makeContext(target, [], []));
}
