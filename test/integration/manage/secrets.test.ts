/**
 * Secrets stay secret in what the programs print and write (the source-level checks are
 * test/architecture/secrets.test.ts):
 * - Errors: key-file and config errors quote exactly what wg quotes, no more (differential against
 *   the installed wg, which parses before it needs a device).
 * - Live: two wgts-userspace daemons with LOG_LEVEL=verbose in namespaces complete a handshake and
 *   pass traffic; neither log holds a private or preshared key in base64 or hex; `wgts show` hides
 *   them unless WG_HIDE_KEYS=never; the UAPI socket is owner-only in a 0755 directory (a socket
 *   directory of the test's own, created by a daemon started under umask 077); `wgts set` takes keys
 *   from 0600 files and prints nothing; failing raw UAPI sets are logged without the key.
 * - Files: `wgts quick save` leaves the config 0600; a key file given to `wgts set` is not touched.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type Netns, type Spawned, waitFor } from '../helpers/netns.js';
import { ROOT, SOCK_DIR, WGTS_BIN, ensureBuilt, isSocket } from '../dataplane/fixture.js';

const WGTS = join(ROOT, 'bin/wgts');

/** `wg`/`wgts` ARGS with the given files; stderr with the program name normalised. */
function both(args: string[]): { wg: string; wgts: string; wgRc: number | null; wgtsRc: number | null } {
  const wg = spawnSync('wg', args, { encoding: 'utf8' });
  const ours = spawnSync(process.execPath, [WGTS, ...args], { encoding: 'utf8' });
  return { wg: wg.stderr, wgts: ours.stderr.replaceAll('wgts', 'wg'), wgRc: wg.status, wgtsRc: ours.status };
}

const hasWg = spawnSync('wg', ['--version']).status === 0;

describe.skipIf(!hasWg)('errors quote no more of a key than wg does', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgh8-keys-'));
  const key = randomBytes(32).toString('base64');
  beforeAll(async () => {
    await ensureBuilt();
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, content: string): string => {
    const p = join(dir, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  };

  it.each<[string, string]>([
    ['trailing garbage after a good key', `${key}x\n`],
    ['a short key', key.slice(0, 40)],
    ['a key with a bad character', `${key.slice(0, 10)}!${key.slice(11)}\n`],
    ['a good key, then a second line', `${key}\n${key}\n`],
  ])('set private-key FILE with %s', (_what, content) => {
    const f = file('k', content);
    for (const field of ['private-key', 'preshared-key']) {
      const args = field === 'private-key' ? ['set', 'wgh8nodev', field, f] : ['set', 'wgh8nodev', 'peer', key, field, f];
      const r = both(args);
      expect(r.wgtsRc).toBe(1);
      expect(r.wgts).toBe(r.wg);
    }
  });

  it.each<[string, string]>([
    ['a bad PrivateKey value', `[Interface]\nPrivateKey = ${key.slice(0, 43)}\n`],
    ['a misspelt key name', `[Interface]\nPrivateKye = ${key}\n`],
    ['a bad PresharedKey value', `[Peer]\nPublicKey = ${key}\nPresharedKey = ${key}zz\n`],
  ])('setconf with %s', (_what, content) => {
    const r = both(['setconf', 'wgh8nodev', file('c.conf', content)]);
    expect(r.wgtsRc).toBe(1);
    expect(r.wgts).toBe(r.wg);
  });
});

/** Sends one UAPI set request and resolves with the reply (ends with `errno=N` and a blank line). */
function uapiSet(path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(path);
    let out = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(`set=1\n${body}\n`));
    c.on('data', (d: string) => {
      out += d;
      if (/errno=-?\d+\n\n$/.test(out)) c.destroy();
    });
    c.on('close', () => resolve(out));
    c.on('error', reject);
  });
}

/** Every text form of a 32-byte key that could appear in output. */
function forms(b64: string): string[] {
  const raw = Buffer.from(b64, 'base64');
  const hex = raw.toString('hex');
  return [b64, b64.replace(/=+$/, ''), raw.toString('base64url'), hex, hex.toUpperCase()];
}

function wgKey(kind: 'genkey' | 'genpsk'): string {
  return spawnSync('wg', [kind], { encoding: 'utf8' }).stdout.trim();
}
function wgPub(priv: string): string {
  return spawnSync('wg', ['pubkey'], { input: priv, encoding: 'utf8' }).stdout.trim();
}

