/**
 * `wgts lint NAME` reads /etc/wireguard/NAME.conf, as wg-quick does — here a tmpfs over
 * /etc/wireguard in a private mount namespace, so the machine's own directory is never seen.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WGTS } from './lab.js';

const usable = process.getuid?.() === 0 && existsSync('/etc/wireguard') && existsSync(WGTS.replace('bin/wgts', 'dist/wgts.mjs'));

describe.skipIf(!usable)('wgts lint NAME', () => {
  it('lints /etc/wireguard/NAME.conf and names it in every line', () => {
    const script = `mount -t tmpfs tmpfs /etc/wireguard && cd /tmp &&
printf '[Interface]\\nMTU = 9\\n' > /etc/wireguard/wglint0.conf && chmod 600 /etc/wireguard/wglint0.conf &&
exec "$0" "$1" lint wglint0`;
    const r = spawnSync('unshare', ['-m', 'bash', '-c', script, process.execPath, WGTS], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/etc/wireguard/wglint0.conf:2: MTU 9 is outside 1280-65535 (1280 is the IPv6 minimum); use 1280 to 65535, or remove it to let wg-quick choose\n');
    expect(r.status).toBe(1);
  });
});
