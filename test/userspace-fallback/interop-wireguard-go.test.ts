/**
 * Protocol interop with the real wireguard-go, without our I/O layer: the Device runs over a
 * loopback dgram Bind and a fake TUN inside a network namespace created here (wgp-…), with
 * wireguard-go and the kernel's ICMP on the other side. Skipped without root or wireguard-go.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { dataCryptoBackend } from '../../src/crypto/primitives.js';

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const canRun = process.getuid?.() === 0 && have('wireguard-go') && have('wg') && have('ip');

describe.skipIf(!canRun)('interop with wireguard-go (netns)', () => {
  it('handshakes either way, pings over IPv4 and IPv6 inside, with a preshared key; counters agree', async () => {
    // The bundle lives under node_modules/.cache so that koffi (external) resolves from it.
    const cache = new URL('../../node_modules/.cache/', import.meta.url).pathname;
    mkdirSync(cache, { recursive: true });
    const dir = mkdtempSync(join(cache, 'wgp-interop-'));
    const ns = `wgp-interop-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
    try {
      await build({
        entryPoints: [new URL('./interop/against-wireguard-go.ts', import.meta.url).pathname],
        bundle: true, platform: 'node', format: 'esm', outfile: join(dir, 'run.mjs'), logLevel: 'error',
        external: ['koffi'],
        banner: { js: "import { createRequire as __h2CreateRequire } from 'node:module'; const require = __h2CreateRequire(import.meta.url);" },
      });
      execFileSync('ip', ['netns', 'add', ns]);
      const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, join(dir, 'run.mjs'), dir], { encoding: 'utf8', timeout: 60_000 });
      const r = JSON.parse(out.trim().split('\n').at(-1)!);
      expect(r.backend).toBe(dataCryptoBackend());
      expect(r.responder).toBe(true);
      expect(r.endpointLearned).toBe(true);
      expect(r.initiatorV4).toBe(3);
      expect(r.initiatorV6).toBe(3);
      expect(r.counters.goRx).toBe(r.counters.ourTx);
      expect(r.counters.goTx).toBe(r.counters.ourRx);
    } finally {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean);
        for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
      } catch {}
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch {}
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
