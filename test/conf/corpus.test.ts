/**
 * The config corpus (test/corpus/{valid,invalid}) against the real `wg setconf` on a live
 * wireguard-go device, in a network namespace this test creates:
 * - every file is accepted or refused by both, with the same messages (wg's text; ours carries the
 *   file:line prefix, which is stripped for the comparison, and its line must be a real line);
 * - for accepted files, `formatConfig(parseConfig(file))` equals `wg showconf` after `wg setconf`.
 *
 * Allowances, each a documented delta, not a tolerance:
 * - wireguard-go lists peers in random order: peer blocks are compared as a set;
 * - a file without ListenPort (or with 0) makes setconf pick a random port: that line is dropped;
 * - wireguard-go 0.0.20220316 drops an IPv6 endpoint's %scope on get: dropped from ours too;
 * - the device applies the parsed model (duplicate peers merge, a prefix moves to the last peer that
 *   names it, duplicates collapse); `asApplied` below models that before formatting;
 * - `+`/`-` AllowedIPs prefixes are upstream-only (docs/compatibility.md): Debian refuses the file, we
 *   accept it; checked explicitly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError, deleteWgSpaces, parseConfig } from '../../src/conf/parse.js';
import { formatAllowedIp, formatConfig } from '../../src/conf/write.js';
import { keyToBase64 } from '../../src/conf/keys.js';
import type { WgDevice, WgPeer } from '../../src/conf/model.js';
import { SYSTEM_IO } from '../../src/system/conf-io.js';

const CORPUS = resolve(import.meta.dirname, '../corpus');
const NS = `wgts-h1-${randomBytes(3).toString('hex')}`;
const IFACE = `wgc${randomBytes(4).toString('hex')}`;
const ENV = { WG_ENDPOINT_RESOLUTION_RETRIES: '0' };
const files = (dir: string): string[] =>
  readdirSync(join(CORPUS, dir))
    .filter((f) => f.endsWith('.conf'))
    .sort()
    .map((f) => join(CORPUS, dir, f));

let daemon: ChildProcess | undefined;

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  daemon = spawn('ip', ['netns', 'exec', NS, 'wireguard-go', '-f', IFACE], {
    env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'error' },
    stdio: 'ignore',
  });
  await waitFor(() => existsSync(`/var/run/wireguard/${IFACE}.sock`), 'the wireguard-go socket');
});

afterAll(() => {
  daemon?.kill('SIGTERM');
  try {
    execFileSync('ip', ['netns', 'del', NS]);
  } catch {
    // already gone
  }
});

interface WgRun {
  rc: number;
  stderr: string;
  showconf: string;
}

/** Runs `wg setconf` (and `wg showconf` when it succeeds) on every file, in one shell. */
function runWg(paths: string[]): WgRun[] {
  const script = `for f in "$@"; do
      ip netns exec ${NS} wg setconf ${IFACE} "$f" 2>/tmp/wgts-corpus-err.$$; rc=$?
      cat /tmp/wgts-corpus-err.$$; printf '\\x1f%s\\x1f' "$rc"
      if [ $rc = 0 ]; then ip netns exec ${NS} wg showconf ${IFACE}; fi; printf '\\x1e'
    done; rm -f /tmp/wgts-corpus-err.$$`;
  const out = execFileSync('bash', ['-c', script, 'corpus', ...paths], { env: { ...process.env, ...ENV }, encoding: 'latin1' });
  return out
    .split('\x1e')
    .slice(0, -1)
    .map((r) => {
      const [stderr, rc, showconf] = r.split('\x1f') as [string, string, string];
      return { rc: Number(rc), stderr, showconf };
    });
}

/** Ours: warnings and either the model or the error, for one file. */
async function runOurs(path: string): Promise<{ warnings: string[]; device?: WgDevice; error?: ConfigError }> {
  const warnings: string[] = [];
  try {
    const device = await parseConfig(readFileSync(path, 'latin1'), { file: path, ...SYSTEM_IO, env: ENV, warn: (l) => warnings.push(l) });
    return { warnings, device };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { warnings, error: e };
  }
}

