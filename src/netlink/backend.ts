/**
 * Kernel backend: WireGuard devices over generic netlink. Placeholder until src/netlink lands: it
 * answers as wg does on a machine without the module (EPROTONOSUPPORT, "Protocol not supported").
 */
import { WgError, type Backend } from '../conf/backend.js';
import type { WgDevice } from '../conf/model.js';

export class NetlinkBackend implements Backend {
  async list(): Promise<string[]> {
    return [];
  }
  async get(name: string): Promise<WgDevice> {
    throw new WgError(93, `Unable to access interface ${name}`);
  }
  async set(device: WgDevice): Promise<void> {
    throw new WgError(93, `Unable to modify interface ${device.name}`);
  }
}
