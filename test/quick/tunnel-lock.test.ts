/** The per-tunnel lock (quick/journal.ts lockTunnel): a refusal names the command that holds it. */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'wgts-lock-'));
process.env.WGTS_QUICK_STATE_DIR = join(dir, 'state');
const { lockTunnel } = await import('../../src/quick/journal.js');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lockFile = (): string => join(dir, 'state', readdirSync(join(dir, 'state')).find((n) => n.endsWith('.lock'))!);

describe('lockTunnel', () => {
  it('records the pid and the command, and a refusal names that command', async () => {
    const release = await lockTunnel('wgl0', 0, 'wgts peer');
    const path = lockFile();
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid} wgts peer\n`);
    // Hand the lock to a live process that is not us (our parent), as another `wgts peer` would hold it.
    writeFileSync(path, `${process.ppid} wgts peer\n`);
    await expect(lockTunnel('wgl0')).rejects.toThrow(`another \`wgts peer' (pid ${process.ppid}) is working on \`wgl0'; try again when it is done`);
    // A lock holding only a pid is quick's; a name wgts never writes is not echoed.
    writeFileSync(path, `${process.ppid}\n`);
    await expect(lockTunnel('wgl0')).rejects.toThrow(`another \`wgts quick' (pid ${process.ppid})`);
    writeFileSync(path, `${process.ppid} \x1b[2Jrm -rf\n`);
    await expect(lockTunnel('wgl0')).rejects.toThrow(`another \`wgts' (pid ${process.ppid})`);
    await release();
    expect(readdirSync(join(dir, 'state')).filter((n) => n.endsWith('.lock'))).toEqual([]);
  });
});
