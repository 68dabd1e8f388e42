/** Step "address": each Address of the file on the link (`ip -4|-6 address add A dev IF`). Removed with the link. */
import { cmd } from '../cli/run.js';
import type { QuickContext } from './context.js';

export function familyFlag(cidr: string): '-4' | '-6' {
  return cidr.includes(':') ? '-6' : '-4';
}

export async function addAddresses(ctx: QuickContext): Promise<void> {
  for (const address of ctx.conf.interface.addresses) {
    await cmd(['ip', familyFlag(address), 'address', 'add', address, 'dev', ctx.ifname]);
  }
}
