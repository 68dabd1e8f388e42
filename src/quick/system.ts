/**
 * Everything quick's steps reach outside this process, in one replaceable place: commands
 * (system/run.ts), rtnetlink (netlink/rtnl.ts, through ip.ts), WireGuard devices (system/ipc.ts)
 * and interface indexes (netlink/ifindex.ts). The steps import the functions below instead of those
 * modules; by default they are the real ones, and unit tests swap in fakes (test/fakes/quick-system.ts)
 * to run up, down and reload without root. A module-level seam rather than a field of QuickContext
 * because the journal's replay and the look-ups run where no context exists (down of a journal, a
 * stale state file).
 */
import type { Backend } from '../conf/backend.js';
import { ifindexOfName as realIfindexOfName } from '../netlink/ifindex.js';
import * as rtnl from '../netlink/rtnl.js';
import { backendFor as realBackendFor, listDevices as realListDevices } from '../system/ipc.js';
import * as run from '../system/run.js';

/** Running programs: changes (narrated), read-only looks, PATH look-ups, the user's hooks. */
export interface CommandRunner {
  cmd: typeof run.cmd;
  query: typeof run.query;
  haveProgram: typeof run.haveProgram;
  hook: typeof run.hook;
}

/** The rtnetlink operations ip.ts performs (its narration and error texts stay in ip.ts). */
export type RtnlOps = Pick<
  typeof rtnl,
  | 'getLink'
  | 'getLinkByIndex'
  | 'createLink'
  | 'deleteLink'
  | 'setLink'
  | 'addAddress'
  | 'deleteAddress'
  | 'listAddresses'
  | 'addRoute'
  | 'deleteRoute'
  | 'listRoutes'
  | 'getRoute'
  | 'listRules'
  | 'addRule'
  | 'deleteRule'
>;

/** The WireGuard devices and the namespace's interface indexes. */
export interface DeviceAccess {
  backendFor(name: string): Promise<Backend>;
  listDevices(): Promise<string[]>;
  ifindexOfName(name: string): number | undefined;
}

export interface QuickSystem {
  runner: CommandRunner;
  rtnl: RtnlOps;
  devices: DeviceAccess;
}

const REAL: QuickSystem = {
  runner: { cmd: run.cmd, query: run.query, haveProgram: run.haveProgram, hook: run.hook },
  rtnl,
  devices: { backendFor: realBackendFor, listDevices: realListDevices, ifindexOfName: realIfindexOfName },
};

let current: QuickSystem = REAL;

/** The rtnetlink operations in force (ip.ts). */
export function rtnlOps(): RtnlOps {
  return current.rtnl;
}

/** Replaces parts of the system (tests). Returns the function that puts the previous one back. */
export function useQuickSystem(replacement: Partial<QuickSystem>): () => void {
  const previous = current;
  current = { ...current, ...replacement };
  return () => {
    current = previous;
  };
}

// The functions the steps call, bound late so a replacement takes effect at once.
export const cmd: CommandRunner['cmd'] = (argv, options) => current.runner.cmd(argv, options);
export const query: CommandRunner['query'] = (argv, options) => current.runner.query(argv, options);
export const haveProgram: CommandRunner['haveProgram'] = (program) => current.runner.haveProgram(program);
export const hook: CommandRunner['hook'] = (text, ifname, shell) => current.runner.hook(text, ifname, shell);
export const backendFor: DeviceAccess['backendFor'] = (name) => current.devices.backendFor(name);
export const listDevices: DeviceAccess['listDevices'] = () => current.devices.listDevices();
export const ifindexOfName: DeviceAccess['ifindexOfName'] = (name) => current.devices.ifindexOfName(name);
