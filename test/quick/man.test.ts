/** man/wgts-quick.8 renders without groff warnings and documents every action, key, option and variable. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { quickUsage } from '../../src/cli/quick.js';

describe('man/wgts-quick.8', () => {
  it('renders with groff -man -ww without a warning', () => {
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', 'man/wgts-quick.8'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('covers what `wgts quick --help` lists', () => {
    const text = spawnSync('groff', ['-man', '-Tutf8', '-P-cbou', 'man/wgts-quick.8'], { encoding: 'utf8' }).stdout;
    const usage = quickUsage('wgts quick');
    for (const word of ['up', 'down', 'reload', 'save', 'strip', '--nat-via', '--hooks', '--no-nat-via']) expect(usage).toContain(word);
    for (const word of [
      'up', 'down', 'reload', '--hooks', '--no-nat-via', 'CRASH SAFETY', 'unreachable', 'save', 'strip', 'Address', 'DNS', 'MTU', 'Table', 'PreUp', 'PostUp', 'PreDown', 'PostDown',
      'SaveConfig', '--nat-via', 'WG_QUICK_USERSPACE_IMPLEMENTATION', 'WG_ENDPOINT_RESOLUTION_RETRIES',
      'WGTS_QUICK_STATE_DIR', 'wgts-quick@.service', 'wgts-quick.target', 'EXIT STATUS',
    ]) {
      expect(text, word).toContain(word);
    }
    expect(readFileSync('man/wgts-quick.8', 'utf8')).toMatch(/^\.TH WGTS-QUICK 8/);
  });
});
