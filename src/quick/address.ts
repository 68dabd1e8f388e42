/** Step "address": each Address of the file on the link (`ip -4|-6 address add A dev IF`). Removed with the link. */
import type { QuickContext } from './context.js';
import { ipAddressAdd } from './ip.js';

export function familyFlag(cidr: string): '-4' | '-6' {
  return cidr.includes(':') ? '-6' : '-4';
}

export async function addAddresses(ctx: QuickContext): Promise<void> {
  for (const address of ctx.conf.interface.addresses) {
    await ipAddressAdd(familyFlag(address), address, ctx.ifname);
  }
}
