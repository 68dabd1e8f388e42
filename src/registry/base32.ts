/**
 * RFC 4648 §6 Base32 for public keys in DNS names. DNS compares names case-insensitively, so a
 * base64 key (case-sensitive) cannot be a label; Base32 can (wgsd's reasoning).
 *
 * Spelling: wgsd writes `strings.ToLower(base32.StdEncoding.EncodeToString(key))`, i.e. lower case
 * WITH the `====` padding (52 data characters + 4 = 56 per 32-byte key), and its client queries the
 * upper-case padded form. We write wgsd's form so that wgsd-client and wgts interoperate, and read
 * either case, with or without the padding. Public keys only: nothing secret passes through here.
 */

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** Encodes bytes as lower-case Base32 with `=` padding to a multiple of 8 characters. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

/**
 * Decodes Base32 in either case, padding optional (but, when present, exactly what the length
 * needs). Returns null for anything else, including non-zero trailing bits, so every byte string has
 * one spelling per case.
 */
export function base32Decode(text: string): Uint8Array | null {
  const body = text.replace(/=+$/, '');
  const padded = text.length !== body.length;
  if (padded && text.length % 8 !== 0) return null;
  const rem = body.length % 8;
  // Valid final-group lengths: 0, 2, 4, 5, 7 characters (8, 16, 24, 32 bits + 0).
  if (rem === 1 || rem === 3 || rem === 6) return null;
  const out = new Uint8Array(Math.floor((body.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const v = ALPHABET.indexOf(body[i]!.toLowerCase());
    if (v < 0) return null;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) return null;
  return out;
}
