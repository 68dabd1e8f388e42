/**
 * The undo journal: every step of `up` records, as plain data, how to take back what it did.
 * Rollback replays the journal in reverse at once; `up` saves it to a state file so `down` (another
 * process, maybe much later) removes exactly what this `up` added — not another tunnel's rules.
 *
 * State files live in /run/wgts/quick/, one per interface and network namespace (the same name may
 * exist in several namespaces), mode 0600 in a 0700 directory.
 */
import { mkdir, readFile, readdir, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cmd } from '../system/run.js';
import type { Family } from '../conf/model.js';
import { ipLinkDelete, ipRuleDelete, tableId } from './ip.js';

export type UndoAction =
  /** Run a command (narrated); `bestEffort` failures are reported but do not stop the replay. */
  | { kind: 'cmd'; step: string; argv: string[]; input?: string; shown?: string; bestEffort?: boolean; rollbackOnly?: boolean }
  /** Delete the link over rtnetlink (narrated `ip link delete dev IF`): takes routes, addresses, a userspace daemon. */
  | { kind: 'link-delete'; step: string; ifname: string; bestEffort?: boolean; rollbackOnly?: boolean }
  /** Delete one policy rule by priority and table over rtnetlink (`ip -4|-6 rule delete pref N table T`). */
  | { kind: 'rule-delete'; step: string; family: Family; priority: number; table: number; bestEffort?: boolean; rollbackOnly?: boolean }
  /**
   * Put a sysctl back to `previous`, unless another live wgts tunnel in this namespace still needs it
   * (its state file has a `holds` entry for the same key) — NAT forwarding is shared.
   */
  | { kind: 'sysctl'; step: string; key: string; previous: string; holds: string; rollbackOnly?: boolean };

export interface QuickState {
  ifname: string;
  configFile: string;
  /** The link's ifindex when `up` finished: a state file for an older link of the same name is stale. */
  ifindex?: number;
  /** Journal in the order `up` recorded it; replayed in reverse. */
  journal: UndoAction[];
  /** Shared resources this tunnel relies on (e.g. `sysctl:net.ipv4.ip_forward`). */
  holds: string[];
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

export async function saveState(state: QuickState): Promise<void> {
  await mkdir(STATE_DIR, { recursive: true, mode: 0o700 });
  const path = await statePath(state.ifname);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 1) + '\n', { mode: 0o600 });
  await rename(tmp, path);
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
      await ipLinkDelete(action.ifname);
      return;
    case 'rule-delete':
      await ipRuleDelete({ family: action.family, priority: action.priority, table: action.table });
      return;
    case 'sysctl':
      if (!(await heldElsewhere(action.holds, ifname))) await cmd(['sysctl', '-q', `${action.key}=${action.previous}`]);
      return;
  }
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
      if (action.kind !== 'sysctl' && action.bestEffort) continue;
      firstError ??= e;
    }
  }
  if (firstError !== undefined) throw firstError;
}
