/**
 * Step "nat" (beyond wg-quick): `wgts quick up --nat-via IFACE` makes this host a NAT gateway for the
 * tunnel, replacing the copy-pasted recipe (PostUp iptables FORWARD/MASQUERADE lines plus a hand-edited
 * net.ipv4.ip_forward). Chosen as a command-line option, not a config key, so the config file stays
 * readable by wg-quick and other tools; `down` needs no option (the state file remembers).
 *
 * - forwarding: net.ipv4.ip_forward=1 (and net.ipv6.conf.all.forwarding=1 when the tunnel has IPv6
 *   addresses), only when not already on; put back on down unless another wgts NAT tunnel in this
 *   namespace still holds it.
 * - masquerade of the tunnel's subnets (the networks of its Address lines) leaving IFACE: an nft table
 *   `inet wgts-nat-IF` of our own, written as one transaction that first deletes any previous copy, so
 *   a repeated up never duplicates it; or, without nft, iptables/ip6tables `-t nat POSTROUTING` rules
 *   tagged `wgts nat for IF`, each added only if `-C` does not find it already.
 * - forward accept rules for the tunnel in iptables' FORWARD chain when that chain can drop
 *   (acceptForwarding), tagged the same way, removed on down.
 * Configs with the classic PostUp/PostDown iptables lines keep working unchanged (hooks are hooks).
 */
import { formatIP, maskPrefix, parseIP } from '../conf/ip.js';
import { originalSysctl } from './journal.js';
import { linkExists } from './link.js';
import type { QuickContext } from './context.js';
import { cmd, haveProgram, query } from './system.js';

/** The network of an Address (`10.0.0.1/24` → `10.0.0.0/24`; a bare address is a /32 or /128). */
export function networkOf(address: string): { family: 4 | 6; cidr: string } {
  const [ip, len] = address.split('/') as [string, string | undefined];
  const bytes = parseIP(ip);
  if (!bytes) throw new Error(`Address is not an IP address: \`${address}'`);
  const prefix = len === undefined ? bytes.length * 8 : Number(len);
  return { family: bytes.length === 4 ? 4 : 6, cidr: `${formatIP(maskPrefix(bytes, prefix))}/${prefix}` };
}

export function natNftScript(ifname: string, via: string, nets: ReturnType<typeof networkOf>[]): string {
  const t = `inet wgts-nat-${ifname}`;
  // `add table` then `delete table` makes the delete safe when there is no previous copy.
  let s = `add table ${t}\ndelete table ${t}\nadd table ${t}\n`;
  s += `add chain ${t} postrouting { type nat hook postrouting priority srcnat; }\n`;
  for (const n of nets) {
    s += `add rule ${t} postrouting oifname "${via}" ${n.family === 4 ? 'ip' : 'ip6'} saddr ${n.cidr} masquerade\n`;
  }
  return s;
}

function natRule(ifname: string, via: string, cidr: string): string[] {
  return ['POSTROUTING', '-s', cidr, '-o', via, '-m', 'comment', '--comment', `wgts nat for ${ifname}`, '-j', 'MASQUERADE'];
}

async function enableForwarding(ctx: QuickContext, key: string): Promise<void> {
  const hold = `sysctl:${key}`;
  const current = (await query(['sysctl', '-n', key])).stdout.trim();
  ctx.hold(hold);
  // Already on because another NAT tunnel turned it on: inherit that tunnel's original value, so the
  // last of them to go down restores it (each skips the restore while another still holds it).
  const previous = current === '1' ? await originalSysctl(key, ctx.ifname) : current || '0';
  if (previous === undefined) return; // on before any of us: leave it on
  ctx.undo({ kind: 'sysctl', step: 'nat', key, previous, holds: hold });
  if (current !== '1') await cmd(['sysctl', '-q', `${key}=1`]);
}

