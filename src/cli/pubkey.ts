/**
 * `wgts pubkey` (wg's pubkey.c): reads a base64 private key from stdin and prints its public key.
 *
 * Input rule, exactly as pubkey_main: the first 44 bytes are the key; after them only whitespace
 * or NUL bytes may follow until EOF ("Trailing characters found after key" otherwise, checked
 * before the key itself); fewer than 44 bytes, a bad alphabet or leading whitespace is "Key is not
 * the correct length or format". Any 32-byte key is accepted, clamped or not, including all-zero:
 * X25519 clamps internally.
 */
import type { Command } from './command.js';
import { KEY_B64_LEN, keyFromBase64, keyToBase64 } from '../conf/keys.js';
import { publicKeyFromPrivate } from '../crypto/primitives.js';
import { writeOut } from './genkey.js';

/** wg's char_is_space: space, \t, \n, \v, \f, \r. */
function isSpaceOrNul(c: number): boolean {
  return c === 0 || c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

export type PubkeyResult = { ok: true; publicKey: string } | { ok: false; error: string };

/**
 * Derives the public key from a byte stream as pubkey_main reads stdin. Stops reading at the first
 * trailing character that is not whitespace/NUL. `error` is wg's message without the program name.
 */
export async function pubkeyFromStream(input: AsyncIterable<Uint8Array>): Promise<PubkeyResult> {
  // Key material: the first 44 bytes (base64 of the private key).
  const head = new Uint8Array(KEY_B64_LEN);
  let have = 0;
  try {
    for await (const chunk of input) {
      let i = 0;
      if (have < KEY_B64_LEN) {
        const take = Math.min(KEY_B64_LEN - have, chunk.length);
        head.set(chunk.subarray(0, take), have);
        have += take;
        i = take;
      }
      for (; i < chunk.length; i++) {
        if (!isSpaceOrNul(chunk[i]!)) return { ok: false, error: 'Trailing characters found after key' };
      }
    }
    if (have < KEY_B64_LEN) return { ok: false, error: 'Key is not the correct length or format' };
    // wg hands a C string to key_from_base64: a NUL inside the 44 bytes shortens it and fails.
    const nul = head.indexOf(0);
    const text = Buffer.from(head.subarray(0, nul < 0 ? KEY_B64_LEN : nul)).toString('latin1');
    const priv = keyFromBase64(text);
    if (!priv) return { ok: false, error: 'Key is not the correct length or format' };
    try {
      return { ok: true, publicKey: keyToBase64(publicKeyFromPrivate(priv)) };
    } finally {
      priv.fill(0);
    }
  } finally {
    head.fill(0);
  }
}

export const pubkeyCommand: Command = {
  name: 'pubkey',
  async run(argv0, args) {
    if (args.length !== 0) {
      process.stderr.write(`Usage: ${argv0} pubkey\n`);
      return 1;
    }
    const result = await pubkeyFromStream(process.stdin);
    if (!result.ok) {
      process.stderr.write(`${argv0}: ${result.error}\n`);
      return 1;
    }
    await writeOut(`${result.publicKey}\n`);
    return 0;
  },
};
