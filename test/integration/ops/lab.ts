/**
 * Fixture of the exporter and reresolve tests: userspace WireGuard devices (wgts-userspace or
 * wireguard-go) in test-made network namespaces, each namespace with its own UAPI socket directory
 * bind-mounted over /run/wireguard, and optionally other files (a private /etc/hosts) bind-mounted,
 * all in a private mount namespace per command: nothing of the machine's own is seen or changed.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { keyToBase64 } from '../../../src/conf/keys.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../../../src/crypto/primitives.js';
import { Lab, run, waitFor, type Netns, type RunResult, type Spawned } from '../helpers/netns.js';
import { inPrivateMounts, labDir, privateFile, USERSPACE_ENV } from '../helpers/private-run.js';

export const WGTS = resolve(import.meta.dirname, '../../../bin/wgts');
const DAEMON = resolve(import.meta.dirname, '../../../bin/wgts-userspace');

export function haveTools(): boolean {
  return process.getuid?.() === 0 && ['wireguard-go', 'unshare', 'curl'].every((t) => ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => existsSync(join(d, t))));
}

export type DaemonKind = 'wgts-userspace' | 'wireguard-go';

/** One namespace with its socket directory and extra bind mounts. */
export class Side {
  readonly binds: [string, string][];
  /** Environment of every command run through this side. */
  readonly env: Record<string, string> = {};
  constructor(
    readonly ns: Netns,
    private readonly ops: OpsLab,
    readonly sockets: string,
  ) {
    this.binds = [[sockets, '/run/wireguard']];
  }

  /** argv in a private mount namespace with this side's binds, inside the network namespace. */
  wrap(argv: string[]): string[] {
    return inPrivateMounts(this.ns, this.binds, argv);
  }

  run(argv: string[], env: Record<string, string> = {}): Promise<RunResult> {
    return run(this.wrap(argv), { check: false, env: { ...this.env, ...env } });
  }

  wgts(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
    return this.run([WGTS, ...args], env);
  }

  spawn(argv: string[], env: Record<string, string> = {}): Spawned {
    return this.ops.lab.spawn(this.wrap(argv), { env: { ...this.env, ...env } });
  }

  /** Starts a userspace device; resolves once its UAPI socket answers. */
  async device(kind: DaemonKind, name: string): Promise<void> {
    const argv = kind === 'wireguard-go' ? ['wireguard-go', '-f', name] : [DAEMON, '-f', name];
    this.spawn(argv, USERSPACE_ENV);
    await waitFor(async () => (await this.wgts(['show', name, 'listen-port'])).code === 0, { timeout: 15_000, what: `${kind} ${name}` });
  }

  /** Fails the test with the command's output when it does not succeed. */
  async must(argv: string[], env: Record<string, string> = {}): Promise<string> {
    const r = await this.run(argv, env);
    if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }
}

export class OpsLab {
  readonly lab = new Lab('wgo');
  readonly dir = labDir(this.lab, 'wgts-ops-');
  private sides = 0;

  async side(): Promise<Side> {
    const sockets = join(this.dir, `run-${this.sides++}`);
    mkdirSync(sockets, { mode: 0o755 });
    return new Side(await this.lab.netns(), this, sockets);
  }

  /** Writes a file (mode 0600) in the lab's directory; returns its path. */
  file(name: string, text: string): string {
    return privateFile(this.dir, name, text);
  }

  cleanup(): Promise<void> {
    return this.lab.cleanup();
  }
}

/** A key pair: the private key in a 0600 file for `set private-key`, the public key in base64. */
export function keyPair(ops: OpsLab, name: string): { file: string; pub: string } {
  const priv = generatePrivateKey();
  const file = ops.file(`${name}.key`, keyToBase64(priv) + '\n');
  const pub = keyToBase64(publicKeyFromPrivate(priv));
  priv.fill(0);
  return { file, pub };
}