/** The FORWARD rules that let the tunnel's clients out through VIA and their replies back in. */
export function forwardRules(ifname: string, via: string): string[][] {
  const tag = ['-m', 'comment', '--comment', `wgts nat for ${ifname}`];
  return [
    ['FORWARD', '-i', ifname, '-o', via, ...tag, '-j', 'ACCEPT'],
    ['FORWARD', '-i', via, '-o', ifname, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...tag, '-j', 'ACCEPT'],
  ];
}

/**
 * Accept rules at the top of iptables' FORWARD chain, when that chain could drop the tunnel's
 * traffic: a policy other than ACCEPT (Docker sets `iptables -P FORWARD DROP`, ufw and firewalld
 * set their own) or rules in it. An untouched chain (policy ACCEPT, no rules) is left alone, so
 * nothing is created that down would leave behind. An nft-only ruleset whose own forward chain
 * drops cannot be overridden from a table of ours (every base chain must accept), so none is added.
 */
async function acceptForwarding(ctx: QuickContext, via: string, families: (4 | 6)[]): Promise<void> {
  for (const family of families) {
    const tool = family === 4 ? 'iptables' : 'ip6tables';
    if (!(await haveProgram(tool))) continue;
    const chain = await query([tool, '-w', '-S', 'FORWARD']);
    if (chain.exitCode !== 0 || chain.stdout.trim() === '-P FORWARD ACCEPT') continue;
    for (const rule of forwardRules(ctx.ifname, via).reverse()) {
      if ((await query([tool, '-w', '-C', ...rule])).exitCode === 0) continue;
      // Recorded first (journal before change): a -D of a rule never made fails harmlessly.
      ctx.undo({ kind: 'cmd', step: 'nat', argv: [tool, '-w', '-D', ...rule], bestEffort: true });
      await cmd([tool, '-w', '-I', ...rule]);
    }
  }
}

export async function addNat(ctx: QuickContext): Promise<void> {
  const via = ctx.options.natVia;
  if (!via) return;
  const nets = ctx.conf.interface.addresses.map(networkOf);
  const v4 = nets.filter((n) => n.family === 4);
  const v6 = nets.filter((n) => n.family === 6);
  if (v4.length) await enableForwarding(ctx, 'net.ipv4.ip_forward');
  if (v6.length) await enableForwarding(ctx, 'net.ipv6.conf.all.forwarding');
  await acceptForwarding(ctx, via, [...(v4.length ? [4 as const] : []), ...(v6.length ? [6 as const] : [])]);
  if (await haveProgram('nft')) {
    const t = `inet wgts-nat-${ctx.ifname}`;
    ctx.undo({ kind: 'cmd', step: 'nat', argv: ['nft', '-f', '-'], input: `add table ${t}\ndelete table ${t}\n`, bestEffort: true });
    await cmd(['nft', '-f', '-'], { input: natNftScript(ctx.ifname, via, nets) });
    return;
  }
  for (const n of nets) {
    const tool = n.family === 4 ? 'iptables' : 'ip6tables';
    const rule = natRule(ctx.ifname, via, n.cidr);
    if ((await query([tool, '-t', 'nat', '-C', ...rule])).exitCode === 0) continue;
    ctx.undo({ kind: 'cmd', step: 'nat', argv: [tool, '-t', 'nat', '-D', ...rule], bestEffort: true });
    await cmd([tool, '-t', 'nat', '-A', ...rule]);
  }
}

/** Checked before anything is created: the uplink must exist and the tunnel must have addresses. */
export async function checkNat(ctx: Pick<QuickContext, 'options' | 'conf'>): Promise<string | undefined> {
  const via = ctx.options.natVia;
  if (via === undefined) return undefined;
  if (!/^[a-zA-Z0-9_=+.-]{1,15}$/.test(via)) return `\`${via}' is not a valid interface name for --nat-via`;
  if (!(await linkExists(via))) return `--nat-via: interface \`${via}' does not exist`;
  if (ctx.conf.interface.addresses.length === 0) return '--nat-via needs at least one Address to know which subnet to masquerade';
  return undefined;
}
