/**
 * The WireGuard link, as wg-quick's add_if: a kernel `wireguard` link over rtnetlink (narrated
 * `ip link add dev IF type wireguard`; creating it loads the module when it can be). When that fails
 * and the module is absent (no /sys/module/wireguard) — or WGTS_FORCE_USERSPACE=1 — a userspace
 * implementation makes the link instead: `wgts-userspace` by default, or
 * $WG_QUICK_USERSPACE_IMPLEMENTATION. As in wg-quick, that variable only names the fallback program;
 * it does not skip the kernel. Deleting the link also stops the userspace daemon (its TUN goes away)
 * and drops its routes.
 */
import { access, stat } from 'node:fs/promises';
import { narrate } from '../system/run.js';
import { uapiSocketPath } from '../uapi/socket-dir.js';
import type { QuickContext } from './context.js';
import { ipLinkAddWireguard, linkExists } from './ip.js';
import { cmd, haveProgram } from './system.js';

export { linkExists };

export const DEFAULT_USERSPACE = 'wgts-userspace';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function waitForSocket(ifname: string, deadlineMs: number): Promise<boolean> {
  const path = uapiSocketPath(ifname);
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

async function addUserspaceLink(ifname: string, impl: string): Promise<void> {
  await cmd([impl, ifname], { detachedStdio: true });
  // A daemon that does not wait for its UAPI socket before returning gets a short grace period.
  if (!(await waitForSocket(ifname, 5000)) && !(await linkExists(ifname))) {
    throw new Error(`${impl} did not create ${ifname}`);
  }
}

/** Step "link": kernel link, else the userspace fallback. Undo: delete the link. */
export async function addLink(ctx: QuickContext): Promise<void> {
  const { ifname } = ctx;
  // Recorded first (deleting a link that never came is a no-op): a crash mid-creation leaves nothing unnamed.
  ctx.undo({ kind: 'link-delete', step: 'link', ifname });
  const impl = process.env.WG_QUICK_USERSPACE_IMPLEMENTATION || DEFAULT_USERSPACE;
  if (process.env.WGTS_FORCE_USERSPACE === '1') {
    narrate(`[!] WGTS_FORCE_USERSPACE=1: using the userspace implementation, not the kernel module.`);
    await addUserspaceLink(ifname, impl);
  } else {
    try {
      await ipLinkAddWireguard(ifname);
    } catch (kernelError) {
      if ((await exists('/sys/module/wireguard')) || !(await haveProgram(impl))) throw kernelError;
      narrate('[!] Missing WireGuard kernel module. Falling back to slow userspace implementation.');
      await addUserspaceLink(ifname, impl);
    }
  }
}
