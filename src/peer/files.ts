/**
 * The file side of `peer`: which configuration file an interface has, a lock so two `peer`
 * commands cannot hand out the same address, and staged 0600 writes that become visible only by
 * rename(2) once everything else has succeeded (so a failure leaves every file as it was).
 */
import { open, readFile, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { QUICK_NAME_RE, resolveQuickTarget } from '../conf/quick.js';
import { systemFs } from '../system/conf-io.js';
import { tunnelConfigPath } from '../quick/journal.js';
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

/** How long a `peer` command waits for another one to finish with the same file. */
const LOCK_WAIT_MS = 15_000;

/**
 * Takes `<file>.lock` (O_EXCL, holding our pid), waiting (bounded) while another live `peer`
 * command holds it, so scripts adding several peers at once get distinct addresses. A lock whose
 * process is gone is stale and taken over.
 */
export async function lockConfig(file: string): Promise<() => Promise<void>> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fh = await open(lock, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => rm(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) {
      await unlink(lock).catch(() => undefined);
      continue;
    }
    // No pid yet: the holder is between creating the file and writing to it.
    if (Date.now() > deadline) {
      throw new InputError(`another wgts peer command (pid ${pid || '?'}) is changing ${file}; if none is, remove ${lock}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface Staged {
  /** Renames the staged file over its target (and syncs the directory). */
  commit(): Promise<void>;
  /** Removes the staged file; the target is untouched. Never throws. */
  abort(): Promise<void>;
}

/** Writes `data` to a 0600 temporary file beside `path`, synced; nothing is visible at `path` yet. */
export async function stage(path: string, data: Uint8Array | string): Promise<Staged> {
  const tmp = join(dirname(path), `.${basename(path)}.wgts-${process.pid}.tmp`);
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.chmod(0o600); // an existing tmp of a crashed run may have had another mode
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new InputError(`cannot write ${path}: ${(e as Error).message}`);
  }
  return {
    async commit() {
      await rename(tmp, path);
      const dir = await open(dirname(path), 'r').catch(() => undefined);
      await dir?.sync().catch(() => undefined);
      await dir?.close();
    },
    async abort() {
      await rm(tmp, { force: true }).catch(() => undefined);
    },
  };
}
