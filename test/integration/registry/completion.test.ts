/**
 * completion/wgts.bash for `wgts registry`: verbs, interfaces, and each verb's options as
 * src/cli/registry.ts accepts them (the usage text is the reference). Bash is driven as it drives
 * completion functions: COMP_WORDS/COMP_CWORD set, then _wgts; `wgts show interfaces` is a stub.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stubDir: string;

beforeAll(() => {
  stubDir = mkdtempSync(join(tmpdir(), 'wgr-compl-'));
  writeFileSync(join(stubDir, 'wgts'), '#!/bin/sh\n[ "$*" = "show interfaces" ] && echo "wgr0 wgr1"\n');
  chmodSync(join(stubDir, 'wgts'), 0o755);
});
afterAll(() => rmSync(stubDir, { recursive: true, force: true }));

/** The completions bash offers for `words` (the last one is the word being completed). */
function completions(...words: string[]): string[] {
  const script = [
    `source ${JSON.stringify(resolve('completion/wgts.bash'))}`,
    `COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    '_wgts',
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join('\n');
  const out = execFileSync('bash', ['-c', script], { env: { ...process.env, PATH: `${stubDir}:${process.env.PATH}` }, encoding: 'utf8' });
  return out.split('\n').filter(Boolean).sort();
}

const SERVE = ['--allow-wildcard', '--listen', '--zone'];
const DISCOVER = ['--add-new', '--fresh', '--interval', '--keepalive', '--registry', '--timeout', '--zone'];
const EXPORT = ['--interval', '--mname', '--ns', '--reload', '--rname', '--timeout', '--tsig-key', '--ttl', '--update', '--zone', '--zone-file'];

describe('completion/wgts.bash: wgts registry', () => {
  it('completes the verbs, then the interface', () => {
    expect(completions('wgts', 'registry', '')).toEqual(['discover', 'export', 'serve']);
    expect(completions('wgts', 'registry', 'd')).toEqual(['discover']);
    expect(completions('wgts', 'registry', 'serve', '')).toEqual(['wgr0', 'wgr1']);
    expect(completions('wgts', 'registry', 'discover', 'wgr')).toEqual(['wgr0', 'wgr1']);
    expect(completions('wgts', 'registry', 'bogus', '')).toEqual([]);
  });

  it('completes the options of each verb that src/cli/registry.ts accepts', () => {
    expect(completions('wgts', 'registry', 'serve', 'wgr0', '')).toEqual(SERVE);
    expect(completions('wgts', 'registry', 'discover', 'wgr0', '')).toEqual(DISCOVER);
    expect(completions('wgts', 'registry', 'discover', '--')).toEqual(DISCOVER);
    expect(completions('wgts', 'registry', 'discover', 'wgr0', '--i')).toEqual(['--interval']);
    // The usage text names exactly these options.
    const usage = execFileSync(process.execPath, [resolve('bin/wgts'), 'registry', '--help'], { encoding: 'utf8' });
    const [serveUsage, rest] = usage.split('registry discover');
    const [discoverUsage, exportUsage] = rest!.split('registry export');
    expect([...new Set(serveUsage!.match(/--[a-z-]+/g))].sort()).toEqual(SERVE);
    expect([...new Set(discoverUsage!.match(/--[a-z-]+/g))].sort()).toEqual(DISCOVER);
    expect([...new Set(exportUsage!.match(/--[a-z-]+/g))].sort()).toEqual(EXPORT);
    expect(completions('wgts', 'registry', 'export', 'wgr0', '--ns', 'a.example', '--z')).toEqual(['--zone', '--zone-file']);
    expect(completions('wgts', 'registry', 'export', 'wgr0', '--ns', 'a.example', '--n')).toEqual(['--ns']);
  });

  it('offers nothing for an option value, and only options not given yet (--listen may repeat)', () => {
    for (const opt of ['--zone', '--listen']) expect(completions('wgts', 'registry', 'serve', 'wgr0', opt, '')).toEqual([]);
    for (const opt of ['--registry', '--interval', '--keepalive', '--fresh', '--timeout']) {
      expect(completions('wgts', 'registry', 'discover', 'wgr0', opt, '')).toEqual([]);
    }
    expect(completions('wgts', 'registry', 'serve', 'wgr0', '--zone', '=', '')).toEqual([]);
    expect(completions('wgts', 'registry', 'serve', 'wgr0', '--zone', 'z', '--listen', '10.0.0.1', '')).toEqual(['--allow-wildcard', '--listen']);
    expect(completions('wgts', 'registry', 'discover', '--registry', '=', '10.0.0.254', 'wgr0', '--add-new', '')).toEqual(
      DISCOVER.filter((o) => o !== '--registry' && o !== '--add-new'),
    );
    // Options before the interface: the next plain word is still the interface.
    expect(completions('wgts', 'registry', 'discover', '--zone', 'z', '')).toEqual(['wgr0', 'wgr1']);
  });
});
