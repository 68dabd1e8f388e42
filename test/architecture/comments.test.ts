/**
 * Comments cite what the next reader can open: public sources (the WireGuard paper, wg(8),
 * wg-quick(8), RFCs, kernel and wireguard-go file names) or files of this repository. Every
 * repository path or file name a comment in src/, test/ or scripts/ names must exist, and no
 * comment (nor a test vector's `source`) may point at working documents that are not in the
 * repository.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT, SRC } from './sources.js';
import { commentsOf } from './syntax.js';

/** Documents that were never part of the repository, and the folder they lived in. */
const OUTSIDE = /\b(?:protocol|wg-tools|style|TEAM|ecosystem)\.md\b|(?<![\w.-])shared\/|\/work\//;

/** A path or file name with one of the repository's own extensions (not `.c`, `.go`, `.h`: other projects'). */
const CITED = /(?<![\w./@$*§-])((?:\.{1,2}\/)?(?:[\w-]+\/)*[A-Za-z_][\w-]*(?:\.[\w-]+)*\.(?:ts|mts|mjs|md|sh|json|8))(?![\w/-])/g;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.name === 'node_modules' || e.name.startsWith('.') ? [] : e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** Every file of the repository's own folders, by base name (a bare `show.ts` may be any of them). */
const ALL = ['src', 'test', 'scripts', 'docs', 'man', 'bin', 'systemd', 'completion'].flatMap((d) => walk(join(ROOT, d)));
const NAMES = new Set([...ALL.map((f) => basename(f)), ...readdirSync(ROOT)]);

export interface CommentLine {
  /** File and line, relative to the repository root. */
  at: string;
  text: string;
  /** The file's folder, for paths relative to it. */
  dir: string;
}

/** The comments of a TypeScript/JavaScript or shell source. */
export function commentLines(file: string, text: string): CommentLine[] {
  const rel = relative(ROOT, file);
  const dir = dirname(file);
  if (extname(file) === '.sh' || text.startsWith('#!/bin/bash') || text.startsWith('#!/usr/bin/env bash')) {
    return text.split('\n').flatMap((l, i) => (/^\s*#(?!!)/.test(l) ? [{ at: `${rel}:${i + 1}`, text: l, dir }] : []));
  }
  const kind = /\.m?js$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  return commentsOf(sf).map((c) => ({ at: `${rel}:${c.line}`, text: c.text, dir }));
}

/** Paths a comment cites that resolve nowhere: from the root, from src/, from the file's folder, or as a file name. */
export function missingCitations(c: CommentLine, exists: (p: string) => boolean = existsSync, names: ReadonlySet<string> = NAMES): string[] {
  const out: string[] = [];
  for (const m of c.text.matchAll(CITED)) {
    const p = m[1]!;
    const found = p.includes('/') ? [join(ROOT, p), join(SRC, p), join(c.dir, p)].some(exists) : names.has(p);
    if (!found) out.push(`${c.at}: ${p}`);
  }
  return out;
}

const FILES = ['src', 'test', 'scripts'].flatMap((d) => walk(join(ROOT, d))).filter((f) => /\.(ts|mts|mjs|sh)$/.test(f) && !f.includes('/test/vectors/'));
const COMMENTS = FILES.flatMap((f) => commentLines(f, readFileSync(f, 'utf8')));

describe('comments cite what is in the repository', () => {
  it('no comment names a document outside the repository', () => {
    expect(COMMENTS.filter((c) => OUTSIDE.test(c.text)).map((c) => `${c.at}: ${c.text.slice(0, 100)}`)).toEqual([]);
  });

  it('no test vector names one as its source', () => {
    const vectors = walk(join(ROOT, 'test/vectors')).filter((f) => readFileSync(f, 'utf8').match(OUTSIDE));
    expect(vectors.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('every repository path or file name a comment cites exists', () => {
    expect(COMMENTS.flatMap((c) => missingCitations(c))).toEqual([]);
  });
});

describe('the citation rules catch planted comments', () => {
  const at = (text: string, file = join(SRC, 'quick/planted.ts')) => commentLines(file, text);

  it('outside documents, in line, block and JSDoc comments, also after a template literal', () => {
    const cs = at("const t = `${1}`;\n// per protocol.md §1\n/* wg-tools.md */ const x = 1;\n/** see shared/spec */\nexport const y = '// style.md';\n");
    expect(cs.filter((c) => OUTSIDE.test(c.text)).map((c) => c.at)).toEqual(['src/quick/planted.ts:2', 'src/quick/planted.ts:3', 'src/quick/planted.ts:4']);
  });

  it('a moved or misspelt repository file, by path or by name; public sources pass', () => {
    const cs = at(
      '// crypto/primitives.ts and docs/compatibility.md, wireguard-go device/uapi.go, drivers/net/wireguard/noise.c\n' +
        '// userspace-fallback/crypto.ts, docs/design.md, wgts-missing.8, ./nowhere.ts\n',
    );
    expect(cs.flatMap((c) => missingCitations(c))).toEqual([
      'src/quick/planted.ts:2: userspace-fallback/crypto.ts',
      'src/quick/planted.ts:2: docs/design.md',
      'src/quick/planted.ts:2: wgts-missing.8',
      'src/quick/planted.ts:2: ./nowhere.ts',
    ]);
  });

  it('shell comments, not the shebang', () => {
    const cs = at('#!/bin/bash\n# see TEAM.md\necho "# not a comment: style.md"\n', join(ROOT, 'scripts/planted.sh'));
    expect(cs.map((c) => c.at)).toEqual(['scripts/planted.sh:2']);
  });
});
