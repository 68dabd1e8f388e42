/**
 * Secrets stay secret, read from the source: private and preshared keys appear only where the user
 * asked for them. No console.* in src; no log or error call interpolates a private/preshared key;
 * the only code that turns a private or preshared key into text is the code whose job it is; no src
 * file creates a file without 0o600. (What the programs really print and write, with daemons in
 * namespaces, is test/integration/manage/secrets.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, SRC, tsFiles } from './sources.js';
import { parse, withoutComments } from './syntax.js';

/** Source with comments removed (string and template contents kept: they are what gets printed). */
const code = (file: string) => withoutComments(parse(file, readFileSync(file, 'utf8')));

const SOURCES = tsFiles(SRC).map((f) => ({ rel: relative(ROOT, f), text: code(f) }));
/** An identifier or property that names private or preshared key material. */
const SECRET_NAME = /\b\w*(private|preshared|psk|secret|ephemeral|chainingKey|sendingKey|receivingKey)\w*\b/i;

/** Calls that print, log or build an error, with their argument text (one line at a time). */
function sinks(text: string): string[] {
  const out: string[] = [];
  const re = /\b(console\.\w+|\w*log\w*\.(?:verbose|error|info|warn|debug)|(?:this\.)?log|verbose|\.write|stderr|stdout|new \w*Error|fail|invalid)\s*\(([^\n]*)/g;
  for (const m of text.matchAll(re)) out.push(`${m[1]}(${m[2]}`);
  return out;
}
describe('static: key material in output paths', () => {
  it('src has no console.* (the daemon logs through its Logger, the CLI writes its own text)', () => {
    const hits = SOURCES.flatMap((s) => (s.text.match(/\bconsole\.\w+/g) ?? []).map((m) => `${s.rel}: ${m}`));
    expect(hits).toEqual([]);
  });

  it('no log, write or error call interpolates a private or preshared key', () => {
    const hits: string[] = [];
    for (const s of SOURCES) {
      for (const call of sinks(s.text)) {
        // Only interpolated or concatenated values can leak; literal prose such as
        // 'failed to set private_key' is wg's own message text.
        const values = [...call.matchAll(/\$\{([^}]*)\}|\+\s*([\w.]+)|\(\s*([\w.]+)\s*[,)]/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
        const bad = values.filter((v) => SECRET_NAME.test(v) && !/\b(has|is|set)\w*\b|!|\?|===|!==/.test(v));
        if (bad.length) hits.push(`${s.rel}: ${call.slice(0, 120)}`);
      }
    }
    expect(hits).toEqual([]);
  });

  it('only the files whose job it is turn a private or preshared key into text', () => {
    // Why each: showconf/`show private-key` are asked for (write.ts, show.ts behind WG_HIDE_KEYS,
    // json.ts behind --show-keys); the UAPI text protocol carries keys by design (uapi/codec.ts); genkey
    // and genpsk print the key they make; `peer add` writes the new client's configuration (and a
    // preshared key into the server's file) — the output the user asked for (peer/blocks.ts).
    const ALLOWED = new Set(['src/conf/write.ts', 'src/cli/show.ts', 'src/cli/json.ts', 'src/uapi/codec.ts', 'src/cli/genkey.ts', 'src/peer/blocks.ts']);
    const encoders = /\b(keyToBase64|keyToHex)\s*\(([^)]*)\)|Buffer\.from\(([^)]*)\)\.toString\(\s*['"](base64|hex)['"]/g;
    const hits: string[] = [];
    for (const s of SOURCES) {
      for (const m of s.text.matchAll(encoders)) {
        // A public key derived from a private one is public (pubkey.ts).
        const arg = (m[2] ?? m[3] ?? '').replace(/publicKeyFromPrivate\([^)]*\)?/g, '');
        if (SECRET_NAME.test(arg) && !ALLOWED.has(s.rel)) hits.push(`${s.rel}: ${m[0]}`);
      }
    }
    expect(hits).toEqual([]);
  });

  it('the pretty show masks keys through one switch, WG_HIDE_KEYS=never', () => {
    const terminal = SOURCES.find((s) => s.rel === 'src/cli/terminal.ts')!.text;
    expect(terminal).toMatch(/WG_HIDE_KEYS\s*!==\s*'never'/);
  });
});

describe('files wgts writes', () => {
  it('no other src file writes a file without an explicit owner-only mode', () => {
    const hits: string[] = [];
    for (const s of SOURCES) {
      // Writes through an already-opened handle (`fh.writeFile`) are judged where the handle is opened.
      for (const m of s.text.matchAll(/(?<!\b\w*(?:fh|handle)\.)\b(writeFile(?:Sync)?|open(?:Sync)?|createWriteStream)\(([^\n]*)/g)) {
        const args = m[2]!;
        // Reads, /dev/null and the TUN device are not files wgts creates.
        if (/^['"](\/dev\/)/.test(args) || /['"]r['"]/.test(args) || !/['"]w|writeFile|createWriteStream/.test(m[0])) continue;
        if (!/0o600/.test(args)) hits.push(`${s.rel}: ${m[0].slice(0, 100)}`);
      }
    }
    expect(hits).toEqual([]);
  });
});
