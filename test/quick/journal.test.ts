/** The journal on disk: each record is in the state file before record() returns (crash safety). */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'wgts-journal-'));
process.env.WGTS_QUICK_STATE_DIR = join(dir, 'state');
const { Journal, loadState } = await import('../../src/quick/journal.js');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function onDisk(): { journal: unknown[]; holds: string[] } {
  const [name] = readdirSync(join(dir, 'state'));
  return JSON.parse(readFileSync(join(dir, 'state', name!), 'utf8')) as { journal: unknown[]; holds: string[] };
}

describe('Journal', () => {
  it('is on disk from open, and has every record, amendment and forgotten action as it happens', async () => {
    const j = await Journal.open({ ifname: 'wgj0', configFile: '/x/wgj0.conf', journal: [], holds: [] });
    expect(onDisk().journal).toEqual([]);
    expect(statSync(join(dir, 'state')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'state', readdirSync(join(dir, 'state'))[0]!)).mode & 0o777).toBe(0o600);
    j.record({ kind: 'link-delete', step: 'link', ifname: 'wgj0' });
    expect(onDisk().journal).toEqual([{ kind: 'link-delete', step: 'link', ifname: 'wgj0' }]);
    const amend = j.record({ kind: 'rule-delete', step: 'rules', family: 4, table: 51820, fwmark: 51820, invert: true, bestEffort: true });
    expect(onDisk().journal[1]).not.toHaveProperty('priority');
    amend([{ kind: 'rule-delete', step: 'rules', family: 4, table: 51820, priority: 32765, bestEffort: true }]);
    expect(onDisk().journal[1]).toEqual({ kind: 'rule-delete', step: 'rules', family: 4, table: 51820, priority: 32765, bestEffort: true });
    j.hold('sysctl:net.ipv4.ip_forward');
    expect(onDisk().holds).toEqual(['sysctl:net.ipv4.ip_forward']);
    j.forget([j.actions[1]!], ['sysctl:net.ipv4.ip_forward']);
    expect(onDisk()).toMatchObject({ journal: [{ kind: 'link-delete' }], holds: [] });
    expect((await loadState('wgj0'))?.configFile).toBe('/x/wgj0.conf');
    expect(readdirSync(join(dir, 'state')).some((n) => n.endsWith('.tmp'))).toBe(false);
    await j.drop();
    expect(await loadState('wgj0')).toBeUndefined();
  });
});
