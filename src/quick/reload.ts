/**
 * `quick reload`: applies the difference between what `up` (or the last reload) applied — the
 * state file's `applied` record — and what the file says now, without taking the tunnel down.
 * wg-quick has no such command: `wg syncconf IF <(wg-quick strip IF)` covers [Peer] changes only,
 * and everything else needs down + up, which drops every session.
 *
 * - peers: syncconf semantics (src/conf/sync.ts): peers that stay are updated in place and keep
 *   their sessions; device fields only when the file gives them (a key set by PreUp, the fwmark of
 *   the default-route policy stay, as with addconf);
 * - Address lines removed and added; MTU (explicit, or auto again from the endpoints now);
 * - routes of the allowed IPs now on the device, in the table the file now names; the default-route
 *   policy (rules, fallback, firewall) switched on or off per family; the firewall's anti-spoofing
 *   rules follow changed addresses;
 * - DNS; --nat-via (kept as `up` was given it unless reload names another, or --no-nat-via);
 * - hooks only with --hooks: the old PreDown and PostDown, the new PreUp, the changes, the new PostUp.
 *
 * Every change is narrated as `up` narrates it. Each change registers its inverse; a failure (or
 * SIGINT/SIGTERM) runs them in reverse, so the tunnel is as before the reload. The journal follows
 * every change as it happens (an added rule is recorded before, a removed one forgotten after), so
 * `down` removes exactly what is there; while a reload runs, the state file says so, and a later
 * reload after a crash asks for down + up instead of guessing.
 */
import { formatAllowedIp } from '../conf/write.js';
import { syncDiff } from '../conf/sync.js';
import { KEY_LEN, type WgDevice, wipeDevice } from '../conf/model.js';
import { errorText } from '../system/ipc.js';
import { narrate } from '../system/run.js';
import { familyFlag } from './address.js';
import { parseWgPart } from './config.js';
import type { QuickContext } from './context.js';
import { requireWireGuard } from './down.js';
import { dnsTool, setDns } from './dns.js';
import { addFirewall } from './firewall.js';
import { runHooks } from './hooks.js';
import { familyOf, ipAddressAdd, ipAddressDelete, ipRouteAdd, ipRouteDelete, ipLinkSetMtuUp, linkMtu, routeCovered } from './ip.js';
import { type Applied, type AppliedRoute, Journal, type UndoAction, loadState, replay, withTunnelLock } from './journal.js';
import { autoMtu } from './mtu.js';
import { addNat, checkNat, networkOf } from './nat.js';
import { addDefaultRoute, chooseTable } from './policy.js';
import { isAutoTable, orderRoutes } from './routes.js';
import { QuickError, type QuickTarget, makeContext } from './target.js';
import { appliedOf, exitCodeOf, messageOf } from './up.js';
import { ifindexOfName } from './system.js';

export interface ReloadOptions {
  /** Run the old PreDown/PostDown and the new PreUp/PostUp. */
  hooks?: boolean;
  /** `--no-nat-via`: stop being a NAT gateway. */
  noNatVia?: boolean;
}

// ---------------------------------------------------------------------------------------------
// The difference (pure)

/** Items of `next` not in `prev`, and of `prev` not in `next`, by key, each in its list's order. */
export function listDiff<T>(prev: readonly T[], next: readonly T[], key: (t: T) => string = String): { added: T[]; removed: T[] } {
  const p = new Set(prev.map(key));
  const n = new Set(next.map(key));
  return { added: next.filter((t) => !p.has(key(t))), removed: prev.filter((t) => !n.has(key(t))) };
}

export function routeKey(r: AppliedRoute): string {
  return `${r.table ?? 'main'} ${r.cidr}`;
}

/** The plain (non-policy) routes the file asks for, given the allowed IPs on the device, wg-quick's order. */
export function wantedRoutes(allowedIps: readonly string[], table: string | undefined): AppliedRoute[] {
  if (table === 'off') return [];
  return orderRoutes(allowedIps).flatMap((cidr): AppliedRoute[] => {
    if (!isAutoTable(table)) return [{ cidr, table: table! }];
    return cidr.endsWith('/0') ? [] : [{ cidr }];
  });
}

