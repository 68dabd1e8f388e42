/**
 * Export pieces without a DNS server: the zone file byte for byte (RFC 1035 presentation format),
 * its serial kept when nothing changed and raised by one when something did, a foreign file left
 * alone; the RFC 2136 difference and the wire form of a deletion (class NONE, TTL 0); TSIG key
 * files in BIND's and Knot's forms; the CLI's usage errors. Servers taking these are tested in
 * test/integration/registry/export.test.ts (nsd, Knot).
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { keyFromBase64 } from '../../src/conf/keys.js';
import { parsePrefix } from '../../src/registry/ip.js';
import type { WgPeer } from '../../src/conf/model.js';
import { publishedRecords } from '../../src/registry/published.js';
import { writeZoneFile, type ZoneApex } from '../../src/registry/zone-file.js';
import { diffRecords, encodeOp, updateMessages } from '../../src/registry/dns-update.js';
import { makeExporter } from '../../src/registry/export.js';
import { parseTsigKey, signMessage, verifyResponse } from '../../src/registry/tsig.js';
import { quoteString } from '../../src/registry/presentation.js';
import { makeRegistryCommand } from '../../src/cli/registry.js';
import { MemoryBackend } from './memory-backend.js';

const ALICE = 'xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=';
const BOB = 'syKB97XhGnvC+kynh2KqQJPXoOoOpx/HmpMRTc+r4js=';
const CAROL = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
/** Instance names by coreutils `base32`, not by src/registry/base32.ts. */
const instance = (b64: string) =>
  `${execFileSync('base32', ['-w0'], { input: Buffer.from(b64, 'base64') }).toString().trim().toLowerCase()}._wireguard._udp.example.org`;
const A = instance(ALICE);
const B = instance(BOB);

const peer = (b64: string, ep: [string, number] | null, ...prefixes: string[]): WgPeer => ({
  publicKey: keyFromBase64(b64)!,
  ...(ep && { endpoint: { family: ep[0].includes(':') ? 6 : 4, host: ep[0], port: ep[1] } }),
  allowedIps: prefixes.map((p) => parsePrefix(p)!),
});

const apex: ZoneApex = {
  zone: 'example.org', ns: ['ns1.example.net', 'ns2.example.net'], rname: 'hostmaster.example.org',
  ttl: 3600, refresh: 3600, retry: 600, expire: 1209600, minimum: 60,
};

