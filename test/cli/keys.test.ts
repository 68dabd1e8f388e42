/**
 * genkey / genpsk / pubkey against the real `wg` (wg(8) genkey, genpsk, pubkey).
 *
 * 300 keys go through our pubkey logic in-process and through `wg pubkey` in one shell loop; a few
 * more go through the built binary end to end (`wgts genkey | wgts pubkey`), so the CLI path is
 * covered without spawning hundreds of node processes. Junk inputs run through both binaries.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pubkeyFromStream } from '../../src/cli/pubkey.js';
import { keyFromBase64, keyToBase64 } from '../../src/conf/keys.js';
import { generatePrivateKey, randomBytes } from '../../src/crypto/primitives.js';

const ROOT = resolve(import.meta.dirname, '../..');
const WGTS = join(ROOT, 'bin/wgts');

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/wgts.mjs'))) execFileSync('node', ['scripts/build.mjs'], { cwd: ROOT });
});

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** Our pubkey for one stdin image. */
async function ours(stdin: string | Uint8Array): Promise<{ out: string; err: string; rc: number }> {
  const bytes = typeof stdin === 'string' ? Buffer.from(stdin, 'latin1') : stdin;
  const r = await pubkeyFromStream(once(bytes));
  return r.ok ? { out: r.publicKey + '\n', err: '', rc: 0 } : { out: '', err: `wg: ${r.error}\n`, rc: 1 };
}

