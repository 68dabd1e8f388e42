/**
 * `wgts quick strip` (runStrip) against the real `wg-quick strip`: stdout byte for byte, stderr
 * (program name normalised: `wg-quick:` vs `wgts quick:`) and exit code, for the wg-quick corpus
 * (test/corpus/quick) and for the name/path rules (search path, 15-character names, `.conf`,
 * symlinks, world-accessible warning). wg-quick needs root; so does this test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runStrip } from '../../src/cli/quick-strip.js';

const CORPUS = resolve(import.meta.dirname, '../corpus/quick');
let dir = '';

interface Result {
  rc: number;
  stdout: string;
  stderr: string;
}

/** wg-quick strip on every target, in one shell; cwd = the temp dir. */
function runWgQuick(targets: string[]): Result[] {
  const script = `cd "$1"; shift; for t in "$@"; do
      wg-quick strip "$t" >out 2>err; rc=$?; cat out; printf '\\x1f'; cat err; printf '\\x1f%s\\x1e' "$rc"
    done; rm -f out err`;
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
});
