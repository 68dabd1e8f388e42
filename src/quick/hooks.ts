/**
 * PreUp / PostUp / PreDown / PostDown: each snippet in file order, `%i` expanded, run by bash (run.ts).
 * wg-quick evaluates hooks inside its own shell, so configs in the wild use its variables; each hook
 * gets them with wg-quick's names and values (wg-quick(8), the script's globals after parse_options):
 * INTERFACE, CONFIG_FILE (canonical path), ADDRESSES, DNS, DNS_SEARCH (arrays, split as wg-quick
 * splits them), MTU and TABLE (as written, empty when unset), SAVE_CONFIG (0 or 1), PRE_UP, POST_UP,
 * PRE_DOWN, POST_DOWN (the hooks as written, `%i` unexpanded), WG_CONFIG (the stripped config, each
 * line ending in a newline), and `hook`, the hook being run. wg-quick's bookkeeping (PROGRAM, ARGS,
 * SELF, HAVE_SET_DNS, HAVE_SET_FIREWALL) is not imitated.
 */
import { shellQuote, type HookShell } from '../system/run.js';
import type { QuickContext } from './context.js';
import { hook } from './system.js';

/** The assignments that give a hook wg-quick's variables. */
export function hookVariables(ctx: Pick<QuickContext, 'ifname' | 'configFile' | 'conf'>): string {
  const i = ctx.conf.interface;
  const scalar = (name: string, value: string): string => `${name}=${shellQuote(value)}\n`;
  const array = (name: string, values: readonly string[]): string => `${name}=(${values.map(shellQuote).join(' ')})\n`;
  return (
    scalar('INTERFACE', ctx.ifname) +
    scalar('CONFIG_FILE', ctx.configFile) +
    array('ADDRESSES', i.addresses) +
    scalar('MTU', i.mtuText ?? '') +
    array('DNS', i.dns) +
    array('DNS_SEARCH', i.dnsSearch) +
    scalar('TABLE', i.table ?? '') +
    array('PRE_UP', i.preUp) +
    array('POST_UP', i.postUp) +
    array('PRE_DOWN', i.preDown) +
    array('POST_DOWN', i.postDown) +
    scalar('SAVE_CONFIG', i.saveConfig ? '1' : '0') +
    scalar('WG_CONFIG', ctx.conf.wgText)
  );
}

/** Runs one phase's hooks (`hooks` is one of the conf's lists), each seeing wg-quick's variables. */
export async function runHooks(hooks: readonly string[], ctx: Pick<QuickContext, 'ifname' | 'configFile' | 'conf'>): Promise<void> {
  const shell: HookShell = { variables: hookVariables(ctx), args: hooks };
  for (const text of hooks) await hook(text, ctx.ifname, shell);
}
