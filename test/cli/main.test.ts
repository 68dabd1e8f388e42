/**
 * The dispatch table (main.ts) and the man page: every subcommand is in `--help` and in
 * man/wgts.8, the page renders without a groff warning, and the per-subcommand help behaviours
 * are wg's (wg-tools.md §1.1).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { WG_COMMANDS, WGTS_COMMANDS, main } from '../../src/cli/main.js';

const MAN = resolve(import.meta.dirname, '../../man/wgts.8');
const hasGroff = spawnSync('groff', ['--version']).status === 0;

async function capture(argv: string[]): Promise<{ out: string; err: string; rc: number }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const rc = await main(argv);
    return { out, err, rc };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('main', () => {
  it('lists every subcommand in --help, in table order, on stdout', async () => {
    const r = await capture(['/usr/bin/wgts', '--help']);
    expect(r.rc).toBe(0);
    expect(r.err).toBe('');
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('Usage: wgts <cmd> [<args>]');
    const listed = lines.filter((l) => l.startsWith('  ')).map((l) => l.trim().split(':')[0]);
    expect(listed).toEqual([...WG_COMMANDS, ...WGTS_COMMANDS].map((c) => c.name));
  });

  it('rejects an unknown subcommand with the usage on stderr', async () => {
    const r = await capture(['wgts', 'Show']);
    expect(r.rc).toBe(1);
    expect(r.out).toBe('');
    expect(r.err.startsWith("Invalid subcommand: `Show'\nUsage: wgts <cmd> [<args>]\n")).toBe(true);
  });

  it.each<[string[], number, RegExp]>([
    [['show', '--help'], 0, /^Usage: wgts show \{ <interface> \| all \| interfaces \} \[/],
    [['show', 'help'], 0, /^Usage: wgts show /],
    [['set', '--help'], 1, /^Usage: wgts set <interface> \[listen-port <port>\]/],
    [['set', 'wg0'], 1, /^Usage: wgts set /],
    [['setconf', '--help'], 1, /^Usage: wgts setconf <interface> <configuration filename>\n$/],
    [['addconf'], 1, /^Usage: wgts addconf <interface> <configuration filename>\n$/],
    [['syncconf', 'a', 'b', 'c'], 1, /^Usage: wgts syncconf <interface> <configuration filename>\n$/],
    [['showconf'], 1, /^Usage: wgts showconf <interface>\n$/],
  ])('%j exits %d with its usage on stderr', async (args, rc, err) => {
    const r = await capture(['wgts', ...args]);
    expect(r.rc).toBe(rc);
    expect(r.out).toBe('');
    expect(r.err).toMatch(err);
  });
});

describe('man/wgts.8', () => {
  const page = readFileSync(MAN, 'utf8');
  it('documents every subcommand of main.ts', () => {
    for (const c of [...WG_COMMANDS, ...WGTS_COMMANDS]) {
      expect(page, c.name).toMatch(new RegExp(`(^\\.B ${c.name}$|^\\\\fB${c.name}\\\\fP)`, 'm'));
    }
  });
  it('documents show --json and its schema fields', () => {
    expect(page).toContain('\\fBshow \\-\\-json\\fP');
    for (const field of ['schema', 'interfaces', 'latestHandshakeAgeSeconds', 'latestHandshakeUnix', 'rxBytes', 'presharedKey'])
      expect(page).toContain(`"${field}"`);
  });
  it.skipIf(!hasGroff)('renders without groff warnings', () => {
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', MAN], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
