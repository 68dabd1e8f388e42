/**
 * Userspace devices without touching the machine's /run/wireguard: UAPI socket paths are global, so
 * every command of a test (the daemon, wg, wgts) runs in a private mount namespace where a directory
 * of the test's own is bind-mounted over /run/wireguard (and any other file a test wants to replace,
 * e.g. /etc/hosts), inside one of the test's network namespaces. Shared by the manage and ops labs.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab, Netns } from './netns.js';

/** wireguard-go (and wgts-userspace, which honours the same variables) quiet and without the kernel-module nag. */
export const USERSPACE_ENV = { WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'silent' } as const;

/**
 * argv run inside `ns`, in a private mount namespace with each [source, target] bind-mounted first;
 * a failed mount ends the command with status 99 before anything runs against the real files.
 */
export function inPrivateMounts(ns: Netns, binds: readonly (readonly [string, string])[], argv: string[]): string[] {
  const script = 'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 99; shift 2; done; shift; exec "$@"';
  return ['unshare', '-m', 'sh', '-c', script, 'sh', ...binds.flat(), '--', ...ns.argv(argv)];
}

/** A scratch directory removed at lab.cleanup(); mode 0755 so an unprivileged user of a test can read it. */
export function labDir(lab: Lab, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  lab.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a file (mode 0600: configs and key files hold keys) in `dir`; returns its path. */
export function privateFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}
