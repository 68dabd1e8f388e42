/**
 * The subcommand table against what is shipped. test/cli/main.test.ts already checks that
 * every command of WG_COMMANDS and WGTS_COMMANDS is in `wgts --help` and in man/wgts.8; this adds
 * what it does not: each wgts-only command has its own page, that page is installed by npm and
 * cited from wgts(8), and no page in man/ is left out of the package.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WG_COMMANDS, WGTS_COMMANDS } from '../../src/cli/main.js';

const ROOT = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { man: string[]; files: string[] };
const wgts8 = readFileSync(join(ROOT, 'man/wgts.8'), 'utf8');
const seeAlso = wgts8.slice(wgts8.indexOf('.SH SEE ALSO'));

describe('subcommands and their pages', () => {
  it('command names are unique across both tables', () => {
    const names = [...WG_COMMANDS, ...WGTS_COMMANDS].map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(WGTS_COMMANDS.map((c) => c.name))('wgts %s has man/wgts-%s.8, installed and cited in wgts(8) SEE ALSO', (name) => {
    const page = `man/wgts-${name}.8`;
    const text = readFileSync(join(ROOT, page), 'utf8');
    expect(text).toMatch(new RegExp(`^\\.TH WGTS-${name.toUpperCase()} 8`, 'm'));
    expect(pkg.man).toContain(`./${page}`);
    expect(seeAlso).toContain(`.BR wgts\\-${name} (8)`);
  });

  it('every page in man/ is installed by npm', () => {
    expect(pkg.files).toContain('man/');
    const pages = readdirSync(join(ROOT, 'man')).filter((f) => /\.\d$/.test(f)).map((f) => `./man/${f}`);
    expect([...pkg.man].sort()).toEqual(pages.sort());
  });
});
