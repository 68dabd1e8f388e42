/**
 * The undo journal: every step of `up` records, as plain data, how to take back what it did.
 * Rollback replays the journal in reverse at once; `down` (another process, maybe much later)
 * replays the state file so it removes exactly what this `up` added — not another tunnel's rules.
 *
 * Crash safety: the state file is written before the first change and again, synced (file and
 * directory), each time an undo is recorded — and an undo is recorded BEFORE the change it takes
 * back wherever the undo is harmless when the change never happened (deleting a link that is not
 * there, `nft` add-then-delete of a table, `resolvconf -d -f`). A change whose undo needs what the
 * kernel answers (a rule's priority) is recorded first as an intent and amended after. So after
 * SIGKILL, OOM or power loss at any point, the state file names everything that may exist, and
 * `down` (or the next `up`) removes it.
 *
 * State files live in /run/wgts/quick/, one per interface and network namespace (the same name may
 * exist in several namespaces), mode 0600 in a 0700 directory.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Family } from '../conf/model.js';
import { QUICK_CONFIG_DIR } from '../conf/quick.js';
import { RTN_UNREACHABLE } from '../netlink/rtnl.js';
import { writeFileAtomicSync } from '../system/atomic-write.js';
import { ipLinkDelete, ipRouteDeleteSpec, ipRuleDelete, linkExists, listRules, tableId } from './ip.js';
import { cmd } from './system.js';

export type UndoAction =
  /** Run a command (narrated); `bestEffort` failures are reported but do not stop the replay. */
  | { kind: 'cmd'; step: string; argv: string[]; input?: string; shown?: string; bestEffort?: boolean; rollbackOnly?: boolean; family?: Family }
  /** Delete the link over rtnetlink (narrated `ip link delete dev IF`): takes routes, addresses, a userspace daemon. */
  | { kind: 'link-delete'; step: string; ifname: string; bestEffort?: boolean; rollbackOnly?: boolean }
  /**
   * Delete one policy rule by priority and table over rtnetlink (`ip -4|-6 rule delete pref N table T`).
   * Without `priority` (an intent: the rule may or may not have been added when the process died)
   * the rule is found by its fields: the lowest-priority match not named by another tunnel's journal
   * (the kernel puts a rule added without priority above all others but the local one).
   */
  | {
      kind: 'rule-delete';
      step: string;
      family: Family;
      priority?: number;
      table: number;
      fwmark?: number;
      invert?: boolean;
      suppressPrefixlen?: number;
      bestEffort?: boolean;
      rollbackOnly?: boolean;
    }
  /** Delete a route that outlives the link (`ip -4|-6 route delete unreachable DST table T metric M`); absent is fine. */
  | { kind: 'route-delete'; step: string; family: Family; dst: string; table: number; metric: number; unreachable: true; rollbackOnly?: boolean }
  /**
   * Put a sysctl back to `previous`, unless another live wgts tunnel in this namespace still needs it
   * (its state file has a `holds` entry for the same key) — NAT forwarding is shared.
   */
  | { kind: 'sysctl'; step: string; key: string; previous: string; holds: string; rollbackOnly?: boolean };

export interface QuickState {
  ifname: string;
  configFile: string;
  /** The link's ifindex, recorded as soon as `up` made it: a state file for an older link of the same name is stale. */
  ifindex?: number;
  /** Journal in the order `up` recorded it; replayed in reverse. */
  journal: UndoAction[];
  /** Shared resources this tunnel relies on (e.g. `sysctl:net.ipv4.ip_forward`). */
  holds: string[];
  /** What `up` (or the last reload) applied, for `reload` to compare with the file; set once up finished. */
  applied?: Applied;
  /** A reload is under way (or was killed): `applied` may not describe the tunnel. */
  reloading?: boolean;
}

/** A route `up` added on the link (it goes with the link: no undo of its own). */
export interface AppliedRoute {
  cidr: string;
  /** As given to `ip route add ... table T`; undefined for the main table. */
  table?: string;
  /** The default route of the auto-table policy (rules, firewall, fallback in table `table`). */
  policy?: boolean;
}

