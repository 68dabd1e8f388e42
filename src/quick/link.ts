/**
 * The WireGuard link: created in the kernel when it can be, else by a userspace implementation
 * (`wgts-userspace` by default, or $WG_QUICK_USERSPACE_IMPLEMENTATION, as wg-quick's add_if).
 * Deleting the link also stops the userspace daemon (its TUN goes away) and drops its routes.
 */
import { access, stat } from 'node:fs/promises';
import { cmd, haveProgram, narrate, query } from '../cli/run.js';
import type { QuickContext } from './context.js';

export const DEFAULT_USERSPACE = 'wgts-userspace';

/** `ip link show dev IF` prints something: the name is taken (by any kind of link). */
export async function linkExists(ifname: string): Promise<boolean> {
  const r = await query(['ip', 'link', 'show', 'dev', ifname]);
  return r.exitCode === 0 && r.stdout.trim() !== '';
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function waitForSocket(ifname: string, deadlineMs: number): Promise<boolean> {
  const path = `/var/run/wireguard/${ifname}.sock`;
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      if ((await stat(path)).isSocket()) return true;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Step "link": kernel link, else the userspace fallback. Undo: `ip link delete dev IF`. */
export async function addLink(ctx: QuickContext): Promise<void> {
  const { ifname } = ctx;
  try {
    await cmd(['ip', 'link', 'add', 'dev', ifname, 'type', 'wireguard']);
  } catch (kernelError) {
    const impl = process.env.WG_QUICK_USERSPACE_IMPLEMENTATION || DEFAULT_USERSPACE;
    if ((await exists('/sys/module/wireguard')) || !(await haveProgram(impl))) throw kernelError;
    narrate('[!] Missing WireGuard kernel module. Falling back to slow userspace implementation.');
    await cmd([impl, ifname], { detachedStdio: true });
    // A daemon that does not wait for its UAPI socket before returning gets a short grace period.
    if (!(await waitForSocket(ifname, 5000)) && !(await linkExists(ifname))) {
      throw new Error(`${impl} did not create ${ifname}`);
    }
    // Whatever the implementation left behind, deleting the link is how it is undone.
  }
  ctx.undo({ kind: 'cmd', step: 'link', argv: ['ip', 'link', 'delete', 'dev', ifname] });
}