/** What a device holds after `setconf` of this model (replace-peers on a device with nothing). */
function asApplied(d: WgDevice): WgDevice {
  const out: WgDevice = { name: '', peers: [] };
  if (d.listenPort !== undefined) out.listenPort = d.listenPort;
  if (d.fwmark !== undefined) out.fwmark = d.fwmark;
  if (d.privateKey !== undefined) out.privateKey = d.privateKey;
  const byKey = new Map<string, WgPeer>();
  const owner = new Map<string, WgPeer>();
  for (const p of d.peers) {
    const k = keyToBase64(p.publicKey);
    let cur = byKey.get(k);
    if (!cur) {
      cur = { publicKey: p.publicKey, allowedIps: [] };
      byKey.set(k, cur);
      out.peers.push(cur);
    }
    if (p.presharedKey) cur.presharedKey = p.presharedKey;
    if (p.endpoint) cur.endpoint = p.endpoint;
    if (p.persistentKeepalive !== undefined) cur.persistentKeepalive = p.persistentKeepalive;
    if (p.replaceAllowedIps) {
      for (const ip of cur.allowedIps) owner.delete(formatAllowedIp(ip));
      cur.allowedIps = [];
    }
    for (const ip of p.allowedIps) {
      const prefix = formatAllowedIp(ip);
      const prev = owner.get(prefix);
      if (prev === cur) continue;
      if (prev) prev.allowedIps = prev.allowedIps.filter((x) => formatAllowedIp(x) !== prefix);
      owner.set(prefix, cur);
      cur.allowedIps.push(ip);
    }
  }
  return out;
}

/** showconf text as {interface block, sorted peer blocks}. */
function blocks(text: string): { iface: string; peers: string[] } {
  const [iface, ...peers] = text.trimEnd().split('\n\n');
  return { iface: iface ?? '', peers: peers.sort() };
}

describe('config corpus vs wg setconf on wireguard-go', () => {
  const valid = files('valid');
  const invalid = files('invalid');

  it('has a corpus that covers the grammar, each file saying what it tests', () => {
    expect(valid.length + invalid.length).toBeGreaterThanOrEqual(40);
    for (const f of [...valid, ...invalid]) expect(readFileSync(f, 'utf8'), f).toMatch(/^(\ufeff.*\n)?# (valid|invalid)[ :]/m);
  });

  it('accepts every valid file and prints what wg showconf prints after wg setconf', async () => {
    const wg = runWg(valid);
    expect(wg.length).toBe(valid.length);
    for (const [i, path] of valid.entries()) {
      const w = wg[i]!;
      const ours = await runOurs(path);
      expect(ours.error?.message, path).toBeUndefined();
      expect(w.rc, `${path}: ${w.stderr}`).toBe(0);
      expect(ours.warnings.map((l) => l + '\n').join(''), path).toBe(w.stderr);
      const device = ours.device!;
      let text = formatConfig(asApplied(device));
      text = text.replace(/^(Endpoint = \[[^\]%]*)%[^\]]*\]/m, '$1]'); // wireguard-go drops the scope
      let theirs = w.showconf;
      if (!device.listenPort) theirs = theirs.replace(/^ListenPort = \d+\n/m, ''); // random port
      expect(blocks(text), path).toEqual(blocks(theirs));
    }
  });

  it('refuses every invalid file with wg\'s message, naming a real line', async () => {
    const wg = runWg(invalid);
    for (const [i, path] of invalid.entries()) {
      const w = wg[i]!;
      const ours = await runOurs(path);
      if (path.endsWith('allowedips-plus-prefix.conf')) {
        // Upstream delta (docs/compatibility.md): Debian refuses, upstream and wgts add incrementally.
        expect(w.stderr).toBe("Unable to parse IP address: `+10.0.0.0'\nConfiguration parsing error\n");
        expect(ours.device?.peers[0]?.replaceAllowedIps).toBe(false);
        continue;
      }
      expect(w.rc, path).toBe(1);
      const err = ours.error;
      expect(err, path).toBeDefined();
      const message = `${err!.message}\n${err!.trailer ? err!.trailer + '\n' : ''}`;
      expect(ours.warnings.map((l) => l + '\n').join('') + message, path).toBe(w.stderr);
      // The error names the file and a line that exists and says what wg complained about.
      const lines = readFileSync(path, 'latin1').split('\n');
      expect(err!.file).toBe(path);
      expect(lines[err!.line - 1], path).toBe(err!.text);
      const cleaned = deleteWgSpaces(err!.text.split('#')[0]!);
      expect(cleaned.length, path).toBeGreaterThan(0);
      const quoted = /`(.*)'$/.exec(err!.message)?.[1];
      if (quoted !== undefined) expect(cleaned, path).toContain(quoted);
    }
  });
});
