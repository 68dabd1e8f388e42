/**
 * system/atomic-write.ts: the target only ever holds the old bytes or the new ones, mode 0600, and a
 * symlink planted at the temporary name is neither followed nor written through.
 */
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stageFile, writeFileAtomic, writeFileAtomicSync } from '../../src/system/atomic-write.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wgts-atomic-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('stageFile / writeFileAtomic', () => {
  it('replaces the target with exactly 0600 whatever the umask and leaves no temporary file', async () => {
    const target = join(dir, 'wg0.conf');
    await writeFile(target, 'old', { mode: 0o644 });
    const old = process.umask(0o277);
    try {
      await writeFileAtomic(target, 'new');
    } finally {
      process.umask(old);
    }
    expect(await readFile(target, 'utf8')).toBe('new');
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['wg0.conf']);
  });

  it('shows nothing at the target before commit, and abort leaves it as it was', async () => {
    const target = join(dir, 'wg0.conf');
    await writeFile(target, 'old');
    const staged = await stageFile(target, 'new');
    expect(await readFile(target, 'utf8')).toBe('old');
    await staged.abort();
    expect(await readFile(target, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['wg0.conf']);
  });

  it('does not follow a symlink planted at the temporary name', async () => {
    const target = join(dir, 'wg0.conf');
    const victim = join(dir, 'victim');
    await writeFile(victim, 'victim', { mode: 0o644 });
    await symlink(victim, `${target}.tmp`);
    await writeFileAtomic(target, 'new', { tmp: `${target}.tmp` });
    expect(await readFile(victim, 'utf8')).toBe('victim');
    expect((await stat(victim)).mode & 0o777).toBe(0o644);
    expect(await readFile(target, 'utf8')).toBe('new');
    expect((await lstat(target)).isFile()).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['victim', 'wg0.conf']);
  });

  it('like: the new file gets the mode it is told to keep', async () => {
    const target = join(dir, 'zone');
    await writeFileAtomic(target, 'new', { like: { mode: 0o100644, uid: process.getuid!(), gid: process.getgid!() } });
    expect((await stat(target)).mode & 0o7777).toBe(0o644);
  });

  it('fails without touching the target when the directory cannot be written', async () => {
    await expect(writeFileAtomic(join(dir, 'missing', 'wg0.conf'), 'new')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('writeFileAtomicSync', () => {
  it('replaces the target with exactly 0600, leaves no temporary file, and replaces a leftover one', async () => {
    const target = join(dir, 'wg0@1.json');
    await writeFile(target, 'old', { mode: 0o644 });
    await writeFile(`${target}.tmp`, 'left by a killed writer');
    const old = process.umask(0o277);
    try {
      writeFileAtomicSync(target, 'new', { tmp: `${target}.tmp` });
    } finally {
      process.umask(old);
    }
    expect(await readFile(target, 'utf8')).toBe('new');
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['wg0@1.json']);
  });

  it('does not follow a symlink planted at the temporary name', async () => {
    const target = join(dir, 'wg0@1.json');
    const victim = join(dir, 'victim');
    await writeFile(victim, 'victim', { mode: 0o644 });
    await symlink(victim, `${target}.tmp`);
    writeFileAtomicSync(target, 'new', { tmp: `${target}.tmp` });
    expect(await readFile(victim, 'utf8')).toBe('victim');
    expect(await readFile(target, 'utf8')).toBe('new');
    expect((await readdir(dir)).sort()).toEqual(['victim', 'wg0@1.json']);
  });

  it('leaves the target as it was and no temporary file when the rename fails', async () => {
    const target = join(dir, 'wg0@1.json');
    await mkdir(target); // rename(2) of a file over a directory: EISDIR
    expect(() => writeFileAtomicSync(target, 'new', { tmp: `${target}.tmp` })).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect((await stat(target)).isDirectory()).toBe(true);
    expect(await readdir(dir)).toEqual(['wg0@1.json']);
  });
});
