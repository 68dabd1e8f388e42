/**
 * systemd/wgts-exporter.service and wgts-reresolve@.service/.timer pass `systemd-analyze verify`
 * (offline), run in a private mount namespace with `wgts` on a tmpfs /usr/local/bin and MANPATH on
 * this repository's pages, as verify wants Exec programs and Documentation pages to resolve. What
 * the units run is tested by exporter.test.ts and reresolve.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const available = spawnSync('systemd-analyze', ['--version']).status === 0 && process.getuid?.() === 0;
const UNITS = ['wgts-exporter.service', 'wgts-reresolve@.service', 'wgts-reresolve@.timer'];
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgo-systemd-'));
  for (const f of UNITS) copyFileSync(resolve('systemd', f), join(dir, f.replace('@.', '@wg0.')));
  mkdirSync(join(dir, 'man', 'man8'), { recursive: true });
  for (const page of ['wgts-exporter.8', 'wgts-reresolve.8']) copyFileSync(resolve('man', page), join(dir, 'man', 'man8', page));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!available)('exporter and reresolve units', () => {
  it('systemd-analyze verify passes', () => {
    const units = UNITS.map((f) => `./${f.replace('@.', '@wg0.')}`).join(' ');
    const body = `mount -t tmpfs tmpfs /usr/local/bin && ln -s ${JSON.stringify(resolve('bin/wgts'))} /usr/local/bin/wgts &&
cd ${JSON.stringify(dir)} && MANPATH=${JSON.stringify(join(dir, 'man'))} systemd-analyze verify ${units} 2>&1`;
    const r = spawnSync('unshare', ['-m', 'bash', '-c', body], { encoding: 'utf8' });
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('the timer starts its service every 30 s; the service runs reresolve for the instance', () => {
    const timer = readFileSync(resolve('systemd/wgts-reresolve@.timer'), 'utf8').split('\n');
    expect(timer).toContain('OnUnitActiveSec=30');
    const service = readFileSync(resolve('systemd/wgts-reresolve@.service'), 'utf8').split('\n');
    expect(service).toContain('ExecStart=wgts reresolve %i');
    expect(service).toContain('Type=oneshot');
  });
});
