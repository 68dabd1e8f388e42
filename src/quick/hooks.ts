import { hook } from './system.js';
/** PreUp / PostUp / PreDown / PostDown: each snippet in file order, `%i` expanded, run by bash (run.ts). */

export async function runHooks(hooks: readonly string[], ifname: string): Promise<void> {
  for (const text of hooks) await hook(text, ifname);
}
