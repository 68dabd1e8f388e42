import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, opcodeOf, rcodeOf, replyFlags, RCODE, FLAG } from '../../src/registry/wire.js';

describe('wire', () => {
  it('decodes garbage to null instead of throwing', () => {
    expect(decodeMessage(Buffer.from('not dns'))).toBeNull();
    expect(decodeMessage(Buffer.alloc(0))).toBeNull();
  });

  it('answers with the query opcode and RD echoed, and the rcode and AA asked for', () => {
    const query = decodeMessage(encodeMessage({ type: 'query', id: 1, flags: FLAG.RD | (2 << 11), questions: [{ type: 'A', name: 'x' }] }))!;
    expect(opcodeOf(query)).toBe(2);
    const flags = replyFlags(query, RCODE.NXDOMAIN, true);
    const reply = decodeMessage(encodeMessage({ type: 'response', id: 1, flags, questions: query.questions }))!;
    expect([reply.flag_rd, reply.flag_aa, rcodeOf(reply), opcodeOf(reply)]).toEqual([true, true, 3, 2]);
  });

  it('is the only source file that imports dns-packet', () => {
    const dir = new URL('../../src/', import.meta.url);
    const offenders = (readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && f !== 'registry/wire.ts')
      .filter((f) => /from ['"]dns-packet['"]/.test(readFileSync(new URL(f, dir), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