describe.skipIf(process.getuid?.() !== 0 || !hasWg)('live: a verbose daemon after a handshake', () => {
  const lab = new Lab('wgh');
  const dir = mkdtempSync(join(tmpdir(), 'wgh8-live-'));
  // A run directory of the test's own (WGTS_RUN_DIR): the daemons create <run>/wireguard and the CLI
  // looks there. What ran on the machine before cannot matter.
  const runDir = join(dir, 'run');
  const sockDir = join(runDir, 'wireguard');
  const psk = wgKey('genpsk');
  type Side = { ns: Netns; ifname: string; priv: string; pub: string; daemon?: Spawned; n: 1 | 2 };
  const sides: Side[] = [];
  const secrets = (): string[] => [psk, ...sides.map((s) => s.priv)].flatMap(forms);
  const leaks = (text: string): string[] => secrets().filter((f) => text.includes(f));
  const wgts = (s: Side, args: string[], env: Record<string, string | undefined> = {}) =>
    s.ns.run([process.execPath, WGTS, ...args], { env: { WG_HIDE_KEYS: undefined, WG_COLOR_MODE: 'never', WGTS_RUN_DIR: runDir, ...env } });
  const cliOutput: string[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    const a = await lab.netns();
    const b = await lab.netns();
    await lab.veth(a, '10.98.0.1/24', b, '10.98.0.2/24');
    for (const [ns, n] of [[a, 1], [b, 2]] as const) {
      const priv = wgKey('genkey');
      sides.push({ ns, n, ifname: lab.ifname(String(n)), priv, pub: wgPub(priv) });
    }
    writeFileSync(join(dir, 'psk'), `${psk}\n`, { mode: 0o600 });
    for (const s of sides) {
      // Under umask 077, as wg-quick runs it: the socket directory must still come out 0755.
      s.daemon = s.ns.spawn(['sh', '-c', 'umask 077 && exec "$@"', 'sh', WGTS_BIN, '-f', s.ifname], {
        env: { LOG_LEVEL: 'verbose', WGTS_RUN_DIR: runDir },
      });
      lab.defer(() => s.ns.ip(['link', 'del', s.ifname], { check: false }));
      await waitFor(() => isSocket(`${sockDir}/${s.ifname}.sock`), { timeout: 15_000, what: `${s.ifname} UAPI socket` });
      writeFileSync(join(dir, `priv${s.n}`), `${s.priv}\n`, { mode: 0o600 });
    }
    for (const s of sides) {
      const o = sides.find((x) => x !== s)!;
      const r = await wgts(s, [
        'set', s.ifname, 'private-key', join(dir, `priv${s.n}`), 'listen-port', String(51830 + s.n),
        'peer', o.pub, 'preshared-key', join(dir, 'psk'), 'endpoint', `10.98.0.${o.n}:${51830 + o.n}`, 'allowed-ips', `10.0.98.${o.n}/32`,
      ]);
      cliOutput.push(r.stdout, r.stderr);
      expect(r.stdout + r.stderr).toBe('');
      await s.ns.ip(['addr', 'add', `10.0.98.${s.n}/24`, 'dev', s.ifname]);
      await s.ns.ip(['link', 'set', s.ifname, 'up']);
    }
    const [a1] = sides;
    await waitFor(async () => (await a1!.ns.run(['ping', '-n', '-c', '1', '-W', '1', '10.0.98.2'], { check: false })).code === 0, {
      timeout: 20_000, what: 'ping through the tunnel',
    });
    // Both daemons have logged the handshake (proof that verbose logging is on and was read).
    await waitFor(() => sides.every((s) => /Received handshake (initiation|response)/.test(s.daemon!.stdout() + s.daemon!.stderr())), {
      timeout: 10_000, what: 'handshake lines in the verbose logs',
    });
  }, 120_000);

  afterAll(async () => {
    // SIGTERM first so each daemon unlinks its socket (the lab's cleanup uses SIGKILL); then make sure.
    for (const s of sides) s.daemon?.kill('SIGTERM');
    await Promise.all(sides.map((s) => Promise.race([s.daemon?.exited, new Promise((r) => setTimeout(r, 5000))])));
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('the daemons log the handshake and no private or preshared key, in any encoding', async () => {
    // A UAPI get (which carries the private key in hex) and a failed set go through the daemon too.
    for (const s of sides) {
      const r = await wgts(s, ['showconf', s.ifname]);
      // Positive control: showconf is asked for and prints both secrets, and the detector sees them.
      expect(leaks(r.stdout)).toEqual(expect.arrayContaining([s.priv, psk]));
      cliOutput.push(r.stderr);
    }
    const bad = join(dir, 'bad');
    writeFileSync(bad, `${sides[0]!.priv.slice(0, 43)}!\n`, { mode: 0o600 });
    const r = await sides[0]!.ns.run([process.execPath, WGTS, 'set', sides[0]!.ifname, 'private-key', bad], { check: false, env: { WGTS_RUN_DIR: runDir } });
    expect(r.code).toBe(1);
    // wg quotes the 44 bytes it could not decode; so do we (checked against wg above). Not the key.
    expect(r.stderr).toBe(`Key is not the correct length or format: \`${sides[0]!.priv.slice(0, 43)}!'\n`);
    // Raw UAPI sets that carry a key and fail on it or beside it: the daemon logs why, not the key.
    const a = sides[0]!;
    const hex = Buffer.from(a.priv, 'base64').toString('hex');
    for (const body of [`private_key=${hex}\nlisten_port=abc\n`, `private_key=${hex.slice(0, 62)}zz\n`, `listen_port=1\nprivate_key=${hex}0\n`]) {
      expect(await uapiSet(`${sockDir}/${a.ifname}.sock`, body)).toMatch(/^errno=-\d+\n\n$/);
    }
    await waitFor(() => (a.daemon!.stdout() + a.daemon!.stderr()).split('UAPI set').length > 3, { timeout: 5000, what: 'UAPI set errors logged' });
    for (const s of sides) {
      const log = s.daemon!.stdout() + s.daemon!.stderr();
      expect(log).toContain('DEBUG: (');
      expect(leaks(log), `${s.ifname} log`).toEqual([]);
    }
    expect(leaks(cliOutput.join(''))).toEqual([]);
  });

  it('`wgts show` hides private and preshared keys unless WG_HIDE_KEYS=never', async () => {
    const s = sides[0]!;
    for (const env of [{}, { WG_HIDE_KEYS: 'always' }, { WG_HIDE_KEYS: 'NEVER' }, { WG_HIDE_KEYS: '' }]) {
      const out = (await wgts(s, ['show', s.ifname], env)).stdout;
      expect(out, JSON.stringify(env)).toContain('private key: (hidden)');
      expect(out, JSON.stringify(env)).toContain('preshared key: (hidden)');
      expect(leaks(out), JSON.stringify(env)).toEqual([]);
      const all = (await wgts(s, ['show', 'all'], env)).stdout;
      expect(leaks(all)).toEqual([]);
      const json = (await wgts(s, ['show', '--json'], env)).stdout;
      expect(leaks(json)).toEqual([]);
    }
    const shown = (await wgts(s, ['show', s.ifname], { WG_HIDE_KEYS: 'never' })).stdout;
    expect(shown).toContain(`private key: ${s.priv}`);
    expect(shown).toContain(`preshared key: ${psk}`);
    // Asked for by name: always the real key (wg(8), WG_HIDE_KEYS).
    expect((await wgts(s, ['show', s.ifname, 'private-key'])).stdout).toBe(`${s.priv}\n`);
  });

  it('the UAPI socket is owner-only in a 0755 directory', () => {
    expect(statSync(sockDir).mode & 0o777).toBe(0o755);
    expect(statSync(runDir).mode & 0o777).toBe(0o755); // created by the daemon too
    for (const s of sides) {
      const st = statSync(`${sockDir}/${s.ifname}.sock`);
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o077).toBe(0);
      expect(st.uid).toBe(0);
    }
  });
});