export interface Applied {
  addresses: string[];
  /** The MTU set on the link, and whether it was computed (no MTU line). */
  mtu: number;
  autoMtu: boolean;
  dns: string[];
  dnsSearch: string[];
  table?: string;
  routes: AppliedRoute[];
  natVia?: string;
  /** The hooks of the file that is in force, for `reload --hooks` (the old PreDown/PostDown). */
  preDown: string[];
  postDown: string[];
}

export const STATE_DIR = process.env.WGTS_QUICK_STATE_DIR ?? '/run/wgts/quick';

/** This process's network namespace, as the inode number in /proc/self/ns/net (`net:[4026531840]`). */
export async function netnsId(): Promise<string> {
  try {
    const link = await readlink('/proc/self/ns/net');
    return /\[(\d+)\]/.exec(link)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function statePath(ifname: string): Promise<string> {
  return join(STATE_DIR, `${ifname}@${await netnsId()}.json`);
}

/**
 * The state file of one tunnel, kept on disk as it changes: every record() is written and synced
 * before the caller goes on to make the change (synchronous on purpose: nothing else may run
 * between the record and the change it announces).
 */
export class Journal {
  private constructor(
    readonly state: QuickState,
    private readonly path: string,
  ) {}

  /** Starts a state file (before anything is created), or takes over an existing one (reload). */
  static async open(state: QuickState): Promise<Journal> {
    await mkdir(STATE_DIR, { recursive: true, mode: 0o700 });
    const journal = new Journal(state, await statePath(state.ifname));
    journal.persist();
    return journal;
  }

  persist(): void {
    // A fixed temporary name: one left by a killed `up` is replaced, not left beside the state files.
    writeFileAtomicSync(this.path, JSON.stringify(this.state, null, 1) + '\n', { tmp: `${this.path}.tmp` });
  }

  get actions(): UndoAction[] {
    return this.state.journal;
  }

  /** Records an undo; returns a function that replaces it (an intent made precise) by other actions. */
  record(action: UndoAction): (replacement: UndoAction[]) => void {
    this.state.journal.push(action);
    this.persist();
    return (replacement) => {
      const at = this.state.journal.indexOf(action);
      if (at >= 0) this.state.journal.splice(at, 1, ...replacement);
      else this.state.journal.push(...replacement);
      this.persist();
    };
  }

  hold(resource: string): void {
    if (this.state.holds.includes(resource)) return;
    this.state.holds.push(resource);
    this.persist();
  }

  /** Forgets actions already undone (reload), and holds nothing records any more. */
  forget(actions: readonly UndoAction[], holds: readonly string[] = []): void {
    this.state.journal = this.state.journal.filter((a) => !actions.includes(a));
    this.state.holds = this.state.holds.filter((h) => !holds.includes(h));
    this.persist();
  }

  update(change: Partial<Pick<QuickState, 'ifindex' | 'applied' | 'configFile' | 'reloading'>>): void {
    Object.assign(this.state, change);
    this.persist();
  }

  async drop(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

/**
 * One `wgts quick` command at a time per interface and namespace (say `systemctl reload` while
 * someone runs `down`), and `wgts peer`'s edits of the tunnel's file with them (a reload reading the
 * file half-way through a `peer add` would remove the new peer again): `IF@NETNS.lock`, created
 * exclusively, holds the owner's pid and command (`holder`, named in a refusal). A lock whose owner
 * is dead (killed) is taken over. A live owner is refused at once, or waited for up to `waitMs`
 * (polled). Resolves to the release function.
 */
export async function lockTunnel(ifname: string, waitMs = 0, holder = 'wgts quick'): Promise<() => Promise<void>> {
  await mkdir(STATE_DIR, { recursive: true, mode: 0o700 });
  const path = (await statePath(ifname)).replace(/\.json$/, '.lock');
  const deadline = Date.now() + waitMs;
  for (let takenOver = false; ; ) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, `${process.pid} ${holder}\n`);
      } finally {
        closeSync(fd);
      }
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || takenOver) throw e;
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const [pidText = '', ...command] = text.trim().split(' ');
    const owner = Number(pidText);
    // A lock of a version that wrote only the pid was quick's; a name we would not write is not echoed.
    const ownerName = command.length === 0 ? 'wgts quick' : /^wgts [a-z-]{1,16}$/.test(command.join(' ')) ? command.join(' ') : 'wgts';
    const alive = Number.isInteger(owner) && owner > 0 && owner !== process.pid && (await stat(`/proc/${owner}`).then(() => true, () => false));
    // An empty file is an owner between creating and writing it: alive, when we may wait.
    if (alive || (text === '' && Date.now() < deadline)) {
      if (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      throw new Error(`another \`${ownerName}' (pid ${owner}) is working on \`${ifname}'; try again when it is done`);
    }
    await rm(path, { force: true }); // its owner is gone
    takenOver = true;
  }
}

/** Runs `fn` holding the tunnel's lock (see lockTunnel). */
export async function withTunnelLock<T>(ifname: string, fn: () => Promise<T>): Promise<T> {
  const release = await lockTunnel(ifname);
  try {
    return await fn();
  } finally {
    await release();
  }
}

export async function loadState(ifname: string): Promise<QuickState | undefined> {
  try {
    const parsed = JSON.parse(await readFile(await statePath(ifname), 'utf8')) as QuickState;
    if (parsed.ifname !== ifname || !Array.isArray(parsed.journal)) return undefined;
    return parsed;
  } catch {
    return undefined;
  }
}

/**
 * The configuration file of the tunnel IFNAME in this network namespace: the one `quick up` was
 * given (its state file records it), else wg-quick's /etc/wireguard/IFNAME.conf. For the commands
 * that read what the device does not keep (peer names, endpoint host names) or edit the file.
 */
export async function tunnelConfigPath(ifname: string): Promise<string> {
  return (await loadState(ifname))?.configFile ?? `${QUICK_CONFIG_DIR}/${ifname}.conf`;
}

export async function dropState(ifname: string): Promise<void> {
  await rm(await statePath(ifname), { force: true });
}

/** The state files of the other tunnels in this network namespace. */
async function otherStates(ifname: string): Promise<QuickState[]> {
  const ns = await netnsId();
  let names: string[];
  try {
    names = await readdir(STATE_DIR);
  } catch {
    return [];
  }
  const states: QuickState[] = [];
  for (const name of names) {
    if (!name.endsWith(`@${ns}.json`) || name === `${ifname}@${ns}.json`) continue;
    try {
      states.push(JSON.parse(await readFile(join(STATE_DIR, name), 'utf8')) as QuickState);
    } catch {
      /* unreadable state: ignore */
    }
  }
  return states;
}

/** Is `hold` still needed by another tunnel's state file in this namespace? */
async function heldElsewhere(hold: string, ifname: string): Promise<boolean> {
  return (await otherStates(ifname)).some((o) => o.holds?.includes(hold));
}

/**
 * The value a shared sysctl had before any live tunnel changed it (recorded in another tunnel's
 * journal), so that whichever tunnel goes down last puts it back.
 */
export async function originalSysctl(key: string, ifname: string): Promise<string | undefined> {
  for (const o of await otherStates(ifname)) {
    for (const a of o.journal ?? []) if (a.kind === 'sysctl' && a.key === key && !a.rollbackOnly) return a.previous;
  }
  return undefined;
}

/**
 * A journal entry of a previous wgts version, which ran `ip` and recorded its argv, as the typed
 * action doing the same over rtnetlink. Chosen over running `ip` again so that `down` of a tunnel
 * brought up before the upgrade needs no `ip` either; those versions recorded only these two forms
 * (`ip link delete dev IF`, `ip -4|-6 rule delete pref N table T`). Anything else stays a command.
 */
export async function upgradeAction(action: UndoAction): Promise<UndoAction> {
  if (action.kind !== 'cmd' || action.argv[0] !== 'ip' || action.input !== undefined) return action;
  const a = action.argv;
  const common = {
    step: action.step,
    ...(action.bestEffort ? { bestEffort: true } : {}),
    ...(action.rollbackOnly ? { rollbackOnly: true } : {}),
  };
  if (a.length === 5 && a[1] === 'link' && a[2] === 'delete' && a[3] === 'dev') return { kind: 'link-delete', ...common, ifname: a[4]! };
  if (a.length === 8 && (a[1] === '-4' || a[1] === '-6') && a[2] === 'rule' && a[3] === 'delete' && a[4] === 'pref' && a[6] === 'table') {
    const priority = Number(a[5]);
    if (Number.isInteger(priority) && priority >= 0) {
      try {
        return { kind: 'rule-delete', ...common, family: a[1] === '-4' ? 4 : 6, priority, table: await tableId(a[7]!) };
      } catch {
        /* an unreadable table: leave it to ip */
      }
    }
  }
  return action;
}

async function undoOne(action: UndoAction, ifname: string): Promise<void> {
  switch (action.kind) {
    case 'cmd':
      await cmd(action.argv, {
        ...(action.input !== undefined ? { input: action.input } : {}),
        ...(action.shown !== undefined ? { shown: action.shown } : {}),
      });
      return;
    case 'link-delete':
      // recorded before the link was made, or the link went with its userspace daemon: nothing to do
      if (!(await linkExists(action.ifname))) return;
      await ipLinkDelete(action.ifname);
      return;
    case 'rule-delete': {
      const priority = action.priority ?? (await unclaimedRule(action, ifname));
      if (priority === undefined) return;
      await ipRuleDelete({ family: action.family, priority, table: action.table });
      return;
    }
    case 'route-delete':
      await ipRouteDeleteSpec({ family: action.family, dst: action.dst, table: action.table, metric: action.metric, type: RTN_UNREACHABLE });
      return;
    case 'sysctl':
      if (!(await heldElsewhere(action.holds, ifname))) await cmd(['sysctl', '-q', `${action.key}=${action.previous}`]);
      return;
  }
}

/** The priority of the rule an intent stands for (see UndoAction), if one is there. */
async function unclaimedRule(action: Extract<UndoAction, { kind: 'rule-delete' }>, ifname: string): Promise<number | undefined> {
  const claimed = new Set<number>();
  for (const o of await otherStates(ifname)) {
    for (const a of o.journal ?? []) if (a.kind === 'rule-delete' && a.family === action.family && a.priority !== undefined) claimed.add(a.priority);
  }
  const matches = (await listRules(action.family)).filter(
    (r) =>
      r.table === action.table &&
      r.fwmark === action.fwmark &&
      Boolean(r.invert) === Boolean(action.invert) &&
      r.suppressPrefixlen === action.suppressPrefixlen &&
      !claimed.has(r.priority),
  );
  return matches.length > 0 ? Math.min(...matches.map((r) => r.priority)) : undefined;
}

/**
 * Replays a journal in reverse (`rollback`: undoing a failed up, which also takes back what `down`
 * deliberately keeps, e.g. src_valid_mark, which wg-quick never reverts). Every action is attempted; failures of best-effort actions are
 * reported on stderr, the first failure of a required one is rethrown after the replay finishes.
 */
export async function replay(journal: readonly UndoAction[], ifname: string, rollback = false): Promise<void> {
  let firstError: unknown;
  for (const recorded of [...journal].reverse()) {
    if (recorded.rollbackOnly && !rollback) continue;
    const action = await upgradeAction(recorded);
    try {
      await undoOne(action, ifname);
    } catch (e) {
      if ((action.kind === 'cmd' || action.kind === 'link-delete' || action.kind === 'rule-delete') && action.bestEffort) continue;
      firstError ??= e;
    }
  }
  if (firstError !== undefined) throw firstError;
}
