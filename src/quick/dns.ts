/**
 * Step "dns": nameservers and search domains while the tunnel is up.
 * - resolvconf present (Debian's resolvconf, openresolv, or systemd's resolvconf compatibility link):
 *   exactly wg-quick's `resolvconf -a <prefix>IF -m 0 -x`, the `nameserver`/`search` lines on stdin;
 *   undo `resolvconf -d <prefix>IF -f`. The prefix comes from /etc/resolvconf/interface-order (first
 *   `name*` line → `name.`), skipped when `resolvconf` is a symlink (systemd's resolvectl), as upstream.
 * - no resolvconf but resolvectl (systemd-resolved): `resolvectl dns IF ...`, `resolvectl domain IF ~. ...`,
 *   `resolvectl default-route IF yes`; undo `resolvectl revert IF`.
 * - neither: refused before anything is created (see preflight in up.ts), not a half-up tunnel.
 */
import { lstat, readFile } from 'node:fs/promises';
import type { QuickContext } from './context.js';
import { cmd, haveProgram, query } from './system.js';

export type DnsTool = 'resolvconf' | 'resolvectl' | 'none';

export async function dnsTool(): Promise<DnsTool> {
  if (await haveProgram('resolvconf')) return 'resolvconf';
  if (await haveProgram('resolvectl')) return 'resolvectl';
  return 'none';
}

/** `resolvconf` is a symlink: systemd's resolvectl compatibility mode (no `-l`, state kept by resolved). */
export async function resolvconfIsSymlink(): Promise<boolean> {
  const r = await query(['bash', '-c', 'type -p resolvconf']);
  const path = r.stdout.trim();
  if (!path) return false;
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}

/** wg-quick's resolvconf_iface_prefix (upstream: none when resolvconf is a symlink). */
export async function resolvconfPrefix(): Promise<string> {
  let text: string;
  try {
    text = await readFile('/etc/resolvconf/interface-order', 'utf8');
  } catch {
    return '';
  }
  if (await resolvconfIsSymlink()) return '';
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9-]+)\*$/.exec(line.trim());
    if (m) return `${m[1]}.`;
  }
  return '';
}

/**
 * Nameservers and search domains systemd-resolved holds for IF (`resolvectl dns|domain IF`, lines
 * `Link N (IF): item...`): servers without `:port` or `#name`, domains without the routing-only
 * `~` ones (our `~.`).
 */
export async function resolvedDns(ifname: string): Promise<{ servers: string[]; domains: string[] }> {
  const items = async (what: 'dns' | 'domain'): Promise<string[]> => {
    const r = await query(['resolvectl', what, ifname]);
    if (r.exitCode !== 0) return [];
    const line = r.stdout.split('\n').find((l) => l.startsWith('Link ') || l.startsWith('Global'));
    return line ? line.slice(line.indexOf(':') + 1).trim().split(/\s+/).filter(Boolean) : [];
  };
  const servers = (await items('dns')).map((s) => {
    const bare = s.replace(/#.*$/, '');
    const bracketed = /^\[([^\]]+)\](:\d+)?$/.exec(bare);
    if (bracketed) return bracketed[1]!;
    return /^[0-9.]+:\d+$/.test(bare) ? bare.slice(0, bare.lastIndexOf(':')) : bare;
  });
  const domains = (await items('domain')).filter((d) => !d.startsWith('~'));
  return { servers, domains };
}

export async function setDns(ctx: QuickContext): Promise<void> {
  const { dns, dnsSearch } = ctx.conf.interface;
  if (dns.length === 0) return;
  const tool = await dnsTool();
  if (tool === 'resolvectl') {
    ctx.undo({ kind: 'cmd', step: 'dns', argv: ['resolvectl', 'revert', ctx.ifname], bestEffort: true });
    await cmd(['resolvectl', 'dns', ctx.ifname, ...dns]);
    await cmd(['resolvectl', 'domain', ctx.ifname, '~.', ...dnsSearch]);
    await cmd(['resolvectl', 'default-route', ctx.ifname, 'yes']);
    return;
  }
  const name = `${await resolvconfPrefix()}${ctx.ifname}`;
  let input = dns.map((d) => `nameserver ${d}\n`).join('');
  if (dnsSearch.length > 0) input += `search ${dnsSearch.join(' ')}\n`;
  ctx.undo({ kind: 'cmd', step: 'dns', argv: ['resolvconf', '-d', name, '-f'], bestEffort: true });
  await cmd(['resolvconf', '-a', name, '-m', '0', '-x'], { input });
}
