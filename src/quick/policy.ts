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
 */
import { cmd, narrate, query } from '../cli/run.js';
import { wipeDevice } from '../conf/model.js';
import { familyFlag } from './address.js';
import { addFirewall } from './firewall.js';
import type { QuickContext } from './context.js';

async function routesInTable(proto: '-4' | '-6', table: number): Promise<boolean> {
  return (await query(['ip', proto, 'route', 'show', 'table', String(table)])).stdout.trim() !== '';
}

/** The table/fwmark to use: the device's fwmark if set, else the first table free in both families. */
export async function chooseTable(ctx: QuickContext): Promise<number> {
  if (ctx.fwmarkTable !== undefined) return ctx.fwmarkTable;
  const backend = await ctx.backend();
  const device = await backend.get(ctx.ifname);
  let table = device.fwmark ?? 0;
  wipeDevice(device);
  if (table === 0) {
    table = 51820;
    while ((await routesInTable('-4', table)) || (await routesInTable('-6', table))) table++;
    narrate(`[#] wgts set ${ctx.ifname} fwmark ${table}`);
    await backend.set({ name: ctx.ifname, fwmark: table, peers: [] });
  }
  ctx.fwmarkTable = table;
  return table;
}

async function rulePrefs(proto: '-4' | '-6'): Promise<Map<number, string>> {
  const out = (await query(['ip', proto, 'rule', 'show'])).stdout;
  const prefs = new Map<number, string>();
  for (const line of out.split('\n')) {
    const m = /^(\d+):\s+(.*?)\s*$/.exec(line);
    if (m) prefs.set(Number(m[1]), m[2]!);
  }
  return prefs;
}

/** `ip rule add ...`, then an undo that deletes exactly the rule that appeared (by priority). */
async function addRule(ctx: QuickContext, proto: '-4' | '-6', selector: string[]): Promise<void> {
  const before = await rulePrefs(proto);
  await cmd(['ip', proto, 'rule', 'add', ...selector]);
  const after = await rulePrefs(proto);
  const added = [...after.keys()].filter((p) => !before.has(p));
  const tableIdx = selector.indexOf('table');
  const table = selector.slice(tableIdx, tableIdx + 2);
  for (const pref of added) {
    ctx.undo({ kind: 'cmd', step: 'rules', argv: ['ip', proto, 'rule', 'delete', 'pref', String(pref), ...table], bestEffort: true });
  }
}

export async function addDefaultRoute(ctx: QuickContext, cidr: string): Promise<void> {
  const table = await chooseTable(ctx);
  const proto = familyFlag(cidr);
  await addRule(ctx, proto, ['not', 'fwmark', String(table), 'table', String(table)]);
  await addRule(ctx, proto, ['table', 'main', 'suppress_prefixlength', '0']);
  await cmd(['ip', proto, 'route', 'add', cidr, 'dev', ctx.ifname, 'table', String(table)]);
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
