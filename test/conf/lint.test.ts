/**
 * The linter (conf/lint.ts) on a corpus: each test/corpus/lint/NAME.conf has its exact findings in
 * NAME.out (`NAME.conf:LINE: problem; fix` lines, empty for a clean file); every file wg itself
 * refuses (test/corpus/invalid) yields at least one finding; the host facts (mode, DNS tool) are
 * rules of their own; and the command's output, exit codes and --json.
 */
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatFinding, lintConfig, type LintFacts } from '../../src/conf/lint.js';
import { publicKeyFromPrivate } from '../../src/crypto/primitives.js';
import { main } from '../../src/cli/main.js';
import { captureStdio } from '../fakes/stdio.js';

const CORPUS = resolve(import.meta.dirname, '../corpus');
const facts = (over: Partial<LintFacts> = {}): LintFacts => ({
  mode: 0o100600,
  hasDnsTool: false,
  services: (name) => ({ wireguard: 51820 })[name] ?? null,
  publicKeyOf: publicKeyFromPrivate,
  ...over,
});

const lintFile = (path: string, f: LintFacts = facts()) =>
  lintConfig(readFileSync(path, 'utf8'), f).map((x) => formatFinding(path.split('/').pop()!, x));

describe('lint corpus', () => {
  const files = readdirSync(join(CORPUS, 'lint')).filter((f) => f.endsWith('.conf'));
  it.each(files)('%s', (name) => {
    const expected = readFileSync(join(CORPUS, 'lint', name.replace(/\.conf$/, '.out')), 'utf8');
    const got = lintFile(join(CORPUS, 'lint', name));
    expect(got.map((l) => l + '\n').join('')).toBe(expected);
  });

  /** Refused by wg but fine for lint: wg-quick keys lint knows, upstream `+`, and a scope only the host can judge. */
  const WG_ONLY = new Set(['quick-key-address.conf', 'quick-key-dns.conf', 'allowedips-plus-prefix.conf', 'endpoint-unknown-scope.conf']);
  const invalid = readdirSync(join(CORPUS, 'invalid')).filter((f) => f.endsWith('.conf') && !WG_ONLY.has(f));
  it.each(invalid)('finds something in invalid/%s', (name) => {
    expect(lintFile(join(CORPUS, 'invalid', name))).not.toEqual([]);
  });
});

describe('host facts', () => {
  const text = '[Interface]\nDNS = 10.0.0.53\n';
  it('DNS needs resolvconf or resolvectl on this host', () => {
    expect(lintConfig(text, facts({ hasDnsTool: true }))).toEqual([]);
    expect(lintConfig(text, facts()).map((f) => [f.line, f.rule])).toEqual([[2, 'dns-tool']]);
  });

  it('a file others may read is reported, as wg-quick warns (mode & 007)', () => {
    expect(lintConfig('', facts({ mode: 0o100640 }))).toEqual([]);
    expect(lintConfig('', facts({ mode: 0o100604 })).map((f) => f.problem)).toEqual(['the file is accessible to every user (mode 0604) and holds keys']);
  });

  it('never quotes a private or preshared key, even a malformed one', () => {
    const secret = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlYw';
    const out = lintConfig(`[Interface]\nPrivateKey = ${secret}\n[Peer]\nPublicKey = x\nPresharedKey = ${secret}\n`, facts());
    expect(out.length).toBeGreaterThan(0);
    expect(JSON.stringify(out)).not.toContain(secret);
  });
});

describe('wgts lint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-lint-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const copy = (name: string, mode: number) => {
    const path = join(dir, name);
    copyFileSync(join(CORPUS, 'lint', name), path);
    chmodSync(path, mode);
    return path;
  };
  const run = (...args: string[]) => captureStdio(() => main(['wgts', 'lint', ...args]));

  it('is silent and exits 0 for a clean file (DNS-free, mode 0600)', async () => {
    expect(await run(copy('clean.conf', 0o600))).toEqual({ rc: 0, out: '', err: '' });
  });

  it('prints FILE:LINE: lines and exits 1; --json gives the same findings as data', async () => {
    const path = copy('peers.conf', 0o600);
    const text = await run(path);
    expect(text.rc).toBe(1);
    expect(text.out.split('\n')[0]).toBe(`${path}:6: AllowedIPs entry 10.0.5.1/24 has host bits set; wg uses 10.0.5.0/24; write 10.0.5.0/24, or 10.0.5.1/32 for the one host`);
    const json = await run('--json', path);
    expect(json.rc).toBe(1);
    const data = JSON.parse(json.out) as { file: string; line: number; rule: string }[];
    expect(data.map((f) => `${f.file}:${f.line}`)).toEqual(text.out.trim().split('\n').map((l) => l.split(': ')[0]));
    expect(data.map((f) => f.rule)).toContain('own-key');
  });

  it('reports a world-readable copy of a clean file', async () => {
    const r = await run(copy('clean.conf', 0o644));
    expect(r.rc).toBe(1);
    expect(r.out).toMatch(/:1: the file is accessible to every user \(mode 0644\)/);
  });

  it('exits 2 for a missing file, and wants a file', async () => {
    const r = await run(join(dir, 'nope.conf'));
    expect(r.rc).toBe(2);
    expect(r.err).toBe(`wgts lint: ${join(dir, 'nope.conf')}: No such file\n`);
    expect((await run()).rc).toBe(1);
  });
});