/** The default routes (`/0`) that need the policy: Table auto (or unset) only. */
export function wantedPolicy(allowedIps: readonly string[], table: string | undefined): string[] {
  return isAutoTable(table) ? orderRoutes(allowedIps).filter((c) => c.endsWith('/0')) : [];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---------------------------------------------------------------------------------------------
// Applying it

type Inverse = () => Promise<void>;

class Reload {
  /** Inverses of what was done, in order; run in reverse on failure. */
  readonly inverses: Inverse[] = [];
  constructor(
    readonly ctx: QuickContext,
    readonly journal: Journal,
    /** The routes on the link now (kept current as routes come and go). */
    readonly routes: AppliedRoute[],
  ) {}

  /** Cleanups run when the reload ends either way (wiping keys kept for a rollback). */
  readonly cleanups: (() => void)[] = [];

  done(inverse: Inverse): void {
    this.inverses.push(inverse);
  }

  finally(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  /** Journal entries of one family's default-route policy (fallback, rules, firewall). */
  policyActions(family: 4 | 6): UndoAction[] {
    return this.journal.actions.filter(
      (a) =>
        (a.kind === 'rule-delete' && a.family === family) ||
        (a.kind === 'route-delete' && a.family === family) ||
        (a.kind === 'cmd' && a.step === 'firewall' && a.family === family),
    );
  }

  /**
   * Runs a change that records its undo in the journal (setDns, addNat, addDefaultRoute...). Its
   * inverse — undo what it recorded, then `restore` — is registered first, so a change that fails
   * halfway is taken back too. What it recorded is read at rollback time: the entries new since it
   * started (later steps' entries are gone by then, undone and forgotten by their own inverses).
   */
  async recorded(change: () => Promise<void>, restore?: Inverse): Promise<void> {
    const existing = new Set(this.journal.actions);
    this.done(async () => {
      await this.undoNow(this.journal.actions.filter((a) => !existing.has(a)));
      await restore?.();
    });
    await change();
  }

  /** Undoes journal entries now (in reverse) and forgets them. */
  async undoNow(actions: UndoAction[]): Promise<void> {
    if (actions.length === 0) return;
    await replay(actions, this.ctx.ifname);
    this.journal.forget(actions);
  }
}

/**
 * The device as it was (`before`, from a get) as a setconf-style model: every peer with its allowed
 * IPs replaced, device fields only where they differ now (re-sending an unchanged key or port is not
 * free for every implementation). Shares `before`'s keys: wiped with it.
 */
export function restoreModel(before: WgDevice, now: WgDevice): WgDevice {
  const model: WgDevice = {
    name: now.name,
    replacePeers: true,
    peers: before.peers.map((p) => ({
      publicKey: p.publicKey,
      presharedKey: p.presharedKey ?? new Uint8Array(KEY_LEN),
      ...(p.endpoint ? { endpoint: p.endpoint } : {}),
      persistentKeepalive: p.persistentKeepalive ?? 0,
      allowedIps: p.allowedIps,
      replaceAllowedIps: true,
    })),
  };
  const same = (a?: Uint8Array, b?: Uint8Array): boolean => (a === undefined ? b === undefined : b !== undefined && a.every((x, i) => x === b[i]));
  if (!same(before.privateKey, now.privateKey)) model.privateKey = before.privateKey ?? new Uint8Array(KEY_LEN);
  if ((before.listenPort ?? 0) !== (now.listenPort ?? 0)) model.listenPort = before.listenPort ?? 0;
  if ((before.fwmark ?? 0) !== (now.fwmark ?? 0)) model.fwmark = before.fwmark ?? 0;
  return model;
}

async function syncPeers(r: Reload, file: WgDevice): Promise<void> {
  const { ctx } = r;
  const backend = await ctx.backend();
  narrate(`[#] wgts syncconf ${ctx.ifname} <(wgts quick strip ${ctx.configFile})`);
  const before = await backend.get(ctx.ifname);
  const apply = async (model: WgDevice): Promise<void> => {
    const runtime = await backend.get(ctx.ifname);
    try {
      model.replacePeers = true;
      syncDiff(model, runtime);
      await backend.set(model);
    } finally {
      wipeDevice(runtime);
    }
  };
  // registered first: a set that fails half-way is put back too
  r.done(async () => {
    narrate(`[#] wgts syncconf ${ctx.ifname} <(the configuration before the reload)`);
    const runtime = await backend.get(ctx.ifname);
    try {
      await backend.set(syncDiff(restoreModel(before, runtime), runtime));
    } finally {
      wipeDevice(runtime);
    }
  });
  r.finally(() => wipeDevice(before));
  try {
    await apply(file);
  } catch (e) {
    throw new QuickError(`Unable to modify interface: ${errorText(e)}`, { cause: e });
  } finally {
    wipeDevice(file);
  }
}

async function syncAddresses(r: Reload, prev: readonly string[]): Promise<void> {
  const { ctx } = r;
  const { added, removed } = listDiff(prev, ctx.conf.interface.addresses);
  for (const a of added) {
    await ipAddressAdd(familyFlag(a), a, ctx.ifname);
    r.done(() => ipAddressDelete(familyFlag(a), a, ctx.ifname));
  }
  for (const a of removed) {
    await ipAddressDelete(familyFlag(a), a, ctx.ifname);
    r.done(() => ipAddressAdd(familyFlag(a), a, ctx.ifname));
  }
}

async function syncMtu(r: Reload): Promise<void> {
  const { ctx } = r;
  const text = ctx.conf.interface.mtuText ?? String(await autoMtu(ctx));
  const current = await linkMtu(ctx.ifname);
  if (current !== undefined && String(current) === text) return;
  await ipLinkSetMtuUp(text, ctx.ifname);
  if (current !== undefined) r.done(() => ipLinkSetMtuUp(String(current), ctx.ifname));
}

async function syncDns(r: Reload, prev: Applied): Promise<void> {
  const { ctx } = r;
  const i = ctx.conf.interface;
  if (sameList(prev.dns, i.dns) && sameList(prev.dnsSearch, i.dnsSearch)) return;
  const old = r.journal.actions.filter((a) => a.step === 'dns');
  await r.undoNow(old);
  const oldCtx = { ...ctx, conf: { ...ctx.conf, interface: { ...i, dns: prev.dns, dnsSearch: prev.dnsSearch } } };
  await r.recorded(() => setDns(ctx), () => setDns(oldCtx));
}

/** Plain routes: the ones the file no longer asks for go, new ones come (skipped when covered, as up). */
async function syncRoutes(r: Reload, allowedIps: readonly string[]): Promise<void> {
  const { ctx } = r;
  const wanted = wantedRoutes(allowedIps, ctx.conf.interface.table);
  const plain = r.routes.filter((x) => !x.policy);
  const { added, removed } = listDiff(plain, wanted, routeKey);
  for (const route of added) {
    const proto = familyFlag(route.cidr);
    if (route.table === undefined && (await routeCovered(ctx.ifname, route.cidr))) continue;
    await ipRouteAdd(proto, route.cidr, ctx.ifname, route.table);
    r.routes.push(route);
    r.done(async () => {
      await ipRouteDelete(proto, route.cidr, ctx.ifname, route.table);
      r.routes.splice(r.routes.indexOf(route), 1);
    });
  }
  for (const route of removed) {
    const proto = familyFlag(route.cidr);
    try {
      await ipRouteDelete(proto, route.cidr, ctx.ifname, route.table);
    } catch {
      /* already gone (told on stderr): it is not there, which is what was asked */
    }
    r.routes.splice(r.routes.indexOf(route), 1);
    r.done(async () => {
      await ipRouteAdd(proto, route.cidr, ctx.ifname, route.table);
      r.routes.push(route);
    });
  }
}

/** The default-route policy per family: on, off, or its firewall renewed for changed addresses. */
async function syncPolicy(r: Reload, allowedIps: readonly string[], addressesChanged: boolean): Promise<void> {
  const { ctx } = r;
  const wanted = wantedPolicy(allowedIps, ctx.conf.interface.table);
  for (const family of [4, 6] as const) {
    const want = wanted.find((c) => familyOf(familyFlag(c)) === family);
    const have = r.routes.find((x) => x.policy && familyOf(familyFlag(x.cidr)) === family);
    if (want && !have) {
      await r.recorded(
        () => addDefaultRoute(ctx, want), // pushes its route to ctx.routes (= r.routes)
        async () => {
          const route = r.routes.find((x) => x.policy && x.cidr === want);
          if (route) {
            await ipRouteDelete(familyFlag(want), want, ctx.ifname, route.table).catch(() => undefined);
            r.routes.splice(r.routes.indexOf(route), 1);
          }
        },
      );
    } else if (have && !want) {
      // rules first (traffic goes back to the main table at once), then the table's routes
      await r.undoNow(r.policyActions(family));
      await ipRouteDelete(familyFlag(have.cidr), have.cidr, ctx.ifname, have.table).catch(() => undefined);
      r.routes.splice(r.routes.indexOf(have), 1);
      r.done(() => addDefaultRoute(ctx, have.cidr));
    } else if (have && want && addressesChanged) {
      const proto = familyFlag(have.cidr);
      const old = r.journal.actions.filter((a) => a.kind === 'cmd' && a.step === 'firewall' && a.family === family);
      await r.undoNow(old);
      const table = await chooseTable(ctx);
      await r.recorded(
        () => addFirewall(ctx, proto, table),
        () => addFirewall(ctx, proto, table),
      );
    }
  }
}

async function syncNat(r: Reload, prev: Applied): Promise<void> {
  const { ctx } = r;
  const via = ctx.options.natVia;
  const nets = (list: readonly string[]): string[] => list.map((a) => networkOf(a).cidr);
  const sameNets = sameList(nets(prev.addresses), nets(ctx.conf.interface.addresses));
  if (via === prev.natVia && (via === undefined || sameNets)) return;
  const rules = r.journal.actions.filter((a) => a.step === 'nat' && a.kind === 'cmd');
  const sysctls = via === undefined ? r.journal.actions.filter((a) => a.step === 'nat' && a.kind === 'sysctl') : [];
  await r.undoNow([...sysctls, ...rules]);
  const held = sysctls.flatMap((a) => (a.kind === 'sysctl' ? [a.holds] : []));
  r.journal.forget([], held);
  const { natVia: _, ...others } = ctx.options;
  const oldCtx: QuickContext = {
    ...ctx,
    options: prev.natVia !== undefined ? { ...others, natVia: prev.natVia } : others,
    conf: { ...ctx.conf, interface: { ...ctx.conf.interface, addresses: prev.addresses } },
  };
  await r.recorded(
    () => addNat(ctx),
    () => addNat(oldCtx),
  );
}

async function allowedIpsOf(ctx: QuickContext): Promise<string[]> {
  const device = await (await ctx.backend()).get(ctx.ifname);
  try {
    return device.peers.flatMap((p) => p.allowedIps.map(formatAllowedIp));
  } finally {
    wipeDevice(device);
  }
}

/** Checks that need nothing changed: the tunnel is ours and whole, the new file's tools exist. */
async function preflight(target: QuickTarget): Promise<{ state: NonNullable<Awaited<ReturnType<typeof loadState>>>; applied: Applied }> {
  const state = await loadState(target.ifname);
  const ifindex = ifindexOfName(target.ifname);
  if (!state) throw new QuickError(`\`${target.ifname}' was not brought up by \`wgts quick up' (no state file): nothing to reload`);
  if (ifindex === undefined || (state.ifindex !== undefined && state.ifindex !== ifindex)) {
    throw new QuickError(`\`${target.ifname}' is gone (or is not the link \`up' made): use \`down', then \`up'`);
  }
  if (!state.applied) {
    throw new QuickError(`no record of what \`up' applied to \`${target.ifname}' (it did not finish, or an older wgts brought it up): use \`down', then \`up'`);
  }
  if (state.reloading) throw new QuickError(`an earlier reload of \`${target.ifname}' did not finish: use \`down', then \`up'`);
  await requireWireGuard(target.ifname);
  if (target.conf.interface.dns.length > 0 && (await dnsTool()) === 'none') {
    throw new QuickError('DNS is set, but neither resolvconf nor resolvectl (systemd-resolved) is available');
  }
  const natProblem = await checkNat(target);
  if (natProblem) throw new QuickError(natProblem);
  return { state, applied: state.applied };
}

export async function reload(given: QuickTarget, options: ReloadOptions = {}): Promise<void> {
  await withTunnelLock(given.ifname, () => reloadLocked(given, options));
}

async function reloadLocked(given: QuickTarget, options: ReloadOptions): Promise<void> {
  // --nat-via kept from the state unless named again or turned off
  const natVia = options.noNatVia ? undefined : (given.options.natVia ?? (await loadState(given.ifname))?.applied?.natVia);
  const { natVia: _, ...others } = given.options;
  const target: QuickTarget = { ...given, options: natVia !== undefined ? { ...others, natVia } : others };
  const { state, applied } = await preflight(target);
  const file = await parseWgPart(target);
  const journal = await Journal.open(state);
  const r = new Reload(makeContext(target, journal), journal, applied.routes.map((x) => ({ ...x })));
  r.ctx.routes = r.routes;
  const i = target.conf.interface;

  const steps: { name: string; run: () => Promise<void> }[] = [
    ...(options.hooks
      ? [
          { name: 'PreDown', run: () => runHooks(applied.preDown, r.ctx) },
          { name: 'PostDown', run: () => runHooks(applied.postDown, r.ctx) },
          { name: 'PreUp', run: () => runHooks(i.preUp, r.ctx) },
        ]
      : []),
    { name: 'config', run: () => syncPeers(r, file) },
    { name: 'address', run: () => syncAddresses(r, applied.addresses) },
    { name: 'mtu', run: () => syncMtu(r) },
    { name: 'dns', run: () => syncDns(r, applied) },
    {
      name: 'routes',
      run: async () => {
        const allowed = await allowedIpsOf(r.ctx);
        await syncRoutes(r, allowed);
        await syncPolicy(r, allowed, !sameList(applied.addresses, i.addresses));
      },
    },
    { name: 'nat', run: () => syncNat(r, applied) },
    ...(options.hooks ? [{ name: 'PostUp', run: () => runHooks(i.postUp, r.ctx) }] : []),
  ];

  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted = sig;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const oldConfigFile = state.configFile;
  journal.update({ reloading: true, configFile: target.configFile });
  try {
    for (const step of steps) {
      try {
        await step.run();
        if (interrupted) throw new QuickError(`interrupted by ${interrupted}`);
      } catch (e) {
        const complete = await rollBack(r);
        if (complete) journal.update({ reloading: false, configFile: oldConfigFile });
        throw new QuickError(
          `reload step \`${step.name}' failed: ${messageOf(e)}; ${complete ? 'the tunnel is as it was before the reload' : 'the tunnel could not be put back entirely'}`,
          { cause: e, exitCode: exitCodeOf(e) },
        );
      }
    }
    const next = await appliedOf(r.ctx);
    journal.update({ applied: next, reloading: false });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const cleanup of r.cleanups) cleanup();
  }
}

/** Runs the inverses in reverse; true when every one succeeded. */
async function rollBack(r: Reload): Promise<boolean> {
  let complete = true;
  for (const inverse of [...r.inverses].reverse()) {
    try {
      await inverse();
    } catch (e) {
      complete = false;
      process.stderr.write(`[!] rollback of the reload was incomplete: ${messageOf(e)}\n`);
    }
  }
  return complete;
}
