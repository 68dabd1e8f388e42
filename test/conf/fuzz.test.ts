/**
 * Differential fuzzing of the config grammar against the real `wg setconf`: random files built from
 * tricky pieces (sections, keys in any case, edge values for every field, whitespace and comment
 * noise) go through wg and through parseConfig. wg parses the whole file before it touches the
 * interface, so a name that does not exist is enough: an accepted file ends in "Unable to modify
 * interface". Same verdict and same stderr text (our file:line prefix removed) for every file.
 * Fixed seed, so a failure replays; numeric endpoints and /etc/hosts names only (no DNS waits).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError, parseConfig } from '../../src/conf/parse.js';
import { SYSTEM_IO } from '../../src/system/conf-io.js';

const PUB = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const PRIV = 'EDRNiaB2U1iLSZQ8NaYcY44fdsXkajsZcWX0Ozxm8k0=';
const NOIFACE = `wgcnone${process.pid % 100000}`;
const ENV = { WG_ENDPOINT_RESOLUTION_RETRIES: '0' };
const COUNT = 300;

/** Per key: values wg accepts, then values it refuses. */
const VALUES: Record<string, [good: string[], bad: string[]]> = {
  PrivateKey: [[PRIV, 'A'.repeat(43) + '='], ['A'.repeat(42) + 'B=', PRIV.slice(1), PRIV + 'x', '']],
  ListenPort: [['0', '51820', '65535', '65536', '70000', '+5', 'ntp', '4294967296', '-0'], ['-1', 'NTP', 'http', '0x10', '2147483648', '']],
  FwMark: [['0', 'off', 'OfF', '0x10', '010', '0xffffffff', '4294967295'], ['0X10', '0x100000000', '4294967296', 'on', '0x', '1a', '']],
  PublicKey: [[PUB], ['A'.repeat(42) + 'E', '_'.repeat(43) + '=', PUB.slice(0, 40), '']],
  PresharedKey: [[PRIV, 'A'.repeat(43) + '='], ['A'.repeat(42) + 'C=', '']],
  AllowedIPs: [
    ['10.0.0.0/8', '10.0.0.1/8', '0.0.0.0/0', '::/0', 'fd00::1/64', '10.0.0.0/08', '1.2.3.4, 5.6.7.8/24', '::ffff:1.2.3.4', '10.9.0.0/16'],
    ['10.1/8', '010.0.0.0/8', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/', '10.0.0.0/8,', ',10.0.0.0/8', 'fe80::1%lo/64', '1::2::3', ''],
  ],
  Endpoint: [
    ['1.2.3.4:5', '[::1]:5', '::1:5', '1.2.3.4:ntp', '1.2.3.4:70000', '10.1:5', 'localhost:5', '[fe80::1%lo]:5', '[1.2.3.4]:0'],
    ['[::1]5', '[::1', '[::1]:', '1.2.3.4', '1.2.3.4:', ':5', '[]:5', '1.2.3.4:http', '[fe80::1%wgcnosuchif]:5', ''],
  ],
  PersistentKeepalive: [['0', 'off', 'OFF', '25', '65535'], ['65536', '-1', '0x10', '1e3', '']],
};
const INTERFACE_KEYS = ['PrivateKey', 'ListenPort', 'FwMark'];
const PEER_KEYS = ['PublicKey', 'PresharedKey', 'AllowedIPs', 'Endpoint', 'PersistentKeepalive'];
const STRANGERS = ['Address', 'DNS', 'Foo', 'Listen', 'ListenPorts', 'PublicKey', 'PrivateKey'];
const SECTIONS = ['[Interfaces]', '[Peer', 'Peer]', '[]'];

const noise = fc.constantFrom('', '', '', ' ', '\t', ' \t ', '\r', '\v');
const flips = fc.array(fc.boolean(), { minLength: 1, maxLength: 4 });
const caseMangle = (s: string, f: boolean[]): string =>
  [...s].map((c, i) => (f[i % f.length] ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c)).join('');

/** `Key = value` with noise; `bad` picks from the refused values, or breaks the line itself. */
const keyLine = (keys: string[]): fc.Arbitrary<string> =>
  fc
    .tuple(fc.constantFrom(...keys), flips, noise, noise, fc.nat(), fc.nat(30), fc.constantFrom(...STRANGERS), fc.constantFrom(...SECTIONS))
    .map(([k, f, a, b, pick, dice, stranger, section]) => {
      const [good, bad] = VALUES[k]!;
      if (dice === 0) return `${caseMangle(stranger, f)}${a}=${b}x`; // a key wg does not know here
      if (dice === 1) return `${caseMangle(k, f)}${a}${b}`; // no '='
      if (dice === 2) return section;
      const pool = dice < 5 ? bad : good;
      return `${caseMangle(k, f)}${a}=${b}${pool[pick % pool.length]}${dice === 6 ? ' # comment' : ''}`;
    });
const section = (header: string, keys: string[]): fc.Arbitrary<string[]> =>
  fc.tuple(noise, flips, fc.array(keyLine(keys), { maxLength: 4 })).map(([n, f, lines]) => [`${n}${caseMangle(header, f)}${n}`, ...lines]);
const file = fc
  .tuple(
    fc.option(section('[Interface]', INTERFACE_KEYS), { freq: 3 }),
    fc.array(
      section('[Peer]', PEER_KEYS).map(([h, ...rest]) => [h!, `PublicKey = ${PUB}`, ...rest]),
      { maxLength: 3 },
    ),
    fc.constantFrom('', '\n', '# tail\n'),
  )
  .map(([iface, peers, tail]) => [...(iface ?? []), ...peers.flat()].join('\n') + '\n' + tail);

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgts-fuzz-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('config grammar fuzz vs wg setconf', () => {
  it(`agrees with wg on ${COUNT} random files`, async () => {
    const texts = fc.sample(file, { numRuns: COUNT, seed: 20260223 });
    const paths = texts.map((t, i) => {
      const p = join(dir, `${i}.conf`);
      writeFileSync(p, t, 'latin1');
      return p;
    });
    const script = `for f in "$@"; do wg setconf ${NOIFACE} "$f" 2>&1 >/dev/null; printf '\\x1e'; done`;
    const wg = execFileSync('bash', ['-c', script, 'fuzz', ...paths], { env: { ...process.env, ...ENV }, encoding: 'latin1' })
      .split('\x1e')
      .slice(0, -1);
    expect(wg.length).toBe(COUNT);
    let accepted = 0;
    for (const [i, path] of paths.entries()) {
      const warnings: string[] = [];
      let ours: string;
      try {
        await parseConfig(readFileSync(path, 'latin1'), { file: path, ...SYSTEM_IO, env: ENV, warn: (l) => warnings.push(l) });
        ours = warnings.map((w) => w + '\n').join('') + 'ACCEPTED\n';
        accepted++;
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        ours = warnings.map((w) => w + '\n').join('') + `${e.message}\n${e.trailer ? e.trailer + '\n' : ''}`;
      }
      const theirs = wg[i]!.replace(/^Unable to (modify|access) interface: .*\n$/m, 'ACCEPTED\n');
      expect(ours, `${path}:\n${texts[i]}`).toBe(theirs);
    }
    // Both verdicts are well represented.
    expect(accepted).toBeGreaterThan(COUNT / 10);
    expect(accepted).toBeLessThan(COUNT - COUNT / 10);
  });
});
