/**
 * src/ against the module map of README's "Layout" (rules.ts): layers, the protocol core's purity,
 * one importer per package, leaves, no import cycles. rules.test.ts shows that each rule catches a
 * planted violation; this file shows that the real tree keeps them, plus the checks that read
 * files outside src (package.json, bin/, the build script).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DESIGNATED, RULES, treeOf } from './rules.js';
import { ROOT, srcSources } from './sources.js';
import { importsOf, parse } from './syntax.js';

const TREE = treeOf(srcSources());

describe('src keeps the module map', () => {
  it.each(Object.keys(RULES))('%s', (name) => {
    expect(RULES[name]!(TREE)).toEqual([]);
  });
});

describe('outside src', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const external = TREE.edges.filter((e) => !e.internal);

  it('bin/ only loads the two bundles built from the two entry points', () => {
    const build = readFileSync(join(ROOT, 'scripts/build.mjs'), 'utf8');
    // One build with code splitting: entry names become dist/<name>.mjs.
    expect(build).toMatch(/entryPoints: \{ wgts: 'src\/cli\/main\.ts', 'wgts-userspace': 'src\/userspace-fallback\/daemon\.ts' \}/);
    expect(build).toMatch(/outdir: 'dist'/);
    expect(build).toMatch(/outExtension: \{ '\.js': '\.mjs' \}/);
    for (const [bin, bundle] of [['wgts', 'wgts.mjs'], ['wgts-userspace', 'wgts-userspace.mjs']] as const) {
      const specs = importsOf(parse(bin, readFileSync(join(ROOT, 'bin', bin), 'utf8'))).map((i) => i.spec);
      expect(specs, `bin/${bin}`).toEqual([`../dist/${bundle}`]);
    }
  });

  it('every non-Node package imported by src has a row in the table and is a runtime dependency', () => {
    const packages = [...new Set(external.map((e) => e.target).filter((t) => !t.startsWith('node:')))];
    expect(packages.filter((p) => !(p in DESIGNATED))).toEqual([]);
    // A devDependency imported at run time would break `npm install -g` (dist/ keeps koffi and netlink external).
    expect(packages.filter((p) => !(p in pkg.dependencies))).toEqual([]);
  });

  it('every runtime dependency is imported by some src file', () => {
    const used = new Set(external.map((e) => e.target));
    expect(Object.keys(pkg.dependencies).filter((d) => !used.has(d))).toEqual([]);
  });
});