describe('pubkey', () => {
  it('matches wg pubkey on 300 keys: clamped, unclamped, all-zero, all-ones', async () => {
    const keys: string[] = [];
    for (let i = 0; i < 200; i++) keys.push(keyToBase64(generatePrivateKey()));
    for (let i = 0; i < 98; i++) keys.push(keyToBase64(randomBytes(32))); // unclamped
    keys.push(keyToBase64(new Uint8Array(32)), keyToBase64(new Uint8Array(32).fill(0xff)));
    const expected = execFileSync('bash', ['-c', 'while read -r k; do printf "%s\\n" "$k" | wg pubkey || echo FAIL; done'], {
      input: keys.join('\n') + '\n',
    }).toString();
    const got: string[] = [];
    for (const k of keys) got.push((await ours(k + '\n')).out);
    expect(got.join('')).toBe(expected);
    expect(expected).not.toContain('FAIL');
  });

  const JUNK: Array<[string, string]> = [
    ['empty', ''],
    ['short', 'AAAA\n'],
    ['43 chars', 'A'.repeat(43)],
    ['bad alphabet', '-' + 'A'.repeat(42) + '=\n'],
    ['url-safe alphabet', '_'.repeat(43) + '=\n'],
    ['leading whitespace', ' ' + 'A'.repeat(43) + '=\n'],
    ['trailing junk', 'A'.repeat(43) + '=x\n'],
    ['trailing junk after spaces', 'A'.repeat(43) + '=  \n\t x'],
    ['trailing NULs and whitespace are fine', 'A'.repeat(43) + '=\0\0 \r\n\v\f\t'],
    ['non-zero low bits (…AAB=)', 'A'.repeat(42) + 'B=\n'],
    ['NUL inside the key', 'A'.repeat(20) + '\0' + 'A'.repeat(22) + '=\n'],
    ['no trailing newline', 'A'.repeat(43) + '='],
    ['CRLF', 'A'.repeat(43) + '=\r\n'],
    ['junk and bad key: trailing wins', '!'.repeat(44) + 'x'],
  ];

  it('answers every junk input as wg does, in-process and through the binary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgts-keys-'));
    try {
      JUNK.forEach(([, input], i) => writeFileSync(join(dir, `${i}`), input, 'latin1'));
      // One shell runs wg on every case and the built wgts on every other case (the in-process check
      // covers the rest), all in parallel: "<rc>\x1f<stdout>\x1f<stderr>" per tool per case.
      const script = `cd "$1"; for f in $(ls | grep -v '\\.' | sort -n); do
          ( o=$(wg pubkey < $f 2>$f.e1); printf '%s\\x1f%s\\x1f%s' "$?" "$o" "$(sed 's/^[^:]*: /P: /' $f.e1)" > $f.wg ) &
          if [ $((f % 2)) = 0 ]; then ( o=$("$2" pubkey < $f 2>$f.e2); printf '%s\\x1f%s\\x1f%s' "$?" "$o" "$(sed 's/^[^:]*: /P: /' $f.e2)" > $f.us ) & fi
        done; wait
        for f in $(ls | grep -v '\\.' | sort -n); do cat $f.wg; printf '\\x1e'; cat $f.us 2>/dev/null; printf '\\x1e'; done`;
      const raw = execFileSync('bash', ['-c', script, 'x', dir, WGTS]).toString();
      const rows = raw.split('\x1e').slice(0, -1).map((r) => r.split('\x1f'));
      expect(rows.length).toBe(JUNK.length * 2);
      for (const [i, [name, input]] of JUNK.entries()) {
        const wg = rows[i * 2]!;
        const bin = rows[i * 2 + 1]!;
        if (i % 2 === 0) expect(bin, name).toEqual(wg);
        const mine = await ours(input);
        expect([String(mine.rc), mine.out.trimEnd(), mine.err.replace(/^[^:]*: /, 'P: ').trimEnd()], name).toEqual(wg);
      }
      // The cases above do include both refusals and acceptances.
      expect(rows.filter((r) => r[0] === '1').length).toBeGreaterThan(8);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('genkey / genpsk through the binary', () => {
  it('wgts genkey | wgts pubkey equals wg pubkey, keys clamped, psk printed as 44 chars', () => {
    // Four pipelines in parallel inside one shell: key, our public key, wg's public key.
    const script = `for i in 1 2 3 4; do ( k=$("$1" genkey); p=$(printf '%s\\n' "$k" | "$1" pubkey); w=$(printf '%s\\n' "$k" | wg pubkey); echo "$k $p $w" > "$2.$i" ) & done; wait; cat "$2".*; rm -f "$2".*; "$1" genpsk`;
    const out = execFileSync('bash', ['-c', script, 'x', WGTS, join(tmpdir(), `wgts-genkey-${process.pid}`)]).toString();
    const lines = out.trimEnd().split('\n');
    expect(lines.length).toBe(5);
    for (const line of lines.slice(0, 4)) {
      const [k, p, w] = line.split(' ');
      const key = keyFromBase64(k!)!;
      expect(key).not.toBeNull();
      expect(key[0]! & 7).toBe(0);
      expect(key[31]! & 0xc0).toBe(0x40);
      expect(p).toBe(w);
    }
    expect(lines[4]).toMatch(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/);
  });

  it('warns like wg when stdout is a world-accessible file, not when it is private', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgts-keys-'));
    try {
      const script = `cd "$1"; for c in genkey genpsk; do
          (umask 022; "$2" $c > open 2>err; echo "$?" >> err; wc -c < open >> err; cat err)
          (umask 077; "$2" $c > closed 2>err; echo "$?" >> err; cat err)
          rm -f open closed
        done`;
      const run = (tool: string): string => execFileSync('bash', ['-c', script, 'x', dir, tool]).toString();
      const wg = run('wg');
      expect(run(WGTS)).toBe(wg);
      expect(wg).toContain('Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n0\n45\n0\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses extra arguments with usage and rc 1, as wg', () => {
    for (const c of ['genkey', 'genpsk', 'pubkey']) {
      const wg = spawnSync('wg', [c, 'extra'], { input: '' });
      const us = spawnSync(WGTS, [c, 'extra'], { input: '' });
      expect(us.status).toBe(1);
      expect(wg.status).toBe(1);
      expect(us.stderr.toString()).toBe(wg.stderr.toString().replace(/^Usage: wg /, 'Usage: wgts '));
      expect(us.stdout.length).toBe(0);
    }
  });
});
