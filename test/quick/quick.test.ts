import { afterEach, describe, expect, it, vi } from 'vitest';
import { quickCommand, quickUsage } from '../../src/cli/quick.js';

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
});
