/**
 * Config files for quick's unit tests: written 0600 into a private directory (so `loadTarget` reads
 * them as `wgts quick` does), with fixed keys — nothing here is a secret.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PRIVATE_KEY = Buffer.alloc(32, 0x41).toString('base64');
export const PEER_A = Buffer.alloc(32, 0x42).toString('base64');
export const PEER_B = Buffer.alloc(32, 0x43).toString('base64');

/** Writes `<dir>/<ifname>.conf` and returns its path. */
export function writeConfig(dir: string, ifname: string, text: string): string {
  const path = join(dir, `${ifname}.conf`);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}
