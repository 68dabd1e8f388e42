/**
 * `quick up`: ordered steps (upstream wg-quick's order), each recording its undo in the journal.
 * If a step fails — or SIGINT/SIGTERM arrives — everything already done is undone in reverse and the
 * user is told which step failed and why. Checks that need nothing created (config syntax, name in
 * use, DNS tooling, --nat-via) run first, so most mistakes never create a half-made tunnel.
 */
import { addAddresses } from './address.js';
import { parseWgPart, pushConfig } from './config.js';
import type { QuickContext } from './context.js';
import { dnsTool, setDns } from './dns.js';
import { runHooks } from './hooks.js';
import { ifindexOfName } from '../netlink/ifindex.js';
import { type UndoAction, replay, saveState } from './journal.js';
import { addLink, linkExists } from './link.js';
import { setMtuUp } from './mtu.js';
import { addNat, checkNat } from './nat.js';
import { addRoutes } from './routes.js';
import { QuickError, type QuickTarget, makeContext } from './target.js';

export interface Step {
  /** Short name used in "step X failed" messages. */
  name: string;
  run(ctx: QuickContext): Promise<void>;
}

/** Fails before anything is touched. */
async function preflight(ctx: QuickContext): Promise<void> {
  if (await linkExists(ctx.ifname)) throw new QuickError(`\`${ctx.ifname}' already exists`);
  if (ctx.conf.interface.dns.length > 0 && (await dnsTool()) === 'none') {
    throw new QuickError('DNS is set, but neither resolvconf nor resolvectl (systemd-resolved) is available');
  }
  const natProblem = await checkNat(ctx);
  if (natProblem) throw new QuickError(natProblem);
}

export async function up(target: QuickTarget): Promise<void> {
  const journal: UndoAction[] = [];
  const holds: string[] = [];
  const ctx = makeContext(target, journal, holds);
  await preflight(ctx);
  const device = await parseWgPart(ctx);

  const steps: Step[] = [
    { name: 'link', run: addLink },
    { name: 'PreUp', run: (c) => runHooks(c.conf.interface.preUp, c.ifname) },
    { name: 'config', run: (c) => pushConfig(c, device) },
    { name: 'address', run: addAddresses },
    { name: 'mtu', run: setMtuUp },
    { name: 'dns', run: setDns },
    { name: 'routes', run: addRoutes },
    { name: 'nat', run: addNat },
    { name: 'PostUp', run: (c) => runHooks(c.conf.interface.postUp, c.ifname) },
  ];

  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted = sig;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const step of steps) {
      try {
        await step.run(ctx);
        if (interrupted) throw new QuickError(`interrupted by ${interrupted}`);
      } catch (e) {
        await rollBack(journal, ctx.ifname);
        throw new QuickError(`step \`${step.name}' failed: ${messageOf(e)}; everything done before it was undone`, {
          cause: e,
          exitCode: exitCodeOf(e),
        });
      }
    }
    const ifindex = ifindexOfName(ctx.ifname);
    await saveState({ ifname: ctx.ifname, configFile: ctx.configFile, ...(ifindex !== undefined ? { ifindex } : {}), journal, holds });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function rollBack(journal: UndoAction[], ifname: string): Promise<void> {
  try {
    await replay(journal, ifname, true);
  } catch (e) {
    process.stderr.write(`[!] rollback was incomplete: ${messageOf(e)}\n`);
  }
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A failing command keeps its own exit status, as wg-quick's `set -e` does; anything else is 1. */
export function exitCodeOf(e: unknown): number {
  const code = (e as { exitCode?: unknown } | undefined)?.exitCode;
  return typeof code === 'number' && code > 0 ? code : 1;
}
