/**
 * Kernel backend: WireGuard devices over generic netlink (the role of wg's ipc-linux.h). It only
 * translates: list = RTM_GETLINK dump of links of kind `wireguard` in ifindex order; get/set =
 * the `wireguard` genl family (src/netlink/wireguard.ts). Errors are WgError with the errno wg
 * would report: EPROTONOSUPPORT without the module, ENODEV for an unknown device, EOPNOTSUPP for a
 * link that is not WireGuard, ENAMETOOLONG for a name of 16 bytes or more.
 */
import { access } from 'node:fs/promises';
import { WgError, type Backend } from '../conf/backend.js';
import type { WgDevice } from '../conf/model.js';
import { wireguardLinks } from './rtnl.js';
import { GenlSocket } from './genl.js';
import { getDevice, setDevice, WG_GENL_NAME, WG_GENL_VERSION } from './wireguard.js';

function rethrow(e: unknown, what: string, name: string): never {
  if (e instanceof WgError) throw new WgError(e.errno, `Unable to ${what} interface ${name}`, { cause: e, hint: e.hint });
  throw e;
}

export class NetlinkBackend implements Backend {
  async list(): Promise<string[]> {
    return wireguardLinks();
  }

  async get(name: string): Promise<WgDevice> {
    try {
      return await getDevice(name);
    } catch (e) {
      return rethrow(e, 'access', name);
    }
  }

  async set(device: WgDevice): Promise<void> {
    try {
      await setDevice(device);
    } catch (e) {
      rethrow(e, 'modify', device.name);
    }
  }
}

/**
 * Whether the kernel WireGuard module can be used here: the `wireguard` generic netlink family
 * resolves (which may autoload the module) or /sys/module/wireguard exists (loaded or built in).
 * `WGTS_FORCE_USERSPACE=1` forces false. Used by `wgts quick` to pick kernel or userspace; a
 * link creation failing with EOPNOTSUPP remains the final word there.
 */
export async function kernelWireguardAvailable(): Promise<boolean> {
  if (process.env.WGTS_FORCE_USERSPACE === '1') return false;
  try {
    (await GenlSocket.open(WG_GENL_NAME, WG_GENL_VERSION)).close();
    return true;
  } catch {
    /* family absent, or no netlink at all */
  }
  try {
    await access('/sys/module/wireguard');
    return true;
  } catch {
    return false;
  }
}
