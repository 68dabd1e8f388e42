/**
 * Reads ISC `dig`'s presentation-format output (Debian bind9-dnsutils) into sections, and fails the
 * test when dig remarks that it could not parse a reply.
 */
import { expect } from 'vitest';

export interface DigRecord {
  name: string;
  ttl: number;
  type: string;
  data: string;
}

export interface DigResult {
  status: string;
  flags: string[];
  answer: DigRecord[];
  authority: DigRecord[];
  additional: DigRecord[];
  /** The COOKIE dig printed (client and server cookie, hex), if any. */
  cookie: string | null;
  /** The whole output, for messages and for dig's own remarks (truncation, parse warnings). */
  text: string;
}

export function parseDig(text: string, stderr = ''): DigResult {
  const result: DigResult = { status: '', flags: [], answer: [], authority: [], additional: [], cookie: null, text };
  let section: DigRecord[] | null = null;
  for (const line of text.split('\n')) {
    const header = /status: (\w+)/.exec(line);
    if (header) result.status = header[1]!;
    const flags = /^;; flags: ([^;]*);/.exec(line);
    if (flags) result.flags = flags[1]!.trim().split(' ');
    const cookie = /^; COOKIE: ([0-9a-f]+)/.exec(line);
    if (cookie) result.cookie = cookie[1]!;
    const heading = /^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (heading) section = result[heading[1]!.toLowerCase() as 'answer' | 'authority' | 'additional'];
    else if (!line.trim()) section = null;
    else if (section && !line.startsWith(';')) {
      const [rname, ttl, cls, rtype, ...data] = line.split(/\s+/);
      expect(cls).toBe('IN');
      section.push({ name: rname!, ttl: Number(ttl), type: rtype!, data: data.join(' ') });
    }
  }
  // dig says so when it cannot parse a reply ("Got bad packet", "Warning: Message parser reports
  // malformed message packet", "WARNING: Message has N extra bytes at end").
  expect(`${text}${stderr}`.match(/bad packet|malformed|warning|extra bytes/i)?.[0] ?? null, text + stderr).toBeNull();
  return result;
}
