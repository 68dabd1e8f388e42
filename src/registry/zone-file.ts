/**
 * The registry's records as an RFC 1035 zone file (master file, §5), for an authoritative server
 * (nsd, Knot, BIND) to load: a marker comment, the SOA and NS records the user names, then the
 * records of published.ts, every name absolute. The file is replaced atomically (written beside
 * it, synced, renamed) and only when its records changed; the SOA serial then grows by one (RFC
 * 1982 arithmetic), so secondaries transfer the zone only when there is something new.
 */
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../system/atomic-write.js';
import type { Answer } from './wire.js';
import { presentRecord } from './presentation.js';

/** The first line of every file we write: we replace only files that carry it. */
export const ZONE_FILE_MARKER = '; Written by wgts registry export';

/** The zone's own records, as the user names them. */
export interface ZoneApex {
  /** Normalised zone (zone.ts normalizeZone). */
  zone: string;
  /** Name servers of the zone (NS records); the first is the SOA MNAME unless `mname` is given. */
  ns: string[];
  mname?: string;
  /** Mailbox of the zone's operator, in domain-name form (`hostmaster.example.org`). */
  rname: string;
  /** TTL of the SOA and NS records. */
  ttl: number;
  refresh: number;
  retry: number;
  expire: number;
  /** Negative-caching TTL (RFC 2308 §4). */
  minimum: number;
}

export function apexRecords(apex: ZoneApex, serial: number): Answer[] {
  const soa: Answer = {
    type: 'SOA',
    name: apex.zone,
    ttl: apex.ttl,
    class: 'IN',
    data: {
      mname: apex.mname ?? apex.ns[0]!,
      rname: apex.rname,
      serial,
      refresh: apex.refresh,
      retry: apex.retry,
      expire: apex.expire,
      minimum: apex.minimum,
    },
  };
  return [soa, ...apex.ns.map((ns): Answer => ({ type: 'NS', name: apex.zone, ttl: apex.ttl, class: 'IN', data: ns }))];
}

/** The whole file for `serial`. `source` names the interface in the marker line. */
export function renderZoneFile(apex: ZoneApex, serial: number, records: readonly Answer[], source: string): string {
  const lines = [`${ZONE_FILE_MARKER} from ${source}; edits are lost at the next change.`];
  for (const r of [...apexRecords(apex, serial), ...records]) lines.push(presentRecord(r));
  return `${lines.join('\n')}\n`;
}

/** The SOA serial of a file we wrote, or null if `text` is not one of ours. */
export function serialOf(text: string): number | null {
  if (!text.startsWith(ZONE_FILE_MARKER)) return null;
  const m = /^\S+ \d+ IN SOA \S+ \S+ (\d+) /m.exec(text);
  return m ? Number(m[1]) : null;
}

/** The serial after `serial` (RFC 1982: adding one, modulo 2^32). */
export function nextSerial(serial: number): number {
  return (serial + 1) % 2 ** 32;
}

export interface ZoneFileResult {
  changed: boolean;
  serial: number;
}

/**
 * Writes the zone file if its records differ from what `path` holds. A first file gets the
 * current Unix time as serial (so a file recreated later still counts up). Refuses to replace a
 * file it did not write; an empty file counts as ours, so that the user can create it first with
 * the owner and mode the DNS server needs (it reads the file as its own user). A new file is
 * created owner-only (the zone lists every peer's public address) and then given the old file's
 * mode and owner.
 */
export async function writeZoneFile(
  path: string,
  apex: ZoneApex,
  records: readonly Answer[],
  source: string,
  now: () => number = Date.now,
): Promise<ZoneFileResult> {
  let old: string | null = null;
  try {
    old = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  let serial = Math.floor(now() / 1000) % 2 ** 32;
  if (old) {
    const oldSerial = serialOf(old);
    if (oldSerial === null) throw new Error(`${path}: not written by wgts registry export; refusing to replace it`);
    if (renderZoneFile(apex, oldSerial, records, source) === old) return { changed: false, serial: oldSerial };
    serial = nextSerial(oldSerial);
  }
  const st = old === null ? null : await stat(path);
  await replaceFile(path, renderZoneFile(apex, serial, records, source), st);
  return { changed: true, serial };
}

/**
 * Writes `<path>.tmp` (system/atomic-write.ts: created exclusively, never through a planted link),
 * syncs it, renames it over `path`: readers see the old file or the new one. An existing file's
 * mode and owner are kept, so the DNS server can still read it.
 */
async function replaceFile(path: string, text: string, like: { mode: number; uid: number; gid: number } | null): Promise<void> {
  await writeFileAtomic(path, text, { tmp: `${path}.tmp`, ...(like ? { like } : {}) });
}
