/**
 * Each rule of rules.ts catches what it is for: the real src tree with one violation planted (a
 * file added or changed in memory) must fail exactly the rules that the violation breaks. Several
 * plants sit after a template literal or a regular expression, where a raw token scan loses sync.
 */
import { describe, expect, it } from 'vitest';
import { RULES, treeOf, type Source } from './rules.js';
import { srcSources } from './sources.js';

const REAL = srcSources();

/** The rules that `plant` breaks, with their messages: src as it is, plus or minus the given files. */
function broken(plant: Record<string, string | null>): Record<string, string[]> {
  const sources: Source[] = REAL.filter((s) => !(s.mod in plant));
  for (const [mod, text] of Object.entries(plant)) if (text !== null) sources.push({ mod, text });
  const tree = treeOf(sources);
  return Object.fromEntries(Object.entries(RULES).map(([name, rule]) => [name, rule(tree)] as const).filter(([, v]) => v.length > 0));
}

/** `text` of an existing src module with `extra` appended. */
const withExtra = (mod: string, extra: string) => REAL.find((s) => s.mod === mod)!.text + '\n' + extra;
/** A template literal with a substitution, then a regular expression holding a backquote: a raw scan is lost after these. */
const BLIND = "const __t = `${1 + 1} ${'}'}`;\nconst __r = /[`'\"]/;\n";

