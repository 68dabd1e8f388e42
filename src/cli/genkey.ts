/**
 * `wgts genkey` and `wgts genpsk` (wg's genkey.c): 32 random bytes as base64, clamped for genkey.
 * One handler serves both names and branches on its own name, as genkey_main does.
 */
import { fstatSync } from 'node:fs';
import type { Command } from './command.js';
import { keyToBase64 } from '../conf/keys.js';
import { generatePresharedKey, generatePrivateKey } from '../crypto/primitives.js';

const WORLD_ACCESSIBLE_WARNING =
  'Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n';

/** True when fd is a regular file with any "other" permission bit (wg: S_ISREG && st_mode & S_IRWXO). */
export function isWorldAccessibleFile(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isFile() && (st.mode & 0o007) !== 0;
  } catch {
    return false; // wg only warns when fstat succeeds
  }
}

/** Writes one fresh key to stdout the way genkey_main does; shared by genkey and genpsk. */
async function writeFreshKey(argv0: string, name: string, args: string[], clamped: boolean): Promise<number> {
  if (args.length !== 0) {
    process.stderr.write(`Usage: ${argv0} ${name}\n`);
    return 1;
  }
  // wg checks stdout before drawing the key, and the warning never stops it.
  if (isWorldAccessibleFile(1)) process.stderr.write(WORLD_ACCESSIBLE_WARNING);
  // Key material: wiped once encoded. The base64 string itself cannot be wiped (JS strings are
  // immutable); it lives only until written.
  const key = clamped ? generatePrivateKey() : generatePresharedKey();
  try {
    await writeOut(`${keyToBase64(key)}\n`);
  } finally {
    key.fill(0);
  }
  return 0;
}

/** Writes to stdout and resolves once the data is handed to the OS (so a pipe reader sees it). */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
  });
}

export const genkeyCommand: Command = {
  name: 'genkey',
  run: (argv0, args) => writeFreshKey(argv0, 'genkey', args, true),
};

export const genpskCommand: Command = {
  name: 'genpsk',
  run: (argv0, args) => writeFreshKey(argv0, 'genpsk', args, false),
};
