/** PreUp / PostUp / PreDown / PostDown: each snippet in file order, `%i` expanded, run by bash (run.ts). */
import { hook } from '../system/run.js';

export async function runHooks(hooks: readonly string[], ifname: string): Promise<void> {
  for (const text of hooks) await hook(text, ifname);
}
