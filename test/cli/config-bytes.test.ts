/**
 * Configuration files are bytes, and what wg and wg-quick echo from them is those bytes: an
 * unrecognized line, a bad value, `wg-quick strip`. wgts against the real tools, byte for byte, on
 * files with Chinese comments, keys and values (UTF-8), a byte-order mark, and latin1 bytes that are
 * not UTF-8. Every file here is refused by the parser, so no interface is ever reached.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const wgts = resolve('bin/wgts');
const dir = mkdtempSync(join(tmpdir(), 'wgts-bytes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const key = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const files: Record<string, Buffer> = {
  chinese: Buffer.from(`[Interface]\n# 中文注释：笔记本\nPrivateKey = ${key}\nAddress = 10.0.0.1/24\n名称 = 笔记本\n`),
  value: Buffer.from(`[Interface]\nPrivateKey = 密钥${key}\n`),
  bom: Buffer.concat([BOM, Buffer.from(`[Interface]\nPrivateKey = ${key}\nDNS = 1.1.1.1\n`)]),
  latin1: Buffer.concat([Buffer.from('[Interface]\n# caf'), Buffer.from([0xe9]), Buffer.from('\n'), Buffer.from([0xe9, 0x74, 0xe9]), Buffer.from(' = 1\n')]),
  saveconfig: Buffer.from('[Interface]\nSaveConfig = 是\n'),
};

function run(argv: string[]): { rc: number | null; out: Buffer; err: Buffer } {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: dir });
  return { rc: r.status, out: r.stdout, err: r.stderr };
}

describe('config bytes echoed as read', () => {
  it.each(Object.keys(files).filter((n) => n !== 'saveconfig'))('setconf errors, %s: the bytes wg prints', (name) => {
    const file = join(dir, `${name}.txt`);
    writeFileSync(file, files[name]!);
    const wg = run(['wg', 'setconf', 'wgb-none', file]);
    const ours = run([wgts, 'setconf', 'wgb-none', file]);
    expect(wg.rc).toBe(1); // refused while parsing: the interface is never reached
    expect(ours.err.toString('latin1')).toBe(wg.err.toString('latin1'));
    expect(ours.rc).toBe(wg.rc);
  });

  it.each(Object.keys(files))('quick strip, %s: stdout and stderr as wg-quick strip', (name) => {
    const file = join(dir, `wgb${name.slice(0, 8)}.conf`);
    writeFileSync(file, files[name]!, { mode: 0o600 });
    const wg = run(['wg-quick', 'strip', file]);
    const ours = run([wgts, 'quick', 'strip', file]);
    expect(ours.out.toString('latin1')).toBe(wg.out.toString('latin1'));
    expect(ours.err.toString('latin1')).toBe(wg.err.toString('latin1').replace('wg-quick: ', 'wgts quick: '));
    expect(ours.rc).toBe(wg.rc);
  });
});

describe('lint reads the file as setconf does', () => {
  it('a BOM before bytes that are not UTF-8: found as a BOM, and lines quoted with the bytes setconf prints', () => {
    const file = join(dir, 'bom-latin1.conf');
    const line = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' au lait')]);
    writeFileSync(file, Buffer.concat([BOM, Buffer.from('[Interface]\n'), line, Buffer.from('\n')]), { mode: 0o600 });
    const lint = run([wgts, 'lint', file]);
    const setconf = run([wgts, 'setconf', 'wgb-none', file]);
    const reports = lint.out.toString('latin1').split('\n');
    expect(reports[0]).toMatch(/^\S+bom-latin1\.conf:1: the file starts with a byte-order mark/);
    expect(reports[1]).toContain(`\`${line.toString('latin1')}'`);
    expect(setconf.err.toString('latin1')).toContain(BOM.toString('latin1') + '[Interface]');
    expect(lint.rc).toBe(1);
  });

  it('a BOM before UTF-8: found once, and a UTF-8 line quoted as it is written', () => {
    const file = join(dir, 'bom-utf8.conf');
    writeFileSync(file, Buffer.concat([BOM, Buffer.from('[Interface]\n名称 笔记本\n')]), { mode: 0o600 });
    const lint = run([wgts, 'lint', file]);
    const reports = lint.out.toString('utf8').split('\n');
    expect(reports[0]).toMatch(/bom-utf8\.conf:1: the file starts with a byte-order mark/);
    expect(reports[1]).toContain('`名称 笔记本\'');
  });
});
