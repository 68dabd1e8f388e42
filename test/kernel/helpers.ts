/**
 * Shared helpers of the kernel suite (runs inside the VM, see run-vm.sh): commands, the wgts CLI,
 * deterministic keys and big configurations.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { keyToBase64 } from '../../src/conf/keys.js';

export const REPO = join(import.meta.dirname, '..', '..');
export const WGTS = join(REPO, 'bin', 'wgts');

/** The kernel suite creates links in the VM's namespaces; refuse to run anywhere else. */
export function requireVm(): void {
  if (process.env.WGTS_IN_VM !== '1') {
    throw new Error('the kernel suite runs inside the test VM: npm run test:kernel (test/kernel/run-vm.sh)');
  }
  if (!existsSync(join(REPO, 'dist', 'wgts.mjs'))) throw new Error('dist/ missing: npm run build first');
}

export interface Result {
  stdout: string;
  stderr: string;
  status: number;
}

/** Runs a program to completion (never throws on a non-zero exit). */
export function run(argv: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      argv[0]!,
      argv.slice(1),
      { env: { ...process.env, ...opts.env }, maxBuffer: 256 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        if (err && typeof code !== 'number') return reject(err);
        resolve({ stdout, stderr, status: typeof code === 'number' ? code : 0 });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** A shell command that must succeed; returns stdout. */
export function sh(command: string): string {
  return execFileSync('bash', ['-c', command], { encoding: 'utf8', maxBuffer: 256 << 20 });
}

/** `wgts ARGS` through the built CLI, with deterministic output settings. */
export function wgts(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return run([process.execPath, WGTS, ...args], { env: { WG_COLOR_MODE: 'never', ...env } });
}

type Main = (argv: string[]) => Promise<number>;
let cliMain: Promise<Main> | undefined;

/**
 * `wgts ARGS` run inside this process through the built bundle's main(), stdout/stderr captured
 * and `env` applied for the call. A node start costs seconds under TCG, so the many-form
 * comparisons use this; `wgts()` spawns the real binary for the forms that check it end to end.
 * Calls are serialised (they swap process-wide streams and environment).
 */
export async function wgtsInProcess(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const prev = inProcessQueue;
  let release!: () => void;
  inProcessQueue = new Promise<void>((r) => (release = r));
  await prev;
  const main = await (cliMain ??= import(pathToFileURL(join(REPO, 'dist', 'wgts.mjs')).href).then((m) => m.main as Main));
  let stdout = '';
  let stderr = '';
  const capture = (sink: (s: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  const origOut = process.stdout.write;
  const origErr = process.stderr.write;
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries({ WG_COLOR_MODE: 'never', ...env })) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  process.stdout.write = capture((s) => (stdout += s));
  process.stderr.write = capture((s) => (stderr += s));
  try {
    const status = await main(['wgts', ...args]);
    return { stdout, stderr, status };
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    release();
  }
}
let inProcessQueue: Promise<void> = Promise.resolve();

/** `wg ARGS` (Debian's wireguard-tools, the reference), same settings. */
export function wg(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return run(['wg', ...args], { env: { WG_COLOR_MODE: 'never', ...env } });
}

/** Whether a wgts subcommand exists yet (stub commands say "not implemented"). */
export async function wgtsImplements(command: string): Promise<boolean> {
  const r = await wgtsInProcess([command, '--help']);
  return !/not implemented/.test(r.stderr + r.stdout);
}

/** A deterministic 32-byte key for a label (any 32 bytes are a valid Curve25519 key for wg). */
export function testKey(label: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`wgts-kernel-${label}`).digest());
}
export const testKeyB64 = (label: string): string => keyToBase64(testKey(label));

/**
 * A configuration with `peers` peers in varied forms (PSK every 3rd, IPv4/IPv6 endpoints,
 * keepalive every 5th, 1-3 allowed IPs) — big enough that a set needs many netlink messages.
 */
export function bigConfig(peers: number, label = 'big'): string {
  const out = ['[Interface]', `PrivateKey = ${testKeyB64(`${label}-private`)}`, 'ListenPort = 41000', ''];
  for (let i = 0; i < peers; i++) {
    out.push('[Peer]', `PublicKey = ${testKeyB64(`${label}-peer-${i}`)}`);
    if (i % 3 === 0) out.push(`PresharedKey = ${testKeyB64(`${label}-psk-${i}`)}`);
    if (i % 4 === 1) out.push(`Endpoint = 192.0.2.${i % 250}:${1024 + (i % 60000)}`);
    if (i % 4 === 2) out.push(`Endpoint = [2001:db8::${(i % 65535).toString(16)}]:51820`);
    if (i % 5 === 0) out.push('PersistentKeepalive = 25');
    const ips = [`10.${(i >> 8) & 255}.${i & 255}.0/24`];
    if (i % 2 === 0) ips.push(`fd00:${(i & 0xffff).toString(16)}::/64`);
    if (i % 7 === 0) ips.push(`172.16.${i & 255}.${(i >> 8) & 255}/32`);
    out.push(`AllowedIPs = ${ips.join(', ')}`, '');
  }
  return out.join('\n');
}

/** Polls `check` until it returns true or the deadline passes (then throws with `what`). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
