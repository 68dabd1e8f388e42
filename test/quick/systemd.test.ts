/**
 * systemd/wgts-quick@.service and wgts-quick.target pass `systemd-analyze verify` (offline: systemd need
 * not be PID 1). verify insists that Exec programs exist and Documentation man pages resolve, so it runs
 * in a private mount namespace with a tmpfs on /usr/local/bin holding `wgts` (where `npm install -g`
 * puts it) and MANPATH pointing at this repository's pages.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

function ensureSystemdAnalyze(): boolean {
  if (spawnSync('systemd-analyze', ['--version']).status === 0) return true;
  // Only when missing: install it (the test machine is a disposable Debian root).
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'systemd'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return spawnSync('systemd-analyze', ['--version']).status === 0;
}

const available = ensureSystemdAnalyze();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgq-systemd-'));
  for (const f of ['wgts-quick@.service', 'wgts-quick.target']) copyFileSync(resolve('systemd', f), join(dir, f));
  mkdirSync(join(dir, 'man', 'man8'), { recursive: true });
  for (const page of ['wgts.8', 'wgts-quick.8']) {
    // man/wgts.8 belongs to the wg half; verify still needs a page under that name to resolve.
    const src = existsSync(resolve('man', page)) ? resolve('man', page) : resolve('man', 'wgts-quick.8');
    copyFileSync(src, join(dir, 'man', 'man8', page));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!available)('systemd units', () => {
  it('systemd-analyze verify passes on wgts-quick@wg0.service and wgts-quick.target', () => {
    const body = `mount -t tmpfs tmpfs /usr/local/bin && ln -s ${JSON.stringify(resolve('bin/wgts'))} /usr/local/bin/wgts &&
cd ${JSON.stringify(dir)} && MANPATH=${JSON.stringify(join(dir, 'man'))} systemd-analyze verify ./wgts-quick@wg0.service ./wgts-quick.target 2>&1`;
    const r = spawnSync('unshare', ['-m', 'bash', '-c', body], { encoding: 'utf8' });
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('is the wg-quick@ unit for wgts: oneshot, RemainAfterExit, reload by `wgts quick reload`', () => {
    const unit = readFileSync(resolve('systemd/wgts-quick@.service'), 'utf8');
    for (const line of [
      'Type=oneshot',
      'RemainAfterExit=yes',
      'ExecStart=wgts quick up %i $WGTS_QUICK_OPTS',
      'Environment=WGTS_QUICK_OPTS=',
      // optional: a missing file is no error (the leading `-`)
      'EnvironmentFile=-/etc/default/wgts-quick-%i',
      // wg-quick@NAME and wgts-quick@NAME would fight over the same interface
      'Conflicts=wg-quick@%i.service',
      'ExecStop=wgts quick down %i',
      'ExecReload=wgts quick reload %i',
      'Environment=WG_ENDPOINT_RESOLUTION_RETRIES=infinity',
      'PartOf=wgts-quick.target',
      'Before=wgts-quick.target',
      'WantedBy=multi-user.target wgts-quick.target',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
    // the target also verifies on its own
    const shown = execFileSync('systemd-analyze', ['--man=no', 'verify', join(dir, 'wgts-quick.target')], { encoding: 'utf8' });
    expect(shown).toBe('');
  });
});

if (!available) {
  describe('systemd units', () => {
    it.skip('systemd-analyze is not available in this container and could not be installed', () => {});
  });
}
