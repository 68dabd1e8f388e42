/**
 * `quick up`: ordered steps (upstream wg-quick's order), each recording its undo in the journal.
 * If a step fails — or SIGINT/SIGTERM arrives — everything already done is undone in reverse and the
 * user is told which step failed and why. Checks that need nothing created (config syntax, name in
 * use, DNS tooling, --nat-via) run first, so most mistakes never create a half-made tunnel.
 *
 * The journal is on disk from before the first change (journal.ts), so a `up` killed outright is
 * cleaned up by `down`; and an `up` that finds the state file of an earlier run whose link is gone
 * (killed, or its userspace daemon died) first removes what that run left (policy rules, nft tables,
 * NAT, DNS) — without its hooks — so nothing is duplicated.
 */
import { addAddresses } from './address.js';
import { parseWgPart, pushConfig } from './config.js';
import type { QuickContext } from './context.js';
import { dnsTool, setDns } from './dns.js';
import { runHooks } from './hooks.js';
import { type Applied, Journal, loadState, dropState, replay, withTunnelLock } from './journal.js';
import { addLink, linkExists } from './link.js';
import { linkMtu } from './ip.js';
import { narrate } from '../system/run.js';
import { setMtuUp } from './mtu.js';
import { addNat, checkNat } from './nat.js';
import { addRoutes } from './routes.js';
import { QuickError, type QuickTarget, makeContext } from './target.js';
import { ifindexOfName } from './system.js';

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

/** Removes what an earlier run of this tunnel left behind (its link is gone: see preflight). */
export async function clearStale(ifname: string): Promise<void> {
  const stale = await loadState(ifname);
  if (!stale) return;
  narrate(`[!] Removing what an earlier \`up' of ${ifname} left behind (it was killed, or its device went away)`);
  try {
    await replay(stale.journal, ifname);
  } catch (e) {
    narrate(`[!] Some of it could not be removed: ${messageOf(e)}`);
  }
  await dropState(ifname);
}

/** What this `up` applied, kept in the state file for `reload`. */
export async function appliedOf(ctx: QuickContext): Promise<Applied> {
  const i = ctx.conf.interface;
  return {
    addresses: [...i.addresses],
    mtu: (await linkMtu(ctx.ifname)) ?? 0,
    autoMtu: i.mtuText === undefined,
    dns: [...i.dns],
    dnsSearch: [...i.dnsSearch],
    ...(i.table !== undefined ? { table: i.table } : {}),
    routes: ctx.routes,
    ...(ctx.options.natVia !== undefined ? { natVia: ctx.options.natVia } : {}),
    preDown: [...i.preDown],
    postDown: [...i.postDown],
  };
}

export async function up(target: QuickTarget): Promise<void> {
  await withTunnelLock(target.ifname, () => upLocked(target));
}

async function upLocked(target: QuickTarget): Promise<void> {
  await preflight(makeContext(target));
  const device = await parseWgPart(target);
  await clearStale(target.ifname);
  const journal = await Journal.open({ ifname: target.ifname, configFile: target.configFile, journal: [], holds: [] });
  const ctx = makeContext(target, journal);

  const steps: Step[] = [
    {
      name: 'link',
      run: async (c) => {
        await addLink(c);
        const ifindex = ifindexOfName(c.ifname);
        if (ifindex !== undefined) journal.update({ ifindex });
      },
    },
    { name: 'PreUp', run: (c) => runHooks(c.conf.interface.preUp, c) },
    { name: 'config', run: (c) => pushConfig(c, device) },
    { name: 'address', run: addAddresses },
    { name: 'mtu', run: setMtuUp },
    { name: 'dns', run: setDns },
    { name: 'routes', run: addRoutes },
    { name: 'nat', run: addNat },
    { name: 'PostUp', run: (c) => runHooks(c.conf.interface.postUp, c) },
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
        await rollBack(journal);
        throw new QuickError(`step \`${step.name}' failed: ${messageOf(e)}; everything done before it was undone`, {
          cause: e,
          exitCode: exitCodeOf(e),
        });
      }
    }
    journal.update({ applied: await appliedOf(ctx) });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Undoes a failed up; the state file stays only if something could not be undone (for `down`). */
async function rollBack(journal: Journal): Promise<void> {
  try {
    await replay(journal.actions, journal.state.ifname, true);
    await journal.drop();
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