const dir = mkdtempSync(join(tmpdir(), 'wgr-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('zone file', () => {
  const peers = [peer(BOB, ['2001:db8::2', 51820], '10.0.0.2/32'), peer(CAROL, null, '10.0.0.3/32'), peer(ALICE, ['203.0.113.1', 7777], '10.0.0.1/32', 'fd00::1/128')];
  const records = publishedRecords(peers, 'example.org', 0);

  it('is the SOA and NS as named, then PTR, SRV, A/AAAA and TXT of each peer with an endpoint, sorted', async () => {
    const path = join(dir, 'a.zone');
    const r = await writeZoneFile(path, apex, records, 'wg0', () => 1_700_000_000_123);
    expect(r).toEqual({ changed: true, serial: 1_700_000_000 });
    expect(readFileSync(path, 'utf8')).toBe(
      [
        '; Written by wgts registry export from wg0; edits are lost at the next change.',
        'example.org. 3600 IN SOA ns1.example.net. hostmaster.example.org. 1700000000 3600 600 1209600 60',
        'example.org. 3600 IN NS ns1.example.net.',
        'example.org. 3600 IN NS ns2.example.net.',
        `_wireguard._udp.example.org. 0 IN PTR ${B}.`,
        `_wireguard._udp.example.org. 0 IN PTR ${A}.`,
        `${B}. 0 IN SRV 0 0 51820 ${B}.`,
        `${B}. 0 IN AAAA 2001:db8::2`,
        `${B}. 0 IN TXT "txtvers=1" "pub=${BOB}" "allowed=10.0.0.2/32"`,
        `${A}. 0 IN SRV 0 0 7777 ${A}.`,
        `${A}. 0 IN A 203.0.113.1`,
        `${A}. 0 IN TXT "txtvers=1" "pub=${ALICE}" "allowed=10.0.0.1/32,fd00::1/128"`,
        '',
      ].join('\n'),
    );
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('keeps file and serial when nothing changed, whatever order the peers come in; one higher after a change', async () => {
    const path = join(dir, 'b.zone');
    await writeZoneFile(path, apex, records, 'wg0', () => 5_000);
    const first = readFileSync(path, 'utf8');
    const again = await writeZoneFile(path, apex, publishedRecords([...peers].reverse(), 'example.org', 0), 'wg0');
    expect(again).toEqual({ changed: false, serial: 5 });
    expect(readFileSync(path, 'utf8')).toBe(first);
    const moved = [peer(ALICE, ['203.0.113.9', 7777], '10.0.0.1/32', 'fd00::1/128'), peers[0]!];
    expect(await writeZoneFile(path, apex, publishedRecords(moved, 'example.org', 0), 'wg0')).toEqual({ changed: true, serial: 6 });
    expect(readFileSync(path, 'utf8')).toContain(`${A}. 0 IN A 203.0.113.9`);
  });

  it('takes over an empty file, keeping its mode; the next file keeps it too', async () => {
    const path = join(dir, 'e.zone');
    writeFileSync(path, '', { mode: 0o640 });
    chmodSync(path, 0o640);
    expect((await writeZoneFile(path, apex, records, 'wg0')).changed).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    await writeZoneFile(path, apex, records.slice(1), 'wg0');
    expect(statSync(path).mode & 0o777).toBe(0o640);
  });

  it('refuses to replace a file it did not write, and leaves it as it was', async () => {
    const path = join(dir, 'c.zone');
    writeFileSync(path, '$ORIGIN example.org.\n@ SOA ns1 hostmaster 1 1 1 1 1\n');
    await expect(writeZoneFile(path, apex, records, 'wg0')).rejects.toThrow(/not written by wgts registry export/);
    expect(readFileSync(path, 'utf8')).toMatch(/^\$ORIGIN/);
  });

  it('quotes TXT strings as RFC 1035 §5.1 asks', () => {
    expect(quoteString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quoteString('x\ny\u007f')).toBe('"x\\010y\\127"');
  });
});

describe('dynamic update', () => {
  const before = publishedRecords([peer(ALICE, ['203.0.113.1', 7777], '10.0.0.1/32'), peer(BOB, ['198.51.100.2', 1000], '10.0.0.2/32')], 'example.org', 0);
  const after = publishedRecords([peer(ALICE, ['203.0.113.1', 7778], '10.0.0.1/32')], 'example.org', 0);

  it('sends the difference: the gone deleted, the new added, a name\'s deletions first', () => {
    const ops = diffRecords(before, after).map((o) => [o.op, 'rr' in o ? `${o.rr.name} ${o.rr.type}` : o.name]);
    expect(ops).toEqual([
      ['delete', `_wireguard._udp.example.org PTR`],
      ['delete', `${B} SRV`],
      ['delete', `${B} A`],
      ['delete', `${B} TXT`],
      ['delete', `${A} SRV`],
      ['add', `${A} SRV`],
    ]);
    expect(diffRecords(after, after)).toEqual([]);
  });

  it('a deletion is the record with class NONE and TTL 0 (RFC 2136 §2.5.4)', () => {
    const rr = encodeOp({ op: 'delete', rr: { type: 'A', name: 'x.example.org', ttl: 30, class: 'IN', data: '192.0.2.1' } });
    expect(rr.toString('hex')).toBe('0178076578616d706c65036f726700' + '0001' + '00fe' + '00000000' + '0004' + 'c0000201');
  });

  it('splits a large update into messages under the limit, in order', () => {
    const many = publishedRecords(
      Array.from({ length: 300 }, (_, i) => peer(Buffer.alloc(32, i + 1).toString('base64'), [`198.51.100.${i % 250}`, 1000 + i], '10.0.0.1/32')),
      'example.org', 0,
    );
    const msgs = updateMessages('example.org', diffRecords([], many), 20_000);
    expect(msgs.length).toBeGreaterThan(1);
    expect(msgs.every((m) => m.length <= 20_000)).toBe(true);
    expect(msgs.reduce((n, m) => n + m.readUInt16BE(8), 0)).toBe(many.length);
    expect(msgs.every((m) => m.readUInt16BE(2) === 5 << 11 && m.readUInt16BE(4) === 1)).toBe(true);
  });
});

describe('TSIG', () => {
  const secret = Buffer.alloc(32, 7).toString('base64');

  it('reads BIND and Knot key files; rejects unknown algorithms and bad secrets without echoing them', () => {
    const bind = parseTsigKey(`key "Upd.Key." {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`, 'k');
    const knot = parseTsigKey(`# hmac-sha256:upd.key:${secret}\nkey:\n  - id: upd.key\n    algorithm: hmac-sha256\n    secret: ${secret}\n`, 'k');
    expect(bind).toEqual({ name: 'upd.key', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 7) });
    expect(knot).toEqual(bind);
    expect(() => parseTsigKey(`key "a" { algorithm hmac-md5; secret "${secret}"; };`, 'k')).toThrow(/hmac-md5' is not one of/);
    expect(() => parseTsigKey('key "a" { algorithm hmac-sha256; secret "not*base64"; };', 'k')).toThrow(/^k: the secret is not base64$/);
    expect(() => parseTsigKey('nothing here', 'k')).toThrow(/expected a TSIG key/);
  });

  it('signs a request with the MAC of RFC 8945 §4.3.3 and counts the record in ARCOUNT', () => {
    const key = parseTsigKey(`key "upd.key" { algorithm hmac-sha256; secret "${secret}"; };`, 'k');
    const msg = updateMessages('example.org', [{ op: 'delete-name', name: 'x.example.org' }])[0]!;
    msg.writeUInt16BE(0x1234, 0);
    const { message, mac } = signMessage(msg, key, 1_700_000_000_999);
    const vars = Buffer.from(
      '03757064036b657900' + '00ff' + '00000000' + '0b686d61632d73686132353600' + '00006553f100' + '012c' + '0000' + '0000',
      'hex',
    );
    expect(mac).toEqual(createHmac('sha256', Buffer.alloc(32, 7)).update(msg).update(vars).digest());
    expect(message.subarray(0, msg.length).subarray(12)).toEqual(msg.subarray(12));
    expect(message.readUInt16BE(10)).toBe(1);
    const rr = message.subarray(msg.length);
    expect(rr.subarray(0, 9 + 10).toString('hex')).toBe('03757064036b657900' + '00fa' + '00ff' + '00000000' + rr.subarray(17, 19).toString('hex'));
    expect(rr.includes(mac)).toBe(true);
    expect(rr.subarray(-6).toString('hex')).toBe('123400000000'); // original id, no error, no other data
  });

  it('does not accept an answer that is not signed with the key', () => {
    const key = parseTsigKey(`key "upd.key" { algorithm hmac-sha256; secret "${secret}"; };`, 'k');
    const msg = updateMessages('example.org', [{ op: 'delete-name', name: 'x.example.org' }])[0]!;
    const req = signMessage(msg, key);
    // An "answer" carrying a TSIG record signed over other data (the request's own record).
    expect(verifyResponse(req.message, msg.length, key, req.mac)).toMatch(/does not verify/);
    expect(verifyResponse(req.message, msg.length, { ...key, name: 'other' }, req.mac)).toMatch(/another key/);
  });
});

describe('reload command', () => {
  it('one that hangs is stopped with what it started, the pass fails, and the next pass runs it again', async () => {
    const flag = join(dir, 'hang');
    const pidFile = join(dir, 'reload.pid');
    const done = join(dir, 'reloaded');
    writeFileSync(flag, '');
    // While `hang` exists the command waits on a child of its own (a grandchild of ours).
    const reload = `if [ -e ${flag} ]; then sleep 60 & echo $! > ${pidFile}; wait; fi; touch ${done}`;
    const logs: string[] = [];
    const exporter = makeExporter({
      zone: 'example.org', ttl: 0, source: 'wg0', log: (m) => logs.push(m),
      getPeers: async () => [peer(ALICE, ['203.0.113.1', 7777], '10.0.0.1/32')],
      zoneFile: { path: join(dir, 'reload.zone'), apex, reload, reloadTimeoutMs: 300 },
    });
    const started = Date.now();
    await expect(exporter.pass()).rejects.toThrow(`reload command \`${reload}' did not finish within 0.3 s: stopped`);
    expect(Date.now() - started).toBeLessThan(10_000);
    const sleeper = Number(readFileSync(pidFile, 'utf8'));
    const alive = () => {
      try {
        process.kill(sleeper, 0);
        return true;
      } catch {
        return false;
      }
    };
    // SIGTERM went to the whole group: the sleep is gone (or going) too.
    for (const deadline = Date.now() + 5000; alive() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    expect(alive()).toBe(false);
    expect(existsSync(done)).toBe(false);
    // The zone did not change, but the reload has not succeeded yet: it runs again.
    rmSync(flag);
    await exporter.pass();
    expect(existsSync(done)).toBe(true);
  });
});

describe('wgts registry export (CLI)', () => {
  const cmd = makeRegistryCommand({ backend: new MemoryBackend({ name: 'wgr0', peers: [] }) });
  const run = async (...args: string[]) => {
    let err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const status = await cmd.run('wgts', ['export', ...args]);
    vi.restoreAllMocks();
    return { status, err: err.split('\n')[0] };
  };

  it('names what is wrong with the command line', async () => {
    expect(await run('wgr0')).toEqual({ status: 1, err: 'wgts: registry: export needs --zone-file <path> or --update <address>[:<port>] (or both)' });
    expect(await run('wgr0', '--zone-file', '/tmp/x.zone')).toMatchObject({ err: expect.stringMatching(/--ns <name>/) });
    expect(await run('wgr0', '--zone-file', 'x.zone', '--ns', 'ns1.example.net')).toMatchObject({ err: expect.stringMatching(/not an absolute path/) });
    expect(await run('wgr0', '--update', 'dns.example')).toMatchObject({ err: expect.stringMatching(/--update: `dns.example' is not <numeric address>/) });
    expect(await run('wgr0', '--update', '192.0.2.1', '--interval', '0')).toMatchObject({ err: expect.stringMatching(/--interval: `0' is not a whole number/) });
    expect(await run('wgr0', '--tsig-key', '/k', '--zone-file', '/z', '--ns', 'a.b')).toMatchObject({ err: expect.stringMatching(/--tsig-key goes with --update/) });
    expect(await run('wgr0', '--bogus')).toMatchObject({ status: 1, err: expect.stringMatching(/--bogus/) });
  });

  it('writes the zone file once and reports a device that does not exist', async () => {
    const path = join(dir, 'cli.zone');
    expect((await run('wgr0', '--zone', 'example.org', '--zone-file', path, '--ns', 'ns1.example.net')).status).toBe(0);
    expect(readFileSync(path, 'utf8')).toContain('example.org. 3600 IN SOA ns1.example.net. hostmaster.example.org. ');
    expect(await run('nope0', '--zone-file', path, '--ns', 'ns1.example.net')).toMatchObject({ status: 1, err: expect.stringMatching(/No such device/) });
  });
});
