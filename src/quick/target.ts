/**
 * From the command-line argument to a ready QuickContext: wg-quick's name/path rules (H1's
 * resolveQuickTarget), the world-accessible warning, the parsed file, and the lazily opened backend.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Backend } from '../conf/backend.js';
import { parseQuickConfig, resolveQuickTarget, type QuickConfig } from '../conf/quick.js';
import { systemFs } from '../system/conf-io.js';
import type { QuickContext, QuickOptions } from './context.js';
import type { Journal, UndoAction } from './journal.js';
import { backendFor } from './system.js';

/** A user-facing failure: printed as `<prog>: <message>`, exit status `exitCode` (default 1). */
export class QuickError extends Error {
  readonly exitCode: number;
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'QuickError';
    this.exitCode = options?.exitCode ?? 1;
  }
}

export interface QuickTarget {
  ifname: string;
  configFile: string;
  conf: QuickConfig;
  options: QuickOptions;
}

/** wg-quick: warn when (file mode & directory mode & 0007) != 0 — a 0644 file in a 0700 dir is fine. */
export async function worldAccessibleWarning(configFile: string): Promise<string | undefined> {
  const [f, d] = await Promise.all([stat(configFile), stat(dirname(configFile))]);
  return (f.mode & d.mode & 0o007) !== 0 ? `Warning: \`${configFile}' is world accessible` : undefined;
}

export async function loadTarget(arg: string, options: QuickOptions): Promise<QuickTarget> {
  let resolved: { configFile: string; ifname: string };
  try {
    resolved = resolveQuickTarget(arg, systemFs);
  } catch (e) {
    throw new QuickError(e instanceof Error ? e.message : String(e), { cause: e });
  }
  const warning = await worldAccessibleWarning(resolved.configFile);
  if (warning) process.stderr.write(`${warning}\n`);
  let conf: QuickConfig;
  try {
    // bash reads bytes: latin1 keeps every byte as it was (as runStrip does).
    conf = parseQuickConfig(await readFile(resolved.configFile, 'latin1'), resolved.configFile);
  } catch (e) {
    throw new QuickError(e instanceof Error ? e.message : String(e), { cause: e });
  }
  // Hooks go to bash as arguments (UTF-8): turn the bytes read as latin1 back into their UTF-8 text.
  const utf8 = (list: string[]): string[] => list.map((h) => Buffer.from(h, 'latin1').toString('utf8'));
  const i = conf.interface;
  conf.interface = { ...i, preUp: utf8(i.preUp), postUp: utf8(i.postUp), preDown: utf8(i.preDown), postDown: utf8(i.postDown) };
  return { ...resolved, conf, options };
}

/** A context whose undo actions go to `journal` (the state file), or nowhere (down, save). */
export function makeContext(target: QuickTarget, journal?: Journal): QuickContext {
  let backend: Promise<Backend> | undefined;
  return {
    ...target,
    backend: () => (backend ??= backendFor(target.ifname)),
    undo: (action) => (journal ? journal.record(action) : (_: UndoAction[]) => undefined),
    hold: (resource) => journal?.hold(resource),
    routes: [],
  };
}
