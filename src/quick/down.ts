/**
 * `quick down`: PreDown, save (SaveConfig = true), then the journal `up` recorded replayed in reverse
 * (firewall, NAT, this tunnel's own rules, DNS, the link — which stops a userspace daemon), PostDown.
 * For a tunnel not brought up by wgts (no state file, e.g. by wg-quick) it falls back to wg-quick's
 * own teardown. As in wg-quick, a failing PreDown aborts and leaves the tunnel up.
 *
 * When the link is gone but the state file is there (the userspace daemon died, or `up` was
 * killed), `down` still removes what the journal names — rules, firewall, NAT, DNS, the unreachable
 * fallback — and runs the hooks; a failing hook is then reported, not fatal (there is no tunnel left
 * to keep up), and SaveConfig is skipped (there is no device to read).
 */
import { wipeDevice } from '../conf/model.js';
import { RT_TABLE_MAIN } from '../netlink/rtnl.js';
import type { QuickContext } from './context.js';
import { resolvconfPrefix } from './dns.js';
import { removeFirewallLegacy } from './firewall.js';
import { runHooks } from './hooks.js';
import { ipLinkDelete, ipRuleDelete, listRules } from './ip.js';
import { dropState, loadState, replay, withTunnelLock } from './journal.js';
import { narrate } from '../system/run.js';
import { messageOf } from './up.js';
import { isAutoTable, runtimeAllowedIps } from './routes.js';
import { saveConfig } from './save.js';
import { QuickError, type QuickTarget, makeContext } from './target.js';
import { cmd, backendFor, listDevices, ifindexOfName } from './system.js';

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

/** Hooks of a tunnel whose device is gone: each runs, a failure is told and the teardown goes on. */
async function runHooksReporting(hooks: readonly string[], ctx: QuickContext): Promise<void> {
  for (const text of hooks) {
    try {
      await runHooks([text], ctx);
    } catch (e) {
      narrate(`[!] ${messageOf(e)}; going on, as ${ctx.ifname} is gone`);
    }
  }
}

export async function down(target: QuickTarget): Promise<void> {
  await withTunnelLock(target.ifname, () => downLocked(target));
}

async function downLocked(target: QuickTarget): Promise<void> {
  const ctx = makeContext(target);
  const state = await loadState(ctx.ifname);
  const ifindex = ifindexOfName(ctx.ifname);
  if (state && ifindex === undefined) {
    narrate(`[!] ${ctx.ifname} is gone (its userspace daemon died, or \`up' was killed): removing what its journal names`);
    if (ctx.conf.interface.saveConfig) narrate(`[!] SaveConfig skipped: there is no device to save from`);
    await runHooksReporting(ctx.conf.interface.preDown, ctx);
    await replay(state.journal, ctx.ifname);
    await dropState(ctx.ifname);
    await runHooksReporting(ctx.conf.interface.postDown, ctx);
    return;
  }
  await requireWireGuard(target.ifname);
  await runHooks(ctx.conf.interface.preDown, ctx);
  if (ctx.conf.interface.saveConfig) await saveConfig(ctx);
  if (state && (state.ifindex === undefined || state.ifindex === ifindex)) {
    await replay(state.journal, ctx.ifname);
  } else {
    // A state file for an older link of this name (its run died; this link was made by something
    // else since): what that run left goes first, then this link as wg-quick would remove it.
    if (state) await replay(state.journal.filter((a) => a.kind !== 'link-delete'), ctx.ifname).catch(() => undefined);
    await legacyTeardown(ctx);
  }
  await dropState(ctx.ifname);
  await runHooks(ctx.conf.interface.postDown, ctx);
}

export async function save(target: QuickTarget): Promise<void> {
  await requireWireGuard(target.ifname);
  await saveConfig(makeContext(target));
}
