import { expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { formatIPv4 as inetNtop4, formatIPv6 as inetNtop6, parseIPv4 as inetPton4, parseIPv6 as inetPton6 } from '../../src/conf/ip.js';

/** Vectors: glibc's own inet_pton/inet_ntop answers (see the file's "source"); null = rejected. */
const vectors = JSON.parse(readFileSync(new URL('./ip-glibc-vectors.json', import.meta.url), 'utf8')) as {
  v4: Record<string, string | null>;
  v6: Record<string, string | null>;
};

it('parses and prints IPv6 exactly as glibc', () => {
  for (const [text, want] of Object.entries(vectors.v6)) {
    const b = inetPton6(text);
    expect(b ? inetNtop6(b) : null, text).toBe(want);
  }
});

it('parses and prints IPv4 exactly as glibc', () => {
  for (const [text, want] of Object.entries(vectors.v4)) {
    const b = inetPton4(text);
    expect(b ? inetNtop4(b) : null, text).toBe(want);
  }
});
