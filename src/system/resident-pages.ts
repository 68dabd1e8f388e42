/**
 * Giving back the file pages a long-running process touched only while it started.
 *
 * Starting Node maps in pages of its own binary and of the shared libraries: the dynamic linker
 * reads node's symbol table (about 6 MiB of it) to bind the libraries, V8 deserializes its start-up
 * snapshot, node loads and compiles its built-in modules, and the kernel maps up to 64 KiB of
 * neighbouring cached pages with every page fault (fault-around). They stay in the process's page
 * tables, and so in its RSS, for as long as it runs: about 34 of an idle daemon's 50 MiB were
 * node's binary (docs/benchmarks.md, "Data plane").
 *
 * madvise(MADV_DONTNEED) on a private file mapping that nothing ever wrote drops those entries
 * (madvise(2)): the pages stay in the page cache, shared with every other process running node, and
 * a later access maps them back from there (a minor fault, no I/O unless memory pressure evicted
 * them meanwhile). What the process still uses returns on its next call; what only start-up used
 * is left to the page cache, which can reclaim it.
 *
 * Only mappings that are private, not writable, backed by a file and hold no page of their own are
 * released. A private mapping's written pages are anonymous copies, and MADV_DONTNEED would throw
 * them away and map the file's original contents back: the RELRO part of every ELF object (its
 * relocated GOT and vtables, made read-only after relocation) is such a mapping, as is code a
 * debugger patched. /proc/PID/smaps (proc(5)) counts those pages per mapping as `Anonymous` (in
 * memory) and `Swap` (swapped out); one of either and the mapping is left alone. A mapping that is
 * not writable cannot gain such pages between the read of smaps and the madvise without an
 * mprotect, which nothing in this process does to a file mapping after start-up.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { MADV_DONTNEED, sys } from './libc.js';

/** One mapping of /proc/PID/smaps: its address range, permissions and pages of its own. */
export interface Mapping {
  start: number;
  end: number;
  /** As in smaps: "r-xp" (read, execute, private). */
  perms: string;
  /** Backed by a file (its path starts with "/"; "[heap]", "[stack]"... and anonymous ones are not). */
  file: boolean;
  /** KiB in memory (`Rss`), of them private copies (`Anonymous`), and copies swapped out (`Swap`). */
  rssKiB: number;
  anonymousKiB: number;
  swapKiB: number;
}

/** A mapping's header line: "start-end perms offset dev inode path", the path's first character captured. */
const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(\S?)/;
const NL = 0x0a;
/** The fields that count a mapping's pages, and its last one (smaps has printed it since Linux 3.8). */
const RSS = Buffer.from('\nRss:', 'latin1');
const ANONYMOUS = Buffer.from('\nAnonymous:', 'latin1');
const SWAP = Buffer.from('\nSwap:', 'latin1');
const VMFLAGS = Buffer.from('\nVmFlags:', 'latin1');

/**
 * Parses the complete mappings in `buf[0, end)` of smaps (proc(5): a header line, then "Field:
 * value" lines up to VmFlags) into `out` and returns how many bytes they took. Straight from the
 * bytes, with native searches and one short string per mapping: the whole ~150 KB text as a
 * string, its ~5,000 lines and their matches would stay in V8's young generation and in malloc's
 * heap (0.5 MiB of RSS, measured) until the next collection, and a loop of our own over every line
 * gets hot enough for V8's optimizing compiler, whose code is 4 MiB of node's binary (measured).
 */
export function parseSmaps(buf: Uint8Array, end: number, out: Mapping[]): number {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  for (;;) {
    const flags = b.indexOf(VMFLAGS, at);
    const stop = flags < 0 ? -1 : b.indexOf(NL, flags + 1);
    if (stop < 0 || stop >= end) return at;
    const h = HEADER.exec(b.toString('latin1', at, b.indexOf(NL, at)));
    if (h) {
      out.push({
        start: parseInt(h[1]!, 16),
        end: parseInt(h[2]!, 16),
        perms: h[3]!,
        file: h[4] === '/',
        rssKiB: field(b, RSS, at, flags),
        anonymousKiB: field(b, ANONYMOUS, at, flags),
        swapKiB: field(b, SWAP, at, flags),
      });
    }
    at = stop + 1;
  }
}

/** The "   12 kB" value of `name` between `from` and `to`, 0 if absent. */
function field(b: Buffer, name: Buffer, from: number, to: number): number {
  const i = b.indexOf(name, from);
  return i < 0 || i >= to ? 0 : parseInt(b.toString('latin1', i + name.length, b.indexOf(NL, i + 1)), 10);
}

/** The mappings of /proc/self/smaps (or `path`), read in chunks of `chunk` bytes (more if one mapping needs it). */
export function readSmaps(path = '/proc/self/smaps', chunk = 16384): Mapping[] {
  const out: Mapping[] = [];
  let buf = Buffer.allocUnsafeSlow(chunk);
  const fd = openSync(path, 'r');
  try {
    let have = 0;
    for (;;) {
      if (have === buf.length) {
        const bigger = Buffer.allocUnsafeSlow(buf.length * 2);
        buf.copy(bigger, 0, 0, have);
        buf = bigger;
      }
      const n = readSync(fd, buf, have, buf.length - have, null);
      if (n === 0) return out;
      have += n;
      const used = parseSmaps(buf, have, out);
      buf.copyWithin(0, used, have);
      have -= used;
    }
  } finally {
    closeSync(fd);
  }
}

/** A private, read-only file mapping with no page of its own: releasing it loses nothing. */
export function releasable(m: Mapping): boolean {
  return m.file && m.perms[1] === '-' && m.perms[3] === 'p' && m.anonymousKiB === 0 && m.swapKiB === 0;
}

/**
 * Drops this process's page-table entries for every releasable mapping (see above) and returns how
 * many bytes were resident in them. Costs a read of /proc/self/smaps and one system call per
 * mapping (a few milliseconds); the pages still in use come back on their next access.
 */
export function releaseStartupPages(smapsPath = '/proc/self/smaps'): number {
  let released = 0;
  for (const m of readSmaps(smapsPath)) {
    if (releasable(m) && sys.madvise(m.start, m.end - m.start, MADV_DONTNEED) === 0) released += m.rssKiB * 1024;
  }
  return released;
}
