/**
 * `wgts peer` against a real server: a `wgts quick up` server in one namespace, a phone and a
 * laptop in two others, each reaching the server over its own veth pair. Shared by the host run
 * (peer.test.ts, wgts-userspace) and the kernel VM (test/kernel/peer.test.ts, the module's links;
 * there the backend-independent refusals and file cases are left to the host run).
 * - The phone's configuration comes out of `peer add --qr`: the PNG decodes (zbarimg) to exactly the
 *   printed configuration, which brought up with `wgts quick up` pings the server's tunnel address;
 *   it got the first free address (the file's existing peer holds the one before).
 * - The laptop's `peer add` gets the next address and leaves the phone's session alone (the server's
 *   latest handshake with the phone is unchanged after the phone pings again).
 * - The server file keeps all its original lines in order and gains the named peers; `peer list`
 *   shows them; `peer remove` takes one off the device and the file without disturbing the other.
 * - Refusals (no endpoint, duplicate or bad name, bad --ip) change neither the file nor the device.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyToBase64 } from '../../../src/conf/keys.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../../../src/crypto/primitives.js';
import { Lab, type Netns, run, waitFor } from '../helpers/netns.js';
import { ensureBuilt, stopDaemon } from '../dataplane/fixture.js';

const WGTS = resolve(import.meta.dirname, '../../../bin/wgts');
const isRoot = process.getuid?.() === 0;
const haveZbar = isRoot && (await run(['zbarimg', '--version'], { check: false }).catch(() => ({ code: 127 }))).code === 0;
/** TCG emulation in the VM is 10-20x slower than the host: every deadline stretches. */
const SLOWDOWN = process.env.WGTS_IN_VM === '1' ? 5 : 1;

