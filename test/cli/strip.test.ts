/**
 * `wgts quick strip` (runStrip) against the real `wg-quick strip`: stdout byte for byte, stderr
 * (program name normalised: `wg-quick:` vs `wgts quick:`) and exit code, for the wg-quick corpus
 * (test/corpus/quick) and for the name/path rules (search path, 15-character names, `.conf`,
 * symlinks, world-accessible warning). wg-quick needs root; so does this test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { runStrip } from '../../src/cli/quick-strip.js';

const CORPUS = resolve(import.meta.dirname, '../corpus/quick');
const ROOT = resolve(import.meta.dirname, '../..');
let dir = '';

interface Result {
  rc: number;
  stdout: string;
  stderr: string;
}

/** wg-quick strip on every target, from one shell running a few at a time; cwd = the temp dir. */
function runWgQuick(targets: string[]): Result[] {
  const script = `cd "$1"; shift; o=$(mktemp -d); i=0
    for t in "$@"; do
      ( wg-quick strip "$t" >"$o/$i.out" 2>"$o/$i.err"; echo $? >"$o/$i.rc" ) &
      i=$((i+1)); if [ $((i % 8)) = 0 ]; then wait; fi
    done; wait
    for j in $(seq 0 $((i-1))); do cat "$o/$j.out"; printf '\\x1f'; cat "$o/$j.err"; printf '\\x1f%s\\x1e' "$(cat "$o/$j.rc")"; done
    rm -rf "$o"`;
  const raw = execFileSync('bash', ['-c', script, 'strip', dir, ...targets], { encoding: 'latin1' });
  return raw
    .split('\x1e')
    .slice(0, -1)
    .map((r) => {
      const [stdout, stderr, rc] = r.split('\x1f') as [string, string, string];
      return { rc: Number(rc), stdout, stderr: stderr.replaceAll('wg-quick: ', 'wgts quick: ') };
    });
}

async function ours(target: string): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const rc = await runStrip('wgts', target, {
      stdout: (d) => (stdout += Buffer.from(d).toString('latin1')),
      stderr: (t) => (stderr += t),
    });
    return { rc, stdout, stderr };
  } finally {
    process.chdir(cwd);
  }
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/wgts.mjs'))) execFileSync('node', ['scripts/build.mjs'], { cwd: ROOT });
  dir = mkdtempSync(join(tmpdir(), 'wgts-strip-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'private'), { mode: 0o700 });
  mkdirSync(join(dir, 'open'), { mode: 0o755 });
  const src = join(CORPUS, 'q-full.conf');
  copyFileSync(src, join(dir, 'open/wg0.conf'));
  chmodSync(join(dir, 'open/wg0.conf'), 0o644);
  copyFileSync(src, join(dir, 'open/wg1.conf'));
  chmodSync(join(dir, 'open/wg1.conf'), 0o600);
  copyFileSync(src, join(dir, 'private/wg2.conf'));
  chmodSync(join(dir, 'private/wg2.conf'), 0o644);
  copyFileSync(src, join(dir, 'open/abcdefghijklmnop.conf')); // 16 characters
  copyFileSync(src, join(dir, 'open/abcdefghijklmno.conf')); // 15 characters
  copyFileSync(src, join(dir, 'open/bad name!.conf'));
  copyFileSync(src, join(dir, 'open/wg3.cfg'));
  symlinkSync(join(dir, 'open/wg0.conf'), join(dir, 'link0.conf'));
  symlinkSync(join(dir, 'nowhere.conf'), join(dir, 'dangling.conf'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runStrip vs wg-quick strip', () => {
  it('prints the same for every wg-quick corpus file', async () => {
    const files = readdirSync(CORPUS).filter((f) => f.endsWith('.conf')).sort().map((f) => join(CORPUS, f));
    expect(files.length).toBeGreaterThanOrEqual(10);
    const wg = runWgQuick(files);
    for (const [i, f] of files.entries()) expect(await ours(f), f).toEqual(wg[i]);
    expect(wg.filter((r) => r.rc === 0).length).toBeGreaterThanOrEqual(10);
  });

  it('follows the same search path and name rules', async () => {
    const targets = [
      'wgcnonexistent', // a bare name: /etc/wireguard/NAME.conf
      'wg0.conf', // also a bare name: /etc/wireguard/wg0.conf.conf
      'abcdefghijklmnop', // 16 characters: a path, relative, missing
      './open/wg0.conf', // 0644 in a 0755 directory: warning
      'open/wg1.conf', // 0600: no warning
      `${'private'}/wg2.conf`, // 0644 in a 0700 directory: no warning
      'open/abcdefghijklmnop.conf',
      'open/abcdefghijklmno.conf',
      'open/bad name!.conf',
      'open/wg3.cfg',
      'link0.conf', // canonical path in the warning, name from the link
      'dangling.conf',
      'open/../open/wg0.conf',
      '',
    ];
    const wg = runWgQuick(targets);
    for (const [i, t] of targets.entries()) expect(await ours(t), t).toEqual(wg[i]);
  });

  it('prints the same for 80 seeded random wg-quick files', async () => {
    const ws = fc.constantFrom('', '', ' ', '\t', '  \t', '\r', '\v');
    const key = fc.constantFrom('Address', 'address', 'DNS', 'MTU', 'Table', 'PreUp', 'PostDown', 'SaveConfig', 'saveconfig',
      'ListenPort', 'PrivateKey', 'PublicKey', 'AllowedIPs', 'Foo', '');
    const value = fc.constantFrom('10.0.0.1/24, fd00::1/64', '1.1.1.1 example.com', '1420', 'off', 'true', 'False', 'echo a # b',
      'a=b', '', 'x y', 'TRUE');
    const line = fc.oneof(
      fc.tuple(ws, fc.constantFrom('[Interface]', '[interface]', '[ Interface ]', '[Peer]', '[Other]'), ws).map((p) => p.join('')),
      fc.tuple(ws, key, ws, fc.constantFrom('=', '', '= =', '#='), ws, value, fc.constantFrom('', ' # c', '#')).map((p) => p.join('')),
      fc.constantFrom('', '# comment', '   ', '#[Interface]'),
    );
    const file = fc.tuple(fc.array(line, { maxLength: 10 }), fc.constantFrom('\n', '\r\n'), fc.boolean()).map(
      ([lines, eol, finalEol]) => lines.join(eol) + (finalEol ? eol : ''),
    );
    const texts = fc.sample(file, { numRuns: 80, seed: 1015 });
    mkdirSync(join(dir, 'fuzz'), { mode: 0o700 });
    const paths = texts.map((t, i) => {
      const p = join(dir, 'fuzz', `f${i}.conf`);
      writeFileSync(p, t, { encoding: 'latin1', mode: 0o600 });
      return p;
    });
    const wg = runWgQuick(paths);
    for (const [i, p] of paths.entries()) expect(await ours(p), JSON.stringify(texts[i])).toEqual(wg[i]);
    expect(wg.filter((r) => r.rc === 0).length).toBeGreaterThan(30);
    expect(wg.filter((r) => r.rc === 1).length).toBeGreaterThan(1);
  });

  it('is what the built `wgts quick strip` prints', () => {
    const file = join(CORPUS, 'q-full.conf');
    const wg = runWgQuick([file, 'wgcnonexistent']);
    const bin = [file, 'wgcnonexistent'].map((t) => {
      const r = spawnSync(join(ROOT, 'bin/wgts'), ['quick', 'strip', t], { cwd: dir, encoding: 'latin1' });
      return { rc: r.status, stdout: r.stdout, stderr: r.stderr };
    });
    expect(bin).toEqual(wg);
  });
});
