/**
 * Shared fixture of the manage differential tests: wireguard-go devices in test-made network
 * namespaces, with their UAPI sockets in a private directory that is bind-mounted over
 * /run/wireguard in a private mount namespace for every command (wireguard-go, wg and wgts alike),
 * so `show all` / `show interfaces` see exactly our devices and nobody else's.
 */
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Lab, run, waitFor, type Netns, type RunResult } from '../helpers/netns.js';
import { inPrivateMounts, labDir, privateFile, USERSPACE_ENV } from '../helpers/private-run.js';

export const WGTS = resolve(import.meta.dirname, '../../../bin/wgts');

export function haveTools(): boolean {
  return process.getuid?.() === 0 && ['wg', 'wireguard-go', 'unshare'].every((t) => {
    return ['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin'].some((d) => existsSync(join(d, t)));
  });
}

export class ManageLab {
  readonly lab = new Lab('wgm');
  readonly dir = labDir(this.lab, 'wgts-manage-'); // readable by the unprivileged user of the permission test

  constructor() {
    mkdirSync(join(this.dir, 'wireguard'), { mode: 0o755 });
    mkdirSync('/run/wireguard', { recursive: true });
    // wgts is run through a symlink named `wg`, so usage lines print the same program name.
    mkdirSync(join(this.dir, 'bin'), { mode: 0o755 });
    symlinkSync(WGTS, join(this.dir, 'bin', 'wg'));
  }

  /** argv run in a private mount namespace that sees our socket directory as /run/wireguard, inside `ns`. */
  wrap(ns: Netns, argv: string[]): string[] {
    return inPrivateMounts(ns, [[join(this.dir, 'wireguard'), '/run/wireguard']], argv);
  }

  /** Starts wireguard-go for a new interface in `ns`; resolves once its socket answers. */
  async device(ns: Netns, name: string): Promise<void> {
    this.lab.spawn(this.wrap(ns, ['wireguard-go', '-f', name]), { env: USERSPACE_ENV });
    await waitFor(async () => (await this.wg(ns, ['show', name, 'listen-port'])).code === 0, {
      timeout: 10_000,
      what: `wireguard-go ${name}`,
    });
  }

  wg(ns: Netns, args: string[], env: Record<string, string> = {}, input?: string): Promise<RunResult> {
    return run(this.wrap(ns, ['wg', ...args]), { check: false, env, ...(input === undefined ? {} : { input }) });
  }

  /** wgts, through a symlink named `wg`. */
  get wgtsPath(): string {
    return join(this.dir, 'bin', 'wg');
  }

  wgts(ns: Netns, args: string[], env: Record<string, string> = {}, input?: string): Promise<RunResult> {
    return run(this.wrap(ns, [this.wgtsPath, ...args]), { check: false, env, ...(input === undefined ? {} : { input }) });
  }

  /** Writes a file (mode 0600: configs hold keys) in the lab's directory; returns its path. */
  file(name: string, text: string): string {
    return privateFile(this.dir, name, text);
  }

  cleanup(): Promise<void> {
    return this.lab.cleanup();
  }
}

/** Splits pretty `show` output of one device into its header and its peer blocks. */
export function prettyBlocks(out: string): { header: string; peers: string[] } {
  const blocks = out.split('\n\n');
  return { header: blocks[0]!, peers: blocks.slice(1) };
}

/** Lines as a sorted multiset (for outputs wg prints in the backend's random peer order). */
export function sortedLines(text: string): string[] {
  return text.split('\n').sort();
}

/** showconf output: the [Interface] section exactly, the [Peer] sections as a sorted set. */
export function confShape(text: string): { iface: string; peers: string[] } {
  const sections = text.split('\n\n');
  return { iface: sections[0]!, peers: sections.slice(1).map((s) => s.trimEnd()).sort() };
}

/** Runs async jobs with at most `width` at a time (two cores: keep the process count sane). */
export async function inBatches<T>(items: T[], width: number, job: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(job));
}