export function definePeerSuite(backend: 'userspace' | 'kernel'): void {
  const lab = new Lab('wgp');
  const dir = mkdtempSync(join(tmpdir(), 'wgts-peer-'));
  const env = { WGTS_QUICK_STATE_DIR: join(dir, 'state'), WG_COLOR_MODE: 'never', ...(backend === 'userspace' ? { WGTS_FORCE_USERSPACE: '1' } : {}) };
  const serverIf = lab.ifname('s');
  const phoneIf = lab.ifname('p');
  const laptopIf = lab.ifname('l');
  const serverConf = join(dir, `${serverIf}.conf`);
  const serverKey = generatePrivateKey();
  const existingKey = keyToBase64(publicKeyFromPrivate(generatePrivateKey()));
  const ORIGINAL = `# office server, as the install guide sets it up
[Interface]
Address = 10.66.0.1/24, fd66::1/64
ListenPort = 51820
PrivateKey = ${keyToBase64(serverKey)}
# PostUp = iptables ... (kept as a comment)

[Peer]
# friendly_name=existing
PublicKey = ${existingKey}
AllowedIPs = 10.66.0.2/32
`;

  let server: Netns;
  let phone: Netns;
  let laptop: Netns;
  let phoneKey = '';
  let laptopKey = '';

  const wgts = (ns: Netns, args: string[]) => ns.run([process.execPath, WGTS, ...args], { env, check: false, timeout: 60_000 * SLOWDOWN });

  /** The server's view: public key -> latest handshake (seconds), from `wgts show IF latest-handshakes`. */
  async function handshakes(): Promise<Map<string, string>> {
    const r = await wgts(server, ['show', serverIf, 'latest-handshakes']);
    expect(r.code, r.stderr).toBe(0);
    return new Map(r.stdout.trim().split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
  }

  async function pings(ns: Netns): Promise<boolean> {
    return (await ns.run(['ping', '-c1', '-W1', '10.66.0.1'], { check: false })).code === 0;
  }

  /** Asserts a refused `peer add`: exit 1, the message, and nothing changed (file bytes, device peers, no stray files). */
  async function refused(args: string[], message: RegExp): Promise<void> {
    const before = readFileSync(serverConf);
    const peersBefore = (await handshakes()).size;
    const filesBefore = readdirSync(dir).sort();
    const r = await wgts(server, ['peer', 'add', serverIf, ...args]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(readFileSync(serverConf).equals(before)).toBe(true);
    expect((await handshakes()).size).toBe(peersBefore);
    expect(readdirSync(dir).sort()).toEqual(filesBefore);
  }

  /** Cases that do not depend on the backend: run once, on the host. */
  const hostOnly = backend === 'userspace' ? it : it.skip;

  describe.skipIf(!haveZbar && backend === 'userspace')(`wgts peer on a wgts quick server (${backend})`, { timeout: 120_000 * SLOWDOWN }, () => {
    beforeAll(async () => {
      await ensureBuilt();
      server = await lab.netns();
      phone = await lab.netns();
      laptop = await lab.netns();
      await lab.veth(server, '10.97.1.1/24', phone, '10.97.1.2/24');
      await lab.veth(server, '10.97.2.1/24', laptop, '10.97.2.2/24');
      writeFileSync(serverConf, ORIGINAL, { mode: 0o600 });
      lab.defer(() => stopDaemon(server, serverIf));
      lab.defer(() => stopDaemon(phone, phoneIf));
      lab.defer(() => stopDaemon(laptop, laptopIf));
      const up = await wgts(server, ['quick', 'up', serverConf]);
      expect(up.code, up.stderr).toBe(0);
      // The backend under test: a kernel `wireguard` link, or a TUN served by wgts-userspace.
      const link = await server.ip(['-d', 'link', 'show', serverIf]);
      if (backend === 'kernel') expect(link.stdout).toMatch(/\n\s+wireguard /);
      else expect(link.stdout).not.toMatch(/\n\s+wireguard /);
    }, 120_000 * SLOWDOWN);

    afterAll(async () => {
      await lab.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('refuses to add without an endpoint when none is remembered, changing nothing', async () => {
      await refused(['--name', 'phone'], /no endpoint for .*--endpoint HOST:PORT/);
    });

    it('phone: the QR code decodes to exactly the printed configuration, which pings the server', async () => {
      const png = join(dir, 'phone.png');
      const r = await wgts(server, ['peer', 'add', serverIf, '--name', 'phone', '--endpoint', '10.97.1.1:51820', '--qr', png]);
      expect(r.code, r.stderr).toBe(0);
      const config = r.stdout;
      expect(config).toMatch(/^\[Interface\]\nPrivateKey = [A-Za-z0-9+/]{43}=\nAddress = 10\.66\.0\.3\/32, fd66::2\/128\n\n\[Peer\]\n/);
      expect(config).toContain(`PublicKey = ${keyToBase64(publicKeyFromPrivate(serverKey))}\nEndpoint = 10.97.1.1:51820\nAllowedIPs = 0.0.0.0/0, ::/0\n`);
      expect(statSync(png).mode & 0o777).toBe(0o600);
      const decoded = await run(['zbarimg', '-q', '--raw', png], { check: false });
      expect(decoded.stdout).toBe(`${config}\n`); // zbarimg ends each symbol with a newline
      // The first free address: .1 is the server's, .2 the existing peer's.
      const phoneConf = join(dir, `${phoneIf}.conf`);
      writeFileSync(phoneConf, decoded.stdout.slice(0, -1), { mode: 0o600 });
      const up = await wgts(phone, ['quick', 'up', phoneConf]);
      expect(up.code, up.stderr).toBe(0);
      await waitFor(() => pings(phone), { timeout: 20_000 * SLOWDOWN, what: 'phone pings the server through the tunnel' });
      phoneKey = (await wgts(phone, ['show', phoneIf, 'public-key'])).stdout.trim();
      expect((await handshakes()).get(phoneKey)).not.toBe('0');
    });

    it('laptop: the next address, and the phone keeps its session', async () => {
      const before = (await handshakes()).get(phoneKey);
      expect(before).toBeDefined();
      const out = join(dir, `${laptopIf}.conf`);
      const r = await wgts(server, ['peer', 'add', serverIf, '--name', 'laptop', '--split', '--psk', '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      expect(statSync(out).mode & 0o777).toBe(0o600);
      const config = readFileSync(out, 'utf8');
      // The remembered endpoint (the first --endpoint) is used; --split gives the server's subnets.
      expect(config).toContain('Address = 10.66.0.4/32, fd66::3/128\n');
      expect(config).toContain('Endpoint = 10.97.1.1:51820\nAllowedIPs = 10.66.0.0/24, fd66::/64\n');
      // The laptop reaches the server on its own veth: its copy of the config says so.
      writeFileSync(out, config.replace('Endpoint = 10.97.1.1:51820', 'Endpoint = 10.97.2.1:51820'), { mode: 0o600 });
      const up = await wgts(laptop, ['quick', 'up', out]);
      expect(up.code, up.stderr).toBe(0);
      await waitFor(() => pings(laptop), { timeout: 20_000 * SLOWDOWN, what: 'laptop pings the server through the tunnel' });
      laptopKey = (await wgts(laptop, ['show', laptopIf, 'public-key'])).stdout.trim();
      expect(await pings(phone)).toBe(true);
      expect((await handshakes()).get(phoneKey)).toBe(before);
    });

    it('the server file keeps its original lines in order and gains the named peers, 0600', () => {
      const text = readFileSync(serverConf, 'utf8');
      expect(statSync(serverConf).mode & 0o777).toBe(0o600);
      const lines = text.split('\n');
      let at = 0;
      for (const line of ORIGINAL.split('\n')) {
        at = lines.indexOf(line, at);
        expect(at, `original line kept in order: ${line}`).toBeGreaterThanOrEqual(0);
        at++;
      }
      expect(text).toContain('# wgts: endpoint=10.97.1.1:51820\n');
      expect(text).toContain(`\n\n[Peer]\n# friendly_name=phone\nPublicKey = ${phoneKey}\nAllowedIPs = 10.66.0.3/32, fd66::2/128\n`);
      expect(text).toMatch(new RegExp(`\\n\\n\\[Peer\\]\\n# friendly_name=laptop\\nPublicKey = ${laptopKey.replace(/[+/]/g, '\\$&')}\\nPresharedKey = .{44}\\nAllowedIPs = 10\\.66\\.0\\.4/32, fd66::3/128\\n$`));
      // No private key of a client is kept on the server.
      expect(text.match(/PrivateKey/g)).toHaveLength(1);
    });

    it("wgts quick reload of the edited file changes nothing: the peers and the phone's session stay", async () => {
      const before = await handshakes();
      const r = await wgts(server, ['quick', 'reload', serverConf]);
      expect(r.code, r.stderr).toBe(0);
      expect(await handshakes()).toEqual(before);
    });

    it('wgts lint finds nothing wrong with the edited file', async () => {
      const lint = await wgts(server, ['lint', serverConf]);
      expect(lint.stdout + lint.stderr).toBe('');
      expect(lint.code).toBe(0);
    });

    it('peer list shows names and addresses, as text and JSON', async () => {
      const r = await wgts(server, ['peer', 'list', serverIf]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^existing +\S+ +10\.66\.0\.2\/32 /m);
      expect(r.stdout).toMatch(new RegExp(`^phone +${phoneKey.replace(/[+/]/g, '\\$&')} +10\\.66\\.0\\.3/32, fd66::2/128 +10\\.97\\.1\\.2:\\d+ +.* ago`, 'm'));
      expect(r.stdout).toMatch(/^laptop +\S+ +10\.66\.0\.4\/32, fd66::3\/128 /m);
      const j = await wgts(server, ['peer', 'list', serverIf, '--json']);
      const listing = JSON.parse(j.stdout) as { running: boolean; peers: { name: string; allowedIps: string[]; latestHandshakeUnix: number }[] };
      expect(listing.running).toBe(true);
      expect(listing.peers.map((p) => [p.name, p.allowedIps])).toEqual([
        ['existing', ['10.66.0.2/32']],
        ['phone', ['10.66.0.3/32', 'fd66::2/128']],
        ['laptop', ['10.66.0.4/32', 'fd66::3/128']],
      ]);
      expect(listing.peers[1]!.latestHandshakeUnix).toBeGreaterThan(0);
    });

    hostOnly('refuses a duplicate name, bad names and bad --ip, changing nothing', async () => {
      await refused(['--name', 'phone'], /a peer named `phone' already exists/);
      await refused(['--name', 'bad#name'], /invalid name/);
      await refused(['--name', 'x', '--ip', '10.99.0.5'], /outside the interface's subnets/);
      await refused(['--name', 'x', '--ip', '10.66.0.3'], /already in use/);
      await refused(['--name', 'x', '--ip', '10.66.0.1'], /already in use/);
      await refused(['--name', 'x', '--ip', 'bogus'], /not an IPv4 or IPv6 address/);
      await refused(['--name', 'x', '--endpoint', 'vpn.example.com:0'], /invalid endpoint .*the port must be 1-65535/);
      await refused(['--name', 'x', '--endpoint', 'not a host'], /invalid endpoint .*not a host name/);
      await refused(['--name', 'x', '--qr', join(dir, 'missing-dir', 'x.png')], /cannot write/);
    });

    it('peer remove takes the laptop off the device and the file; the phone keeps its session', async () => {
      const before = (await handshakes()).get(phoneKey);
      const text = readFileSync(serverConf, 'utf8');
      const r = await wgts(server, ['peer', 'remove', serverIf, 'laptop']);
      expect(r.code, r.stderr).toBe(0);
      expect((await handshakes()).has(laptopKey)).toBe(false);
      const after = readFileSync(serverConf, 'utf8');
      // Exactly the laptop's section went (with the blank line that introduced it).
      expect(after).toBe(text.slice(0, text.indexOf('\n\n[Peer]\n# friendly_name=laptop')) + '\n');
      expect(await pings(phone)).toBe(true);
      expect((await handshakes()).get(phoneKey)).toBe(before);
      // By public key too; an unknown one is refused.
      expect((await wgts(server, ['peer', 'remove', serverIf, existingKey])).code).toBe(0);
      expect(readFileSync(serverConf, 'utf8')).not.toContain('friendly_name=existing');
      const unknown = await wgts(server, ['peer', 'remove', serverIf, 'laptop']);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain("no peer named `laptop'");
    });

    hostOnly("Table = 1234: the peer's route goes to that table as wg-quick puts it, and leaves with the peer", async () => {
      const ifname = lab.ifname('t');
      const conf = join(dir, `${ifname}.conf`);
      writeFileSync(conf, `[Interface]\nAddress = 10.67.0.1/24\nListenPort = 51821\nTable = 1234\nPrivateKey = ${keyToBase64(generatePrivateKey())}\n`, { mode: 0o600 });
      lab.defer(() => stopDaemon(server, ifname));
      expect((await wgts(server, ['quick', 'up', conf])).code).toBe(0);
      const add = await wgts(server, ['peer', 'add', ifname, '--name', 'site', '--endpoint', '10.97.1.1']);
      expect(add.code, add.stderr).toBe(0);
      expect(add.stdout).toContain('Endpoint = 10.97.1.1:51821\n'); // a bare host gets the ListenPort
      const routes = async () => (await server.ip(['-4', 'route', 'show', 'table', '1234', 'dev', ifname])).stdout;
      expect(await routes()).toMatch(/^10\.67\.0\.2 /m);
      expect((await wgts(server, ['peer', 'remove', ifname, 'site'])).code).toBe(0);
      expect(await routes()).not.toMatch(/10\.67\.0\.2/);
    });

    hostOnly('a failure after the device took the peer (its route) undoes it: file, device and outputs as before', async () => {
      // A table name that no rt_tables file knows: `up` passes (no peers, no routes), the peer's route cannot be made.
      const ifname = lab.ifname('f');
      const conf = join(dir, `${ifname}.conf`);
      writeFileSync(conf, `[Interface]\nAddress = 10.69.0.1/24\nListenPort = 51822\nTable = nosuchtable\nPrivateKey = ${keyToBase64(generatePrivateKey())}\n`, { mode: 0o600 });
      lab.defer(() => stopDaemon(server, ifname));
      const up = await wgts(server, ['quick', 'up', conf]);
      expect(up.code, up.stderr).toBe(0);
      const before = readFileSync(conf);
      const files = readdirSync(dir).sort();
      const r = await wgts(server, ['peer', 'add', ifname, '--name', 'x', '--endpoint', '10.97.1.1:51822', '--out', join(dir, 'x.conf'), '--qr', join(dir, 'x.png')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('nosuchtable');
      expect(readFileSync(conf).equals(before)).toBe(true);
      expect(readdirSync(dir).sort()).toEqual(files);
      const peers = await wgts(server, ['show', ifname, 'peers']);
      expect(peers.code, peers.stderr).toBe(0);
      expect(peers.stdout).toBe('');
    });

    hostOnly('an interface that is not up: only the file changes, and the listing says so', async () => {
      const ifname = lab.ifname('d');
      const conf = join(dir, `${ifname}.conf`);
      writeFileSync(conf, `[Interface]\nAddress = 10.68.0.1/24\nPrivateKey = ${keyToBase64(generatePrivateKey())}\n# wgts: endpoint=vpn.example.com:51820\n`, { mode: 0o600 });
      const add = await wgts(server, ['peer', 'add', conf, '--name', 'later']);
      expect(add.code, add.stderr).toBe(0);
      expect(add.stderr).toContain('is not up');
      expect(add.stdout).toContain('Address = 10.68.0.2/32\n');
      expect(add.stdout).toContain('Endpoint = vpn.example.com:51820\n');
      // Three at once: the lock hands out distinct addresses, none is lost from the file.
      const many = await Promise.all(['a', 'b', 'c'].map((n) => wgts(server, ['peer', 'add', conf, '--name', n])));
      for (const r of many) expect(r.code, r.stderr).toBe(0);
      const addresses = many.map((r) => /^Address = (\S+)$/m.exec(r.stdout)?.[1]).sort();
      expect(addresses).toEqual(['10.68.0.3/32', '10.68.0.4/32', '10.68.0.5/32']);
      expect(readdirSync(dir).filter((f) => f.includes(ifname) && f !== `${ifname}.conf`)).toEqual([]);
      const list = await wgts(server, ['peer', 'list', conf]);
      expect(list.stdout).toMatch(/^later +\S+ +10\.68\.0\.2\/32 +- +- +-$/m);
      expect(list.stdout.match(/^[abc] /gm)).toHaveLength(3);
      expect(list.stdout).toContain('is not up');
    });
  });
}
