import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Mapping, parseSmaps, readSmaps, releasable, releaseStartupPages } from '../../src/system/resident-pages.js';

/** The fields smaps prints for a mapping (proc(5)), with the two that count its own pages. */
function fields(anonymous: number, swap = 0): string {
  return [
    'Size:               1024 kB', 'KernelPageSize:        4 kB', 'Rss:                 512 kB', 'Pss:                  40 kB',
    'Shared_Clean:        500 kB', 'Private_Dirty:          0 kB', `Anonymous:      ${String(anonymous).padStart(8)} kB`,
    'AnonHugePages:          0 kB', `Swap:           ${String(swap).padStart(8)} kB`, 'SwapPss:                0 kB',
    'VmFlags: rd mr mw me dw sd',
  ].join('\n');
}

const SMAPS = [
  '00400000-00b6f000 r--p 00000000 08:01 1234                               /usr/bin/node', fields(0),
  '00b6f000-02600000 r-xp 0076f000 08:01 1234                               /usr/bin/node', fields(0),
  // RELRO: relocated at start-up, then made read-only; its written pages are private copies.
  '0563a000-0563e000 r--p 05239000 08:01 1234                               /usr/bin/node', fields(12),
  '0563e000-0565c000 rw-p 0523d000 08:01 1234                               /usr/bin/node', fields(0),
  '01a2b000-01e5f000 rw-p 00000000 00:00 0                                  [heap]', fields(3632),
  '7f0000000000-7f0000040000 rw-p 00000000 00:00 0 ', fields(256),
  '7f1000000000-7f1000100000 r--s 00000000 00:05 99                         /dev/shm/ring', fields(0),
  // A read-only mapping with a private copy swapped out.
  '7f2000000000-7f2000010000 r--p 00000000 08:01 77                         /usr/lib/x86_64-linux-gnu/libm.so.6', fields(0, 8),
  '7f3000000000-7f3000200000 r-xp 00010000 08:01 78                         /opt/a b/koffi.node (deleted)', fields(0),
  '7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]', fields(0),
].join('\n') + '\n';

describe('resident pages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-smaps-'));
  const file = join(dir, 'smaps');
  writeFileSync(file, SMAPS);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses smaps: address ranges, permissions, file or not, own pages', () => {
    const m = readSmaps(file);
    expect(m).toHaveLength(10);
    expect(m[0]).toEqual({ start: 0x400000, end: 0xb6f000, perms: 'r--p', file: true, rssKiB: 512, anonymousKiB: 0, swapKiB: 0 });
    expect(m[2]).toMatchObject({ perms: 'r--p', anonymousKiB: 12 });
    expect(m[4]).toMatchObject({ file: false, anonymousKiB: 3632 });
    expect(m[5]).toMatchObject({ start: 0x7f0000000000, end: 0x7f0000040000, file: false });
    expect(m[7]).toMatchObject({ swapKiB: 8 });
    // Read in chunks smaller than one mapping: the buffer grows, mappings split across reads.
    expect(readSmaps(file, 64)).toEqual(m);
  });

  it('parses only complete mappings and says how far it got', () => {
    const bytes = Buffer.from(SMAPS, 'latin1');
    const second = bytes.indexOf('00b6f000-');
    const out: Mapping[] = [];
    // The first mapping and half of the second: the second waits for the rest of its lines.
    expect(parseSmaps(bytes, second + 100, out)).toBe(second);
    expect(out).toHaveLength(1);
  });

  it('releases only private read-only file mappings that hold no page of their own', () => {
    const which = readSmaps(file).map((m, i) => (releasable(m) ? i : -1)).filter((i) => i >= 0);
    // node's headers and symbols, its code, koffi.node; not RELRO, data, heap, anonymous, shared,
    // swapped-out copies or the vDSO.
    expect(which).toEqual([0, 1, 8]);
  });

  it('drops this process\'s file pages, keeps the written ones, and the code still runs', () => {
    const rssFile = (): number => Number(/^RssFile:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'))![1]);
    const written = (): Map<number, number> =>
      new Map(readSmaps().filter((m) => m.file && m.anonymousKiB > 0).map((m) => [m.start, m.anonymousKiB]));
    const before = rssFile();
    const copies = written();
    const released = releaseStartupPages();
    expect(released).toBeGreaterThan(4 * 2 ** 20);
    expect(rssFile()).toBeLessThan(before - released / 2048);
    // RELRO and other written pages are all still there (the GOT, vtables: losing them would crash).
    const after = written();
    for (const [start, kib] of copies) expect(after.get(start)).toBe(kib);
    // OpenSSL in node's binary, faulted back in from the page cache.
    expect(createHash('sha256').update('abc').digest('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