describe('key files wgts writes', () => {
  it.skipIf(process.getuid?.() !== 0 || !hasWg)(
    '`wgts quick save` leaves the config 0600 (private key inside) though it was 0644 under umask 022',
    async () => {
      const lab = new Lab('wgh');
      const d = mkdtempSync(join(tmpdir(), 'wgh8-save-'));
      const ifname = lab.ifname('q');
      const conf = join(d, `${ifname}.conf`);
      try {
        await ensureBuilt();
        const ns = await lab.netns();
        const priv = wgKey('genkey');
        writeFileSync(conf, `[Interface]\nAddress = 10.77.0.1/24\nPrivateKey = ${priv}\nListenPort = 51999\n`);
        chmodSync(conf, 0o644);
        // umask 022 as a login shell has it; wg-quick sets 077 itself, and so must save.
        const quick = (verb: string) => ns.sh(`umask 022; exec ${process.execPath} ${WGTS} quick ${verb} ${conf}`);
        await quick('up');
        lab.defer(() => quick('down').catch(() => undefined));
        await quick('save');
        expect(statSync(conf).mode & 0o777).toBe(0o600);
        expect(readFileSync(conf, 'utf8')).toContain(`PrivateKey = ${priv}\n`);
        expect(readdirSync(d)).toEqual([`${ifname}.conf`]); // no .tmp left behind
      } finally {
        await lab.cleanup();
        rmSync(`${SOCK_DIR}/${ifname}.sock`, { force: true });
        rmSync(d, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it('a 0600 key file given to `wgts set` is read, never rewritten or re-moded', () => {
    const d = mkdtempSync(join(tmpdir(), 'wgh8-mode-'));
    try {
      const f = join(d, 'k');
      writeFileSync(f, `${wgKey('genkey')}\n`, { mode: 0o600 });
      chmodSync(f, 0o600);
      const before = statSync(f);
      spawnSync(process.execPath, [WGTS, 'set', 'wgh8nodev', 'private-key', f], { encoding: 'utf8' });
      const after = statSync(f);
      expect(after.mode & 0o777).toBe(0o600);
      expect(after.mtimeMs).toBe(before.mtimeMs);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
