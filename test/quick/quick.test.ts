import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseQuickArgs, quickCommand, quickUsage } from '../../src/cli/quick.js';
import { parseWgPart } from '../../src/quick/config.js';
import { QuickError, loadTarget } from '../../src/quick/target.js';

function capture(): { err: () => string } {
  let err = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  return { err: () => err };
}

describe('wgts quick: usage and exit codes as wg-quick (§3.1)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('help on stderr, rc 0', async () => {
    for (const h of ['--help', '-h', 'help']) {
      const c = capture();
      expect(await quickCommand.run('wgts', [h])).toBe(0);
      expect(c.err()).toBe(quickUsage('wgts quick'));
      vi.restoreAllMocks();
    }
  });

  it('anything else malformed: usage, rc 1', async () => {
    for (const args of [[], ['up'], ['up', 'a', 'b'], ['sideways', 'wg0'], ['down', 'wg0', '--nat-via', 'eth0'], ['up', 'wg0', '--nat-via']]) {
      const c = capture();
      expect(await quickCommand.run('wgts', args)).toBe(1);
      expect(c.err()).toBe(quickUsage('wgts quick'));
      vi.restoreAllMocks();
    }
  });

  it('usage names every action and the NAT option', () => {
    const u = quickUsage('wgts quick');
    expect(u.startsWith('Usage: wgts quick [ up | down | save | strip ] [ CONFIG_FILE | INTERFACE ]')).toBe(true);
    expect(u).toContain('--nat-via IFACE');
  });

  it('a missing config is wg-quick\'s message, rc 1', async () => {
    const c = capture();
    expect(await quickCommand.run('wgts', ['up', '/nonexistent/wgq0.conf'])).toBe(1);
    expect(c.err()).toBe("wgts quick: `/nonexistent/wgq0.conf' does not exist\n");
  });

  it('warns about a world-accessible config (file and directory both open to others), like wg-quick', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgq-perm-'));
    try {
      const file = join(dir, 'wgqperm0.conf');
      writeFileSync(file, '[Interface]\n');
      for (const [fileMode, dirMode, warns] of [[0o644, 0o755, true], [0o644, 0o700, false], [0o600, 0o755, false]] as const) {
        chmodSync(file, fileMode);
        chmodSync(dir, dirMode);
        const c = capture();
        expect(await quickCommand.run('wgts', ['save', file])).toBe(1);
        const warning = `Warning: \`${file}' is world accessible\n`;
        expect(c.err()).toBe(`${warns ? warning : ''}wgts quick: \`wgqperm0' is not a WireGuard interface\n`);
        vi.restoreAllMocks();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('wgts quick: errors quoting a file that is not UTF-8 print its bytes', () => {
  const bytesOf = async (name: string, content: Buffer): Promise<Buffer> => {
    const dir = mkdtempSync(join(tmpdir(), 'wgq-bytes-'));
    try {
      const file = join(dir, name);
      writeFileSync(file, content, { mode: 0o600 });
      try {
        await parseWgPart(await loadTarget(file, {}));
      } catch (e) {
        if (e instanceof QuickError && e.bytes) return e.bytes;
        throw e;
      }
      throw new Error('no error');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

  it("an unrecognized line: the file's line number, the line's bytes as wg prints them", async () => {
    const bytes = await bytesOf('wgl0.conf', latin1('[Interface]\nAddress = 10.0.0.1/24\n# caf\xe9\nMTU = 1400\n\xe9t\xe9 = 1\n'));
    expect(bytes.toString('latin1')).toMatch(/\/wgl0\.conf:5: Line unrecognized: `\xe9t\xe9=1'\nConfiguration parsing error$/);
  });

  it('a SaveConfig value', async () => {
    const bytes = await bytesOf('wgl1.conf', latin1('[Interface]\nSaveConfig = \xe9\n'));
    expect(bytes.equals(latin1("`\xe9' is neither true nor false"))).toBe(true);
  });
});

describe('wgts quick flags (parseArgs)', () => {
  const base = { hooks: false, noNatVia: false, options: {} };
  it('reads --nat-via VALUE and --nat-via=VALUE alike, anywhere on the line, the last one winning', () => {
    for (const args of [['up', 'wg0', '--nat-via', 'eth0'], ['--nat-via=eth0', 'up', 'wg0'], ['up', '--nat-via', 'eth9', 'wg0', '--nat-via', 'eth0']]) {
      expect(parseQuickArgs(args)).toEqual({ ...base, action: 'up', target: 'wg0', options: { natVia: 'eth0' } });
    }
  });

  it('takes --hooks and --no-nat-via for reload only, and not --no-nat-via with --nat-via', () => {
    expect(parseQuickArgs(['reload', 'wg0', '--hooks', '--no-nat-via'])).toEqual({ ...base, action: 'reload', target: 'wg0', hooks: true, noNatVia: true });
    expect(parseQuickArgs(['up', 'wg0', '--hooks'])).toBeUndefined();
    expect(parseQuickArgs(['down', 'wg0', '--no-nat-via'])).toBeUndefined();
    expect(parseQuickArgs(['reload', 'wg0', '--no-nat-via', '--nat-via', 'eth0'])).toBeUndefined();
  });

  it('leaves every other word to wg-quick\'s grammar (an interface may be called `--foo`; `--` is a word)', () => {
    expect(parseQuickArgs(['up', '--foo'])).toEqual({ ...base, action: 'up', target: '--foo' });
    expect(parseQuickArgs(['down', '-x'])).toEqual({ ...base, action: 'down', target: '-x' });
    expect(parseQuickArgs(['up', '--hooks=1'])).toEqual({ ...base, action: 'up', target: '--hooks=1' });
    expect(parseQuickArgs(['up', '--nat-via'])).toEqual({ ...base, action: 'up', target: '--nat-via' });
    expect(parseQuickArgs(['up', '--', 'wg0'])).toBeUndefined();
    expect(parseQuickArgs(['up', 'wg0', '--nat-via', '--'])).toEqual({ ...base, action: 'up', target: 'wg0', options: { natVia: '--' } });
  });
});
