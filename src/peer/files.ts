/**
 * The file side of `peer`: which configuration file an interface has, the tunnel's lock so two
 * `peer` commands cannot hand out the same address, and staged 0600 writes that become visible only by
 * rename(2) once everything else has succeeded (so a failure leaves every file as it was).
 */
import { readFile } from 'node:fs/promises';
import { QUICK_NAME_RE, resolveQuickTarget } from '../conf/quick.js';
import { stageFile, type StagedFile } from '../system/atomic-write.js';
import { systemFs } from '../system/conf-io.js';
import { lockTunnel, tunnelConfigPath } from '../quick/journal.js';
import { InputError } from './input.js';

/**
 * The configuration file of IFACE: the file `wgts quick up` was given for the interface running in
 * this network namespace (its state file says), else /etc/wireguard/IFACE.conf as wg-quick looks;
 * a path to NAME.conf is taken as it is. Errors are wg-quick's (`... does not exist`).
 */
export async function configTarget(arg: string): Promise<{ ifname: string; configFile: string }> {
  const path = QUICK_NAME_RE.test(arg) ? await tunnelConfigPath(arg) : arg;
  try {
    return resolveQuickTarget(path, systemFs);
  } catch (e) {
    throw new InputError(e instanceof Error ? e.message : String(e));
  }
}

/** The file's bytes as latin1 text (see config-file.ts). */
export async function readConfigText(file: string): Promise<string> {
  return (await readFile(file)).toString('latin1');
}

/**
 * Holds the tunnel's lock (quick/journal.ts lockTunnel) while the file is read, edited and applied:
 * two `peer` commands cannot hand out the same address, and `quick up|down|reload` never reads the
 * file half-edited. Another holder is waited for, up to 15 s.
 */
export function lockConfig(ifname: string): Promise<() => Promise<void>> {
  return lockTunnel(ifname, 15_000, 'wgts peer');
}

export type Staged = StagedFile;

/** Stages `data` for `path` (system/atomic-write.ts); a failure is the user's `cannot write PATH`. */
export async function stage(path: string, data: Uint8Array | string): Promise<Staged> {
  try {
    return await stageFile(path, data);
  } catch (e) {
    throw new InputError(`cannot write ${path}: ${(e as Error).message}`);
  }
}
