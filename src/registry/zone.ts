/**
 * DNS-SD names of the registry (RFC 6763 §4.1, laid out as wgsd does):
 *   service type     `_wireguard._udp.<zone>`             (PTR: one per peer with an endpoint)
 *   service instance `<base32 key>._wireguard._udp.<zone>` (SRV, A/AAAA, TXT)
 * Names are handled without the trailing dot (dns-packet's form) and compared in lower case.
 */
import { KEY_LEN, type Key } from '../conf/model.js';
import { base32Decode, base32Encode } from './base32.js';

export const SERVICE_LABELS = '_wireguard._udp';
/** A zone when none is given: `.internal` is reserved for private use (ICANN, 2024). */
export const DEFAULT_ZONE = 'wgts.internal';

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Checks and canonicalises a zone given by the user: lower case, no trailing dot, LDH labels
 * (underscore allowed) of at most 63 characters, and room left for the 56-character instance label
 * and the service labels under the 253-character name limit. Throws a RangeError naming the problem.
 */
export function normalizeZone(zone: string): string {
  const z = zone.toLowerCase().replace(/\.$/, '');
  if (z === '') throw new RangeError(`zone: expected a domain name, got \`${zone}'`);
  for (const label of z.split('.')) {
    if (!LABEL.test(label)) throw new RangeError(`zone: \`${label}' is not a valid DNS label in \`${zone}'`);
  }
  if (instanceName(new Uint8Array(KEY_LEN), z).length > 253) {
    throw new RangeError(`zone: \`${zone}' is too long to hold instance names (253 characters at most)`);
  }
  return z;
}

/** `_wireguard._udp.<zone>`. */
export function serviceName(zone: string): string {
  return `${SERVICE_LABELS}.${zone}`;
}

/** `<lower-case padded base32 key>._wireguard._udp.<zone>`, as wgsd names an instance. */
export function instanceName(key: Key, zone: string): string {
  return `${base32Encode(key)}.${serviceName(zone)}`;
}

/** What a query name refers to. `outside` = not in our zone (we are not authoritative). */
export type NameKind =
  | { kind: 'service' }
  | { kind: 'instance'; key: Key }
  | { kind: 'other' }
  | { kind: 'outside' };

/** Classifies a query name against a normalised zone; the case of `qname` does not matter. */
export function classifyName(qname: string, zone: string): NameKind {
  const name = qname.toLowerCase().replace(/\.$/, '');
  if (name !== zone && !name.endsWith(`.${zone}`)) return { kind: 'outside' };
  const service = serviceName(zone);
  if (name === service) return { kind: 'service' };
  if (name.endsWith(`.${service}`)) {
    const label = name.slice(0, -service.length - 1);
    if (!label.includes('.')) {
      const key = base32Decode(label);
      if (key && key.length === KEY_LEN) return { kind: 'instance', key };
    }
  }
  return { kind: 'other' };
}
