/**
 * systemd/wgts-registry-{serve,discover,export}@.service pass `systemd-analyze verify` offline, in a private
 * mount namespace where `wgts` is on systemd's search path (a tmpfs on /usr/local/bin) and the man
 * page named by Documentation= resolves (MANPATH at this repository's pages).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const UNITS = ['wgts-registry-serve@.service', 'wgts-registry-discover@.service', 'wgts-registry-export@.service'];
const available = spawnSync('systemd-analyze', ['--version']).status === 0 && process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'wgr-systemd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('registry systemd units', () => {
  it.skipIf(!available)('verify cleanly as instances for wg0', () => {
    for (const u of UNITS) copyFileSync(resolve('systemd', u), join(dir, u.replace('@', '@wg0')));
    mkdirSync(join(dir, 'man', 'man8'), { recursive: true });
    copyFileSync(resolve('man/wgts-registry.8'), join(dir, 'man', 'man8', 'wgts-registry.8'));
    const body = `mount -t tmpfs tmpfs /usr/local/bin && ln -s ${JSON.stringify(resolve('bin/wgts'))} /usr/local/bin/wgts &&
cd ${JSON.stringify(dir)} && MANPATH=${JSON.stringify(join(dir, 'man'))} systemd-analyze verify ${UNITS.map((u) => `./${u.replace('@', '@wg0')}`).join(' ')} 2>&1`;
    const r = spawnSync('unshare', ['-m', 'bash', '-c', body], { encoding: 'utf8' });
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('run the commands the man page documents, with its settings', () => {
    const serve = readFileSync(resolve('systemd', UNITS[0]!), 'utf8').split('\n');
    const discover = readFileSync(resolve('systemd', UNITS[1]!), 'utf8').split('\n');
    expect(serve).toContain('ExecStart=wgts registry serve %i --zone ${WGTS_ZONE} $WGTS_SERVE_OPTS');
    expect(discover).toContain(
      'ExecStart=wgts registry discover %i --registry ${WGTS_REGISTRY} --zone ${WGTS_ZONE} --interval ${WGTS_INTERVAL} $WGTS_DISCOVER_OPTS',
    );
    const exporter = readFileSync(resolve('systemd', UNITS[2]!), 'utf8').split('\n');
    expect(exporter).toContain('ExecStart=wgts registry export %i --zone ${WGTS_ZONE} --interval ${WGTS_INTERVAL} $WGTS_EXPORT_OPTS');
    const man = readFileSync(resolve('man/wgts-registry.8'), 'utf8');
    for (const v of ['WGTS_ZONE', 'WGTS_SERVE_OPTS', 'WGTS_REGISTRY', 'WGTS_INTERVAL', 'WGTS_DISCOVER_OPTS', 'WGTS_EXPORT_OPTS']) expect(man).toContain(v);
  });
});
