/**
 * Output that cannot be written: a full device (`> /dev/full`, ENOSPC) gives one line and exit 1,
 * never a Node stack trace; a pipe whose reader is gone (EPIPE) exits 141 in silence, as wg dies of
 * SIGPIPE. The closed pipe is made deterministic with a FIFO: opened read-write, then a writer, then
 * the only reader closed, so the first write fails with EPIPE.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const wgts = resolve('bin/wgts');
const dir = mkdtempSync(join(tmpdir(), 'wgts-outerr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sh(script: string): { rc: number | null; out: string; err: string } {
  const r = spawnSync('bash', ['-c', script, 'bash', wgts, dir], { encoding: 'utf8' });
  return { rc: r.status, out: r.stdout, err: r.stderr };
}

describe('write errors on stdout', () => {
  const conf = join(dir, 'wgo0.conf');
  writeFileSync(conf, '[Interface]\nAddress = 10.0.0.1/24\nListenPort = 1\n', { mode: 0o600 });
  const cases: [string, string][] = [
    ['genkey', '"$1" genkey'],
    ['genpsk', '"$1" genpsk'],
    ['pubkey', 'echo yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk= | "$1" pubkey'],
    ['--help', '"$1" --help'],
    ['quick strip', `"$1" quick strip ${conf}`],
  ];

  it.each(cases)('%s > /dev/full: one line, exit 1', (_, cmd) => {
    const r = sh(`${cmd} > /dev/full`);
    expect(r.err).toBe('wgts: write error: No space left on device\n');
    expect(r.rc).toBe(1);
  });

  it.each(cases)('%s into a pipe without reader: silent, 141', (_, cmd) => {
    const r = sh(`mkfifo "$2/fifo.$$" && exec 4<>"$2/fifo.$$" 5>"$2/fifo.$$" 4<&- && rm "$2/fifo.$$" && ${cmd} >&5`);
    expect(r.err).toBe('');
    expect(r.rc).toBe(141);
  });
});

describe('write errors on stderr', () => {
  it('are dropped: the command runs to its end and keeps its own exit status', () => {
    // usage goes to stderr (exit 1), help to stderr (exit 0): both unwritable, both statuses kept
    expect(sh('"$1" show a b c 2>/dev/full').rc).toBe(1);
    expect(sh('"$1" show --help 2>/dev/full').rc).toBe(0);
    const r = sh(`mkfifo "$2/fifo.$$" && exec 4<>"$2/fifo.$$" 5>"$2/fifo.$$" 4<&- && rm "$2/fifo.$$" && "$1" genkey 2>&5`);
    expect(r.rc).toBe(0);
    expect(r.out).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
  });
});
