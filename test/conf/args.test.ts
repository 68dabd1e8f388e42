/**
 * `wgts set` argument parsing against the real `wg set` (wg(8) `set`). wg parses the whole
 * command line before it talks to the interface, so a name that does not exist is enough: a line
 * that parses ends in "Unable to modify interface: ..." and nothing is touched. One shell runs all
 * cases through wg; our parser runs in-process on the same arguments.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSetArgs } from '../../src/conf/args.js';
import { FieldError } from '../../src/conf/parse.js';
import { keyToBase64 } from '../../src/conf/keys.js';
import type { WgDevice } from '../../src/conf/model.js';
import { SYSTEM_IO } from '../../src/system/conf-io.js';

const PUB = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const PUB2 = 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=';
const PRIV = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
/** An interface name no test creates: wg fails after parsing, with "Unable to modify interface". */
const NOIFACE = `wgcnone${process.pid % 100000}`;

let dir = '';
const f = (name: string): string => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgts-args-'));
  const files: Record<string, string> = {
    key: PRIV + '\n',
    keycrlf: PRIV + '\r\n',
    keynonl: PRIV,
    keyspaces: PRIV + ' \t\n\n\v\f',
    empty: '',
    short: PRIV.slice(0, 20),
    trailing: PRIV + '\nx',
    nulinside: PRIV.slice(0, 10) + '\0' + PRIV.slice(11),
    badkey: '!' + PRIV.slice(1),
    lowbits: 'A'.repeat(42) + 'B=',
    trailnul: PRIV + '\0',
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(f(name), text, { encoding: 'latin1', mode: 0o600 });
  mkdirSync(f('adir'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Cases: the words after `set <iface>`. Files are named by `@name`. */
const CASES: string[][] = [
  ['listen-port', '51820'],
  ['listen-port', '70000'],
  ['listen-port', ' 5'],
  ['listen-port', '+5'],
  ['listen-port', '-1'],
  ['listen-port', '-0'],
  ['listen-port', '4294967296'],
  ['listen-port', '2147483648'],
  ['listen-port', '99999999999999999999999'],
  ['listen-port', '0x10'],
  ['listen-port', '5 '],
  ['listen-port', ''],
  ['listen-port', 'ntp'],
  ['listen-port', 'NTP'],
  ['listen-port', 'http'],
  ['listen-port', 'abc'],
  ['listen-port'],
  ['fwmark', '0'],
  ['fwmark', 'off'],
  ['fwmark', 'OFF'],
  ['fwmark', '0x10'],
  ['fwmark', '0X10'],
  ['fwmark', '010'],
  ['fwmark', '0xffffffff'],
  ['fwmark', '0x100000000'],
  ['fwmark', '4294967295'],
  ['fwmark', '4294967296'],
  ['fwmark', '0x'],
  ['fwmark', ' 1'],
  ['fwmark', '1 '],
  ['fwmark', '-1'],
  ['fwmark', ''],
  ['private-key', '@key'],
  ['private-key', '@keycrlf'],
  ['private-key', '@keynonl'],
  ['private-key', '@keyspaces'],
  ['private-key', '@empty'],
  ['private-key', '/dev/null'],
  ['private-key', '@short'],
  ['private-key', '@trailing'],
  ['private-key', '@nulinside'],
  ['private-key', '@badkey'],
  ['private-key', '@lowbits'],
  ['private-key', '@trailnul'],
  ['private-key', '@adir'],
  ['private-key', '@nonexistent'],
  ['peer', PUB],
  ['peer', PUB.slice(1)],
  ['peer', 'A'.repeat(42) + 'B='],
  ['peer'],
  ['peer', PUB, 'remove'],
  ['peer', PUB, 'remove', 'endpoint', '1.2.3.4:5'],
  ['remove'],
  ['peer', PUB, 'listen-port', '5'],
  ['peer', PUB, 'fwmark', '5'],
  ['peer', PUB, 'private-key', '@key'],
  ['endpoint', '1.2.3.4:5'],
  ['peer', PUB, 'bogus'],
  ['peer', PUB, 'endpoint'],
  ['peer', PUB, 'endpoint', '1.2.3.4:5'],
  ['peer', PUB, 'endpoint', ''],
  ['peer', PUB, 'endpoint', '[::1]:5'],
  ['peer', PUB, 'endpoint', '[::1]5'],
  ['peer', PUB, 'endpoint', '[::1'],
  ['peer', PUB, 'endpoint', '[::1]:'],
  ['peer', PUB, 'endpoint', '1.2.3.4'],
  ['peer', PUB, 'endpoint', '1.2.3.4:'],
  ['peer', PUB, 'endpoint', ':5'],
  ['peer', PUB, 'endpoint', '[]:5'],
  ['peer', PUB, 'endpoint', '1.2.3.4:http'],
  ['peer', PUB, 'endpoint', '1.2.3.4:ntp'],
  ['peer', PUB, 'endpoint', '1.2.3.4:70000'],
  ['peer', PUB, 'endpoint', '10.1:5'],
  ['peer', PUB, 'endpoint', '::1:5'],
  ['peer', PUB, 'endpoint', '[fe80::1%lo]:5'],
  ['peer', PUB, 'endpoint', '[fe80::1%wgcnosuchif]:5'],
  ['peer', PUB, 'endpoint', 'localhost:5'],
  ['peer', PUB, 'endpoint', 'a b:5'],
  ['peer', PUB, 'persistent-keepalive', '25'],
  ['peer', PUB, 'persistent-keepalive', 'off'],
  ['peer', PUB, 'persistent-keepalive', 'Off'],
  ['peer', PUB, 'persistent-keepalive', '0'],
  ['peer', PUB, 'persistent-keepalive', '65535'],
  ['peer', PUB, 'persistent-keepalive', '65536'],
  ['peer', PUB, 'persistent-keepalive', '0x10'],
  ['peer', PUB, 'persistent-keepalive', ' 5'],
  ['peer', PUB, 'persistent-keepalive', ''],
  ['peer', PUB, 'allowed-ips', '10.0.0.0/8'],
  ['peer', PUB, 'allowed-ips', ''],
  ['peer', PUB, 'allowed-ips', ' 10.0.0.0 / 8 , fd00::/64 '],
  ['peer', PUB, 'allowed-ips', '10.0.0.1/8'],
  ['peer', PUB, 'allowed-ips', 'fd00::1/64,10.0.0.1'],
  ['peer', PUB, 'allowed-ips', '10.1/8'],
  ['peer', PUB, 'allowed-ips', '10.0.0.0/33'],
  ['peer', PUB, 'allowed-ips', 'fd00::/129'],
  ['peer', PUB, 'allowed-ips', '10.0.0.0/'],
  ['peer', PUB, 'allowed-ips', '10.0.0.0/+8'],
  ['peer', PUB, 'allowed-ips', '10.0.0.0/8/9'],
  ['peer', PUB, 'allowed-ips', '10.0.0.0/08'],
  ['peer', PUB, 'allowed-ips', '10.0.0.0/8,'],
  ['peer', PUB, 'allowed-ips', ',10.0.0.0/8'],
  ['peer', PUB, 'allowed-ips', 'fe80::1%lo/64'],
  ['peer', PUB, 'allowed-ips', '10.0.0.0/8', 'allowed-ips', '10.1.0.0/16'],
  ['peer', PUB, 'preshared-key', '@key'],
  ['peer', PUB, 'preshared-key', '/dev/null'],
  ['peer', PUB, 'preshared-key', '@trailing'],
  ['listen-port', '1', 'listen-port', '2', 'fwmark', '3', 'private-key', '@key', 'peer', PUB, 'endpoint', '1.2.3.4:5', 'peer', PUB2, 'peer', PUB],
];

const expand = (args: string[]): string[] => args.map((a) => (a.startsWith('@') ? f(a.slice(1)) : a));

/** Quotes a word for bash. */
const shq = (w: string): string => `'${w.replaceAll("'", "'\\''")}'`;

/** wg's stderr and rc for every case, from one shell. */
function runWg(cases: string[][]): Array<{ stderr: string; rc: number }> {
  const script = cases
    .map((c) => `WG_ENDPOINT_RESOLUTION_RETRIES=0 wg set ${NOIFACE} ${expand(c).map(shq).join(' ')} 2>&1 >/dev/null; printf '\\x1f%s\\x1e' "$?"`)
    .join('\n');
  const out = execFileSync('bash', ['-c', script], { encoding: 'latin1' });
  return out.split('\x1e').slice(0, -1).map((r) => {
    const [stderr, rc] = r.split('\x1f') as [string, string];
    return { rc: Number(rc), stderr: stderr.replace(/\n$/, '') };
  });
}

/** Our answer in wg's shape: warnings, then the error or wg's post-parse interface failure. */
async function runOurs(args: string[]): Promise<{ stderr: string; ok: boolean; device?: WgDevice }> {
  const warnings: string[] = [];
  try {
    const device = await parseSetArgs(expand(args), { ...SYSTEM_IO, warn: (l) => warnings.push(l), env: { WG_ENDPOINT_RESOLUTION_RETRIES: '0' } });
    return { stderr: warnings.join('\n'), ok: true, device };
  } catch (e) {
    if (!(e instanceof FieldError)) throw e;
    return { stderr: [...warnings, e.message].join('\n'), ok: false };
  }
}

describe('parseSetArgs vs wg set', () => {
  it('accepts, refuses and warns exactly as wg on every case', async () => {
    const wg = runWg(CASES);
    expect(wg.length).toBe(CASES.length);
    for (const [i, args] of CASES.entries()) {
      const w = wg[i]!;
      const lines = w.stderr.split('\n');
      const wgOk = /^Unable to (modify|access) interface: /.test(lines[lines.length - 1]!);
      const wgText = (wgOk ? lines.slice(0, -1) : lines).join('\n');
      const ours = await runOurs(args);
      expect({ ok: ours.ok, stderr: ours.stderr }, args.join(' ')).toEqual({ ok: wgOk, stderr: wgText });
      expect(w.rc).toBe(1);
    }
    // The table exercises both outcomes (and would notice wg missing: every case would differ).
    expect(wg.filter((w) => w.stderr.includes('Unable to modify interface')).length).toBeGreaterThan(30);
  });

  it('builds the model wg would send', async () => {
    const d = await parseSetArgs(expand(['listen-port', '1', 'listen-port', '70000', 'fwmark', '0x10', 'private-key', '@key',
      'peer', PUB, 'allowed-ips', '10.0.0.0/8', 'allowed-ips', '+fd00::/64,-10.9.0.0/16', 'endpoint', '[::1]:51820',
      'persistent-keepalive', 'off', 'preshared-key', '/dev/null', 'peer', PUB2, 'remove', 'peer', PUB, 'allowed-ips', '']), SYSTEM_IO);
    expect(d.listenPort).toBe(4464);
    expect(d.fwmark).toBe(16);
    expect(keyToBase64(d.privateKey!)).toBe(PRIV);
    expect(d.peers.map((p) => keyToBase64(p.publicKey))).toEqual([PUB, PUB2, PUB]);
    const [p1, p2, p3] = d.peers as [typeof d.peers[0], typeof d.peers[0], typeof d.peers[0]];
    expect(p1.allowedIps.map((a) => [a.family, a.cidr, !!a.remove])).toEqual([[4, 8, false], [6, 64, false], [4, 16, true]]);
    expect(p1.replaceAllowedIps).toBe(false); // a +/- entry in the last allowed-ips makes it incremental
    expect(p1.endpoint).toEqual({ family: 6, host: '::1', port: 51820 });
    expect(p1.persistentKeepalive).toBe(0);
    expect(p1.presharedKey).toEqual(new Uint8Array(32));
    expect(p2.remove).toBe(true);
    expect(p2.replaceAllowedIps).toBeUndefined();
    expect(p3.allowedIps).toEqual([]);
    expect(p3.replaceAllowedIps).toBe(true);
  });
});
