/**
 * Configuration files are bytes: wg and bash never decode them, and what they echo back (an
 * unrecognized line, a bad value, `wg-quick strip`) is the same bytes. A JS string must still hold
 * them, and whatever prints it must turn it back into those bytes: a file that is valid UTF-8 (the
 * usual case, Chinese comments and a byte-order mark included) is decoded as UTF-8, so it also reads
 * correctly in messages built around it; any other file as latin1, one character per byte.
 * Printing with the same encoding gives back the file's bytes exactly in both cases.
 */

export type ConfigEncoding = 'utf8' | 'latin1';

export interface ConfigText {
  text: string;
  /** How `text` was decoded, and so how to encode anything taken from it when printing. */
  encoding: ConfigEncoding;
}

// fatal: an invalid sequence throws instead of becoming U+FFFD; ignoreBOM: a BOM stays in the text,
// as wg sees it (it is part of the first line).
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function decodeConfig(bytes: Uint8Array): ConfigText {
  try {
    return { text: strictUtf8.decode(bytes), encoding: 'utf8' };
  } catch {
    return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'), encoding: 'latin1' };
  }
}

/**
 * The UTF-8 byte-order mark (EF BB BF) as it reads in a text decoded as `encoding`: U+FEFF, or its
 * three bytes as latin1 characters when the rest of the file is not valid UTF-8.
 */
export function byteOrderMark(encoding: ConfigEncoding): string {
  return encoding === 'utf8' ? '\uFEFF' : '\u00EF\u00BB\u00BF';
}

/** The bytes of `text` (or of a message built from it) in the file's encoding. */
export function encodeConfig(text: string, encoding: ConfigEncoding): Buffer {
  return Buffer.from(text, encoding);
}