describe('planted violations are caught', () => {
  it('the real tree breaks no rule (the baseline for the plants below)', () => {
    expect(broken({})).toEqual({});
  });

  it('quick/ importing from cli/', () => {
    const b = broken({ 'quick/planted': "import { formatShow } from '../cli/show.js';\n" });
    expect(Object.keys(b).sort()).toEqual([
      'folders import only the folders their layer allows',
      'nothing outside src/cli imports src/cli, and nothing outside the data plane imports it',
    ]);
    expect(b['folders import only the folders their layer allows']).toEqual(["src/quick/planted.ts:1 imports '../cli/show.js'"]);
  });

  it('a type-only re-export from cli/, wrapped over lines, after a template literal', () => {
    const b = broken({ 'registry/planted': `${BLIND}export type {\n  Command,\n} from '../cli/command.js';\n` });
    expect(b['nothing outside src/cli imports src/cli, and nothing outside the data plane imports it']).toEqual([
      "src/registry/planted.ts:5 imports '../cli/command.js' (type-only)",
    ]);
  });

  it('a cycle closed by a type-only import (peer.ts importing send.ts again, which imports its types)', () => {
    const b = broken({ 'userspace-fallback/peer': withExtra('userspace-fallback/peer', "import { sendKeepalive } from './send.js';\nvoid sendKeepalive;\n") });
    expect(Object.keys(b)).toEqual(['no import cycle among src modules, type-only imports included']);
    expect(b['no import cycle among src modules, type-only imports included']![0]).toContain('userspace-fallback/peer <-> userspace-fallback/send');
  });

  it('a cycle of type-only imports alone', () => {
    const b = broken({
      'conf/planted-a': "import type { B } from './planted-b.js';\nexport type A = B[];\n",
      'conf/planted-b': "import type { A } from './planted-a.js';\nexport type B = A | null;\n",
    });
    expect(b['no import cycle among src modules, type-only imports included']).toEqual(['conf/planted-a <-> conf/planted-b']);
  });

  it('an I/O import and a timer in a protocol core file, after a template literal', () => {
    const b = broken({
      'userspace-fallback/replay': withExtra('userspace-fallback/replay', `${BLIND}import { readFileSync } from 'node:fs';\nsetTimeout(() => readFileSync('/x'), 1);\n`),
    });
    expect(Object.keys(b).sort()).toEqual([
      'the protocol core imports only core files, conf/, and its allowed Node modules',
      'the protocol core uses no global timer, no process, no wall clock, no require',
    ]);
    expect(b['the protocol core uses no global timer, no process, no wall clock, no require']).toEqual(['src/userspace-fallback/replay.ts uses setTimeout']);
  });

  it('a core file reading the wall clock and process, but not when prose or strings name them', () => {
    const b = broken({
      'userspace-fallback/cookie': withExtra('userspace-fallback/cookie', `${BLIND}// process.env and Date.now() in a comment\nconst __s = 'process';\nexport const __n = Date.now() + process.pid;\n`),
    });
    expect(b['the protocol core uses no global timer, no process, no wall clock, no require']).toEqual([
      'src/userspace-fallback/cookie.ts uses Date.now',
      'src/userspace-fallback/cookie.ts uses process',
    ]);
  });

  it('conf/ reading the environment or arming a timer', () => {
    const b = broken({
      'conf/planted': `${BLIND}export const home = process.env['HOME'];\n`,
      'conf/parse': withExtra('conf/parse', 'export const __t = setTimeout(() => undefined, 1);\n'),
    });
    expect(b['conf/ uses no global timer, no process, no wall clock (system/conf-io.ts passes them in)']?.sort()).toEqual([
      'src/conf/parse.ts uses setTimeout',
      'src/conf/planted.ts uses process',
    ]);
  });

  it('a core file importing a data-plane I/O edge', () => {
    const b = broken({ 'userspace-fallback/noise': withExtra('userspace-fallback/noise', "import { UdpBind } from './udp.js';\nvoid UdpBind;\n") });
    expect(b['the protocol core imports only core files, conf/, and its allowed Node modules']).toEqual([expect.stringContaining("imports './udp.js'")]);
  });

  it('a designated package loaded elsewhere, through require() after a template literal and through import()', () => {
    const b = broken({ 'cli/planted': `${BLIND}const k = require('koffi');\nconst d = await import('dns-packet');\nvoid k; void d;\n` });
    expect(b['each designated package is imported only by its designated files']).toEqual([
      "src/cli/planted.ts:3 imports 'koffi'",
      "src/cli/planted.ts:4 imports 'dns-packet'",
    ]);
  });

  it('a Node built-in without the node: prefix', () => {
    const b = broken({ 'system/planted': "import { spawn } from 'child_process';\nvoid spawn;\n" });
    expect(b['Node built-ins are imported with the node: prefix, so the table cannot be bypassed']).toEqual(["src/system/planted.ts:1 imports 'child_process'"]);
    expect(b['each designated package is imported only by its designated files']).toEqual(["src/system/planted.ts:1 imports 'child_process'"]);
  });

  it('conf/ loading a Node module', () => {
    const b = broken({ 'conf/planted': "import { readFileSync } from 'node:fs';\nvoid readFileSync;\n" });
    expect(Object.keys(b)).toEqual(['conf/ loads no Node module or package (pure data; I/O is passed in)']);
  });

  it('a leaf importing a sibling', () => {
    const b = broken({ 'conf/model': withExtra('conf/model', "import { formatIP } from './ip.js';\nvoid formatIP;\n") });
    expect(b['leaves import only what they are allowed']).toEqual([expect.stringContaining("src/conf/model.ts:")]);
  });

  it('an entry point imported, and a file outside src', () => {
    const b = broken({ 'userspace-fallback/planted': "import '../userspace-fallback/daemon.js';\nimport '../../scripts/build.mjs';\n" });
    expect(b['nothing imports an entry point, nor anything outside src but package.json for the version']).toHaveLength(2);
  });

  it('a folder without a rule, and a computed module name', () => {
    const b = broken({ 'misc/planted': 'const name = "x";\nexport const m = await import(name);\n' });
    expect(b['every src file sits in a folder with a rule']).toEqual(['src/misc/planted.ts']);
    expect(b['every import names its module with a string literal']).toEqual(['src/misc/planted.ts:2: computed module name']);
  });

  it('eval and new Function after a template literal; an eval-mode Worker', () => {
    const b = broken({ 'quick/planted': `${BLIND}eval('1');\nexport const f = new Function('return 1');\nexport const o = { eval: true };\n` });
    expect(b['no eval(), no new Function, no eval-mode Worker']).toEqual([
      'src/quick/planted.ts: eval/new Function',
      'src/quick/planted.ts: eval-mode Worker',
    ]);
  });

  it('a file over 600 lines', () => {
    const b = broken({ 'conf/planted': 'export const x = 1;\n'.repeat(601) });
    expect(b['no src file over 600 lines']).toEqual(['src/conf/planted.ts: 601 lines']);
  });

  it('a listed core file that is gone', () => {
    const b = broken({ 'userspace-fallback/replay': null });
    expect(b['the listed core files exist']).toEqual(['src/userspace-fallback/replay.ts is listed in CORE but missing']);
  });
  it('the data plane importing more of netlink/ than its numbers', () => {
    const b = broken({ 'userspace-fallback/planted': "import { listLinks } from '../netlink/rtnl.js';\nvoid listLinks;\n" });
    expect(b['the data plane takes from netlink/ only its numbers and attribute walker (constants.ts, attr.ts)']).toEqual([
      "src/userspace-fallback/planted.ts:1 imports '../netlink/rtnl.js'",
    ]);
  });
});
