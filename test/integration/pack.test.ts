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

  it('runs wgts-userspace and the registry with their worker modules from the installed package', async () => {
    // The workers are module files of their own (dist/workers/), found beside the bundles at run
    // time: a packed install that lacks them, or cannot resolve their imports (koffi), has no
    // wgts-rx thread in the daemon under traffic and no wgts-dns thread in `wgts registry serve` (which
    // would fall back to node:dgram and say so on stderr).
    const lab = new Lab('wgpk');
    const runDir = mkdtempSync(join(work, 'run-'));
    const bin = join(prefix, 'bin');
    const env = { WGTS_RUN_DIR: runDir, PATH: `${bin}:${process.env.PATH}` };
    const threads = (pid: number): string[] =>
      readdirSync(`/proc/${pid}/task`).map((t) => {
        try {
          return readFileSync(`/proc/${pid}/task/${t}/comm`, 'latin1').trim();
        } catch {
          return '';
        }
      });
    try {
      const ns = await lab.netns();
      const ifname = lab.ifname();
      const daemon = ns.spawn([join(bin, 'wgts-userspace'), '-f', ifname], { env });
      await waitFor(() => existsSync(join(runDir, 'wireguard', `${ifname}.sock`)), { timeout: 20_000, what: 'the UAPI socket' });
      await ns.ip(['addr', 'add', '10.201.0.1/24', 'dev', ifname]);
      await ns.ip(['link', 'set', ifname, 'up']);
      // The reader worker starts with traffic (idle reads stay on the main thread, idle-poll.ts):
      // a burst of pings out of the TUN (to a peer it does not have: dropped) is traffic enough.
      // The writer thread starts with the first batch of packets to send, which a lone daemon never
      // has: its module is checked as shipped; the reader's thread shows the installed layout resolves.
      expect(threads(daemon.child.pid!)).not.toContain('wgts-rx');
      await waitFor(async () => {
        await ns.run(['ping', '-n', '-q', '-c', '300', '-l', '300', '-W', '1', '10.201.0.2'], { check: false });
        return threads(daemon.child.pid!).includes('wgts-rx');
      }, { timeout: 20_000, what: 'the reader worker thread' });
      const workers = readdirSync(join(prefix, 'lib', 'node_modules', 'wgts', 'dist', 'workers'));
      expect(workers).toEqual(expect.arrayContaining(['reader.mjs', 'writer.mjs', 'registry-udp.mjs']));
      expect(daemon.stderr()).not.toMatch(/not found|Cannot find/);

      const registry = ns.spawn([join(bin, 'wgts'), 'registry', 'serve', ifname, '--listen', '127.0.0.1:5353'], { env });
      await waitFor(() => threads(registry.child.pid!).includes('wgts-dns'), { timeout: 20_000, what: "the registry's UDP worker thread" });
      expect(registry.stderr()).not.toMatch(/not found|Cannot find|dgram/);
      registry.child.kill('SIGTERM');
      await registry.exited;

      await run(['ip', '-n', ns.name, 'link', 'del', ifname]);
      expect(await daemon.exited).toBe(0);
    } finally {
      await lab.cleanup();
    }
  }, 90_000);
});
