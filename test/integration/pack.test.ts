// `npm pack` then `npm install -g` of the tarball must give working wgts and wgts-userspace on PATH,
// with the man pages and systemd units inside the package.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Lab, run, waitFor } from './helpers/netns.js';

const repo = resolve(import.meta.dirname, '../..');
let work: string;
let prefix: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'wgts-pack-'));
  prefix = join(work, 'prefix');
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: repo, encoding: 'utf8' });
  const tarball = join(work, out.trim().split('\n').pop()!);
  execFileSync('npm', ['install', '-g', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', prefix, tarball], {
    cwd: work,
    stdio: 'pipe',
  });
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('packed tarball installed globally', () => {
  it('puts wgts and wgts-userspace on PATH, and they run', () => {
    const bin = join(prefix, 'bin');
    expect(existsSync(join(bin, 'wgts'))).toBe(true);
    expect(existsSync(join(bin, 'wgts-userspace'))).toBe(true);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    expect(execFileSync('wgts', ['--version'], { env, encoding: 'utf8' })).toMatch(/^wgts v\d+\.\d+\.\d+/);
    const key = execFileSync('wgts', ['genkey'], { env, encoding: 'utf8' });
    expect(key).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    const pub = execFileSync('wgts', ['pubkey'], { env, input: key, encoding: 'utf8' });
    expect(pub).toBe(execFileSync('wg', ['pubkey'], { input: key, encoding: 'utf8' }));
  });

  it('ships the man pages and the systemd units', () => {
    const pkg = join(prefix, 'lib', 'node_modules', 'wgts');
    const shipped = (dir: string) => (existsSync(join(pkg, dir)) ? readdirSync(join(pkg, dir)) : []);
    expect(shipped('man')).toEqual(expect.arrayContaining(['wgts.8', 'wgts-quick.8']));
    expect(shipped('systemd')).toEqual(expect.arrayContaining(['wgts-quick@.service', 'wgts-quick.target']));
    expect(existsSync(join(prefix, 'share', 'man', 'man8', 'wgts.8'))).toBe(true);
  });

  it('runs wgts-userspace with its I/O worker modules from the installed package', async () => {
    // The workers are module files of their own (dist/workers/), found beside the bundle at run time:
    // a packed install that lacks them, or cannot resolve their imports (koffi), has no wgts-rx/-tx.
    const lab = new Lab('wgpk');
    const runDir = mkdtempSync(join(work, 'run-'));
    try {
      const ns = await lab.netns();
      const ifname = lab.ifname();
      const daemon = ns.spawn([join(prefix, 'bin', 'wgts-userspace'), '-f', ifname], { env: { WGTS_RUN_DIR: runDir } });
      await waitFor(() => existsSync(join(runDir, 'wireguard', `${ifname}.sock`)), { timeout: 20_000, what: 'the UAPI socket' });
      await ns.ip(['link', 'set', ifname, 'up']);
      const threads = (): string[] =>
        readdirSync(`/proc/${daemon.child.pid}/task`).map((t) => {
          try {
            return readFileSync(`/proc/${daemon.child.pid}/task/${t}/comm`, 'latin1').trim();
          } catch {
            return '';
          }
        });
      await waitFor(() => threads().includes('wgts-rx') && threads().includes('wgts-tx'), { timeout: 20_000, what: 'the I/O worker threads' });
      expect(daemon.stderr()).not.toMatch(/not found|Cannot find/);
      await run(['ip', '-n', ns.name, 'link', 'del', ifname]);
      expect(await daemon.exited).toBe(0);
    } finally {
      await lab.cleanup();
    }
  }, 60_000);
});
