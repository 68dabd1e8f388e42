import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cmd, expandHook, haveProgram, hook, query, RunError, setNarrator, shellQuote } from '../../src/system/run.js';

describe('run.ts', () => {
  const lines: string[] = [];
  const previous = setNarrator((l) => lines.push(l));
  afterEach(() => {
    lines.length = 0;
  });
  afterAll(() => setNarrator(previous));

  it('narrates `[#] argv` joined by spaces, as wg-quick cmd() does', async () => {
    expect(await cmd(['printf', '%s|', 'a b', 'c'], { captureStdout: true })).toBe('a b|c|');
    expect(lines).toEqual(['[#] printf %s| a b c']);
  });

  it('feeds input and shows a chosen form', async () => {
    expect(await cmd(['cat'], { input: 'x\n', shown: 'cat /dev/fd/63', captureStdout: true })).toBe('x\n');
    expect(lines).toEqual(['[#] cat /dev/fd/63']);
  });

  it('throws RunError with command, status and stderr', async () => {
    const e = await cmd(['bash', '-c', 'echo boom >&2; exit 3']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RunError);
    expect((e as RunError).exitCode).toBe(3);
    expect((e as RunError).stderr).toContain('boom');
    expect((e as RunError).command).toBe('bash -c echo boom >&2; exit 3');
  });

  it('a missing program is status 127', async () => {
    const e = (await cmd(['wgts-no-such-program-x']).catch((x: unknown) => x)) as RunError;
    expect(e.exitCode).toBe(127);
    expect(await haveProgram('wgts-no-such-program-x')).toBe(false);
    expect(await haveProgram('bash')).toBe(true);
  });

  it('query never throws and is silent', async () => {
    const r = await query(['bash', '-c', 'echo out; exit 4']);
    expect(r).toMatchObject({ exitCode: 4, stdout: 'out' });
    expect(lines).toEqual([]);
  });

  it('escapes control characters in narration', async () => {
    await cmd(['true', 'a\u001b[2Jb']);
    expect(lines).toEqual(['[#] true a\\x1b[2Jb']);
  });

  it('hooks: %i expanded everywhere, bash features, set -e semantics', async () => {
    expect(expandHook('a %i b %i%i', 'wg0')).toBe('a wg0 b wg0wg0');
    await hook('test "$(cat <(echo %i))" = wgq9', 'wgq9');
    expect(lines).toEqual(['[#] test "$(cat <(echo wgq9))" = wgq9']);
    // wg-quick runs hooks under set -e -o pipefail: an early failure aborts the snippet
    const e = (await hook('false; true', 'wgq9').catch((x: unknown) => x)) as RunError;
    expect(e).toBeInstanceOf(RunError);
    expect(e.exitCode).toBe(1);
    await expect(hook('false | true', 'x')).rejects.toBeInstanceOf(RunError);
    await expect(hook('shopt -q extglob', 'x')).resolves.toBeUndefined();
  });
});

describe('shellQuote', () => {
  it('bash reads every quoted word back exactly', () => {
    const words = ['', 'plain', "it's", "''", 'a b\tc\nd', '$HOME `id` $(id) \\ "x"', '*?[a]', '名称 = 笔记本', '!event'];
    const script = `for w in ${words.map(shellQuote).join(' ')}; do printf '%s\\0' "$w"; done`;
    const out = execFileSync('bash', ['-c', script], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(words);
  });
});
