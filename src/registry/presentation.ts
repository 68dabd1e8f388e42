/**
 * Records in the text form of RFC 1035 §5.1 (master files, and the identity of a record when
 * export compares what it sent with what it would send now): `<owner>. <ttl> IN <type> <rdata>`,
 * names absolute, TXT strings quoted with `"` and `\` escaped and non-printing bytes as `\DDD`.
 * Only the types the registry publishes are rendered; anything else is a programming error.
 */
import type { Answer } from './wire.js';

const absolute = (name: string) => (name.endsWith('.') ? name : `${name}.`);

/** One TXT character-string, quoted (RFC 1035 §5.1: `\X` and `\DDD` escapes). */
export function quoteString(s: string | Uint8Array): string {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  let out = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b < 0x20 || b > 0x7e) out += `\\${String(b).padStart(3, '0')}`;
    else out += String.fromCharCode(b);
  }
  return `${out}"`;
}

/** The RDATA of a record, in presentation format. */
export function presentData(r: Answer): string {
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return r.data;
    case 'PTR':
    case 'NS':
    case 'CNAME':
      return absolute(r.data);
    case 'SRV':
      return `${r.data.priority ?? 0} ${r.data.weight ?? 0} ${r.data.port} ${absolute(r.data.target)}`;
    case 'TXT': {
      const parts = Array.isArray(r.data) ? r.data : [r.data];
      return parts.map(quoteString).join(' ');
    }
    case 'SOA': {
      const d = r.data;
      return `${absolute(d.mname)} ${absolute(d.rname)} ${d.serial ?? 0} ${d.refresh ?? 0} ${d.retry ?? 0} ${d.expire ?? 0} ${d.minimum ?? 0}`;
    }
    default:
      throw new TypeError(`presentation: cannot render a ${r.type} record`);
  }
}

/** `<owner>. <ttl> IN <type> <rdata>`. */
export function presentRecord(r: Answer): string {
  return `${absolute(r.name)} ${'ttl' in r ? (r.ttl ?? 0) : 0} IN ${r.type} ${presentData(r)}`;
}
