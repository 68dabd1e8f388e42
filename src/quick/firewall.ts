/**
 * The firewall half of a default route, per family, as wg-quick: an nft table `ip|ip6 wg-quick-IF`
 * (anti-spoofing for the tunnel's addresses in raw prerouting; the fwmark saved to conntrack on the way
 * out and restored on replies, so rp_filter with src_valid_mark accepts the encrypted traffic), or
 * the same rules through iptables-restore when nft is absent, each tagged
 * `-m comment --comment "wg-quick(8) rule for IF"`. The table keeps wg-quick's name so that either
 * tool's `down` can remove the other's rules. Undo: delete the table / the same rules with -D.
 */
import type { QuickContext } from './context.js';
import { familyOf, linkAddresses as addressesOf } from './ip.js';
import { cmd, haveProgram, query } from './system.js';

/** Addresses currently on IF of one family (`ip -o -4|-6 addr show dev IF`; includes IPv6 link-local). */
export async function linkAddresses(ifname: string, proto: '-4' | '-6'): Promise<string[]> {
  return (await addressesOf(ifname, familyOf(proto))).map((a) => a.slice(0, a.indexOf('/')));
}

export function nftScript(pf: 'ip' | 'ip6', ifname: string, table: number, addrs: readonly string[]): string {
  const t = `${pf} wg-quick-${ifname}`;
  let s = `add table ${t}\n`;
  s += `add chain ${t} preraw { type filter hook prerouting priority -300; }\n`;
  s += `add chain ${t} premangle { type filter hook prerouting priority -150; }\n`;
  s += `add chain ${t} postmangle { type filter hook postrouting priority -150; }\n`;
  for (const a of addrs) s += `add rule ${t} preraw iifname != "${ifname}" ${pf} daddr ${a} fib saddr type != local drop\n`;
  s += `add rule ${t} postmangle meta l4proto udp mark ${table} ct mark set mark\n`;
  s += `add rule ${t} premangle meta l4proto udp meta mark set ct mark\n`;
  return s;
}

export function iptablesScript(ifname: string, table: number, addrs: readonly string[], op: '-I' | '-D'): string {
  const marker = `-m comment --comment "wg-quick(8) rule for ${ifname}"`;
  let s = '*raw\n';
  for (const a of addrs) s += `${op} PREROUTING ! -i ${ifname} -d ${a} -m addrtype ! --src-type LOCAL -j DROP ${marker}\n`;
  s += 'COMMIT\n*mangle\n';
  s += `${op} POSTROUTING -m mark --mark ${table} -p udp -j CONNMARK --save-mark ${marker}\n`;
  s += `${op} PREROUTING -p udp -j CONNMARK --restore-mark ${marker}\n`;
  s += 'COMMIT\n';
  return s;
}

export async function addFirewall(ctx: QuickContext, proto: '-4' | '-6', table: number): Promise<void> {
  const addrs = await linkAddresses(ctx.ifname, proto);
  const pf = proto === '-4' ? 'ip' : 'ip6';
  if (await haveProgram('nft')) {
    // Recorded before the change; `add` then `delete` in one transaction succeeds whether or not
    // the table came to exist.
    ctx.undo({
      kind: 'cmd',
      step: 'firewall',
      family: familyOf(proto),
      argv: ['nft', '-f', '-'],
      input: `add table ${pf} wg-quick-${ctx.ifname}\ndelete table ${pf} wg-quick-${ctx.ifname}\n`,
      bestEffort: true,
    });
    await cmd(['nft', '-f', '-'], { input: nftScript(pf, ctx.ifname, table, addrs) });
  } else {
    const restore = proto === '-4' ? 'iptables-restore' : 'ip6tables-restore';
    ctx.undo({
      kind: 'cmd',
      step: 'firewall',
      family: familyOf(proto),
      argv: [restore, '-n'],
      input: iptablesScript(ctx.ifname, table, addrs, '-D'),
      bestEffort: true,
    });
    await cmd([restore, '-n'], { input: iptablesScript(ctx.ifname, table, addrs, '-I') });
  }
}

/** wg-quick's remove_firewall, for a tunnel this process did not bring up (no state file). */
export async function removeFirewallLegacy(ifname: string): Promise<void> {
  if (await haveProgram('nft')) {
    const tables = (await query(['nft', 'list', 'tables'])).stdout.split('\n');
    const script = tables
      .filter((t) => t.endsWith(` wg-quick-${ifname}`))
      .map((t) => `delete ${t}\n`)
      .join('');
    if (script) await cmd(['nft', '-f', '-'], { input: script });
  }
  if (await haveProgram('iptables')) {
    for (const tool of ['iptables', 'ip6tables']) {
      let restore = '';
      let found = false;
      const marker = `-m comment --comment "wg-quick(8) rule for ${ifname}"`;
      for (const line of (await query([`${tool}-save`])).stdout.split('\n')) {
        if (!(line.startsWith('*') || line === 'COMMIT' || (line.startsWith('-A ') && line.includes(marker)))) continue;
        if (line.startsWith('-A')) found = true;
        restore += `${line.replace(/^-A/, '-D')}\n`;
      }
      if (found) await cmd([`${tool}-restore`, '-n'], { input: restore });
    }
  }
}
