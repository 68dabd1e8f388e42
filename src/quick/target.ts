/**
 * From the command-line argument to a ready QuickContext: wg-quick's name/path rules (wg-quick(8):
 * a bare name means /etc/wireguard/NAME.conf), the world-accessible warning, the parsed file, and the lazily opened backend.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Backend } from '../conf/backend.js';
import { decodeConfig, encodeConfig, type ConfigEncoding, type ConfigText } from '../conf/encoding.js';
import { parseQuickConfig, resolveQuickTarget, type QuickConfig } from '../conf/quick.js';
import { systemFs } from '../system/conf-io.js';
import type { QuickContext, QuickOptions } from './context.js';
import type { Journal, UndoAction } from './journal.js';
import { backendFor } from './system.js';

/** A user-facing failure: printed as `<prog>: <message>`, exit status `exitCode` (default 1). */
export class QuickError extends Error {
  readonly exitCode: number;
  /** The message as the bytes to print, when it quotes a file that is not UTF-8 (see encoding.ts). */
  readonly bytes?: Buffer;
  constructor(message: string, options?: { cause?: unknown; exitCode?: number; bytes?: Buffer }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'QuickError';
    this.exitCode = options?.exitCode ?? 1;
    if (options?.bytes) this.bytes = options.bytes;
  }
}

/**
 * A QuickError whose `quoted` part comes from the configuration file: printed in the file's own
 * bytes (wg and wg-quick echo them unchanged); `prefix` (a path from the command line) as UTF-8.
 */
export function fileError(prefix: string, quoted: string, encoding: ConfigEncoding | undefined, cause: unknown): QuickError {
  const bytes = encoding === 'latin1' ? Buffer.concat([Buffer.from(prefix), encodeConfig(quoted, 'latin1')]) : undefined;
  return new QuickError(prefix + quoted, { cause, ...(bytes ? { bytes } : {}) });
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
  // bash reads bytes; UTF-8 text (the usual case) is decoded as such, so messages, narration and
  // hooks (bash arguments, UTF-8) carry its characters unchanged. A file that is not UTF-8 is read
  // as latin1: messages print its bytes (fileError), hooks get its non-ASCII bytes re-encoded as UTF-8.
  let file: ConfigText;
  try {
    file = decodeConfig(await readFile(resolved.configFile));
  } catch (e) {
    throw new QuickError(e instanceof Error ? e.message : String(e), { cause: e });
  }
  try {
    conf = { ...parseQuickConfig(file.text, resolved.configFile), encoding: file.encoding };
  } catch (e) {
    throw fileError('', e instanceof Error ? e.message : String(e), file.encoding, e);
  }
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
