/**
 * The wgts-userspace process and its UAPI socket, checked against what wireguard-go does:
 * launcher contract (socket before return, exit codes, foreground, LOG_LEVEL), shutdown paths
 * (SIGTERM, socket deleted), stale and live sockets, raw UAPI edge cases, and the real wg's
 * setconf/addconf/syncconf/set leaving byte-identical `wg showconf`/`wg show` on both daemons.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type Netns, waitFor } from '../helpers/netns.js';
import { SOCK_DIR, WGTS_BIN, daemonPids, ensureBuilt, genkey, isSocket, startDaemon, stopDaemon } from './fixture.js';

/**
 * Sends raw text on a UAPI socket; resolves with what the server wrote once `replies` complete
 * answers (each ends with an `errno=N` line and a blank line) have arrived, or when the server
 * closes. With `replies` 0 it waits for the close (or 500 ms of silence).
 */
function uapi(path: string, text: string, replies = 1): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(path);
    let out = '';
    const done = (): void => {
      clearTimeout(timer);
      c.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, replies === 0 ? 500 : 10_000);
    c.setEncoding('utf8');
    c.on('connect', () => c.write(text));
    c.on('data', (d: string) => {
      out += d;
      if (replies > 0 && (out.match(/errno=-?\d+\n\n/g) ?? []).length >= replies) done();
    });
    c.on('close', done);
    c.on('error', reject);
  });
}

describe('wgts-userspace process and UAPI socket', () => {
  const lab = new Lab('wgd');
  let ns: Netns;
  beforeAll(async () => {
    await ensureBuilt();
    ns = await lab.netns();
  }, 60_000);
  afterAll(() => lab.cleanup(), 30_000);

  it('creates the socket before the launcher returns (dir 0755 whatever the umask, socket owner-only) and exits on SIGTERM, unlinking it', async () => {
    const name = lab.ifname();
    // A socket directory of the test's own, two levels still to create, under wg-quick's umask 077:
    // what earlier runs left in /var/run/wireguard cannot matter.
    const tmp = mkdtempSync(join(tmpdir(), 'wgd-run-'));
    const dir = join(tmp, 'run', 'wireguard');
    lab.defer(() => rmSync(tmp, { recursive: true, force: true }));
    lab.defer(() => stopDaemon(ns, name));
    const env = { WG_PROCESS_FOREGROUND: undefined, WGTS_RUN_DIR: join(tmp, 'run') };
    await ns.run(['sh', '-c', 'umask 077 && exec "$@"', 'sh', WGTS_BIN, name], { env });
    const path = `${dir}/${name}.sock`;
    expect(isSocket(path)).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o755);
    expect(statSync(join(tmp, 'run')).mode & 0o777).toBe(0o755);
    expect(statSync(path).mode & 0o077).toBe(0);
    expect((await ns.ip(['link', 'show', name])).stdout).toContain('mtu 1420');
    const [pid] = await daemonPids(name);
    expect(await uapi(path, 'get=1\n\n')).toBe('errno=0\n\n');
    // A second launcher for the same name fails: the TUN is taken and the socket is live.
    expect((await ns.run([WGTS_BIN, name], { check: false, env })).code).toBe(1);
    process.kill(pid!, 'SIGTERM');
    await waitFor(async () => (await daemonPids(name)).length === 0, { what: 'exit on SIGTERM' });
    expect(isSocket(path)).toBe(false);
    expect((await ns.ip(['link', 'show', name], { check: false })).code).not.toBe(0);
  });

  it('has its signal handlers before the launcher returns: an immediate SIGTERM still unlinks the socket', async () => {
    // Without the launcher waiting for the child, a SIGTERM during Node's own start-up killed it
    // before any handler existed and left the socket behind (8 times out of 8).
    for (let i = 0; i < 3; i++) {
      const name = lab.ifname();
      await startDaemon(lab, ns, 'wgts', name);
      const [pid] = await daemonPids(name);
      process.kill(pid!, 'SIGTERM');
      await waitFor(async () => (await daemonPids(name)).length === 0, { what: 'exit on SIGTERM' });
      expect(isSocket(`${SOCK_DIR}/${name}.sock`)).toBe(false);
    }
  });

  it('exits when its socket file is deleted', async () => {
    const name = lab.ifname();
    await startDaemon(lab, ns, 'wgts', name);
    rmSync(`${SOCK_DIR}/${name}.sock`);
    await waitFor(async () => (await daemonPids(name)).length === 0, { what: 'exit after socket deletion' });
  });

  it('replaces a stale socket file, and rejects bad command lines', async () => {
    const name = lab.ifname();
    const path = `${SOCK_DIR}/${name}.sock`;
    // A socket file nobody listens on any more.
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(path, r));
    await new Promise<void>((r) => {
      // Close the listener without unlinking its path (node unlinks on close for pipes it created).
      (srv as unknown as { _handle: { close(): void } })._handle.close();
      r();
    });
    if (!isSocket(path)) writeFileSync(path, '');
    await startDaemon(lab, ns, 'wgts', name);
    expect(isSocket(path)).toBe(true);
    expect(await uapi(path, 'get=1\n\n')).toBe('errno=0\n\n'); // link down: nothing bound, no port
    const usage = await ns.run([WGTS_BIN], { check: false });
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/^Usage: wgts-userspace \[-f\/--foreground\] INTERFACE-NAME/);
    expect((await ns.run([WGTS_BIN, '-x', 'wgdbad'], { check: false })).code).toBe(1);
  });

  it('refuses to take over a socket path that still accepts connections', async () => {
    const name = lab.ifname();
    const path = `${SOCK_DIR}/${name}.sock`;
    const squatter = net.createServer((c) => c.destroy());
    await new Promise<void>((r) => squatter.listen(path, r));
    try {
      const r = await ns.run([WGTS_BIN, name], { check: false, env: { LOG_LEVEL: 'error', WG_PROCESS_FOREGROUND: undefined } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('in use');
      expect(isSocket(path)).toBe(true); // left alone
      // The TUN it created is released again.
      await waitFor(async () => (await ns.ip(['link', 'show', name], { check: false })).code !== 0, { what: 'TUN released' });
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });

  it('runs in the foreground with -f, logs at LOG_LEVEL=verbose without ever printing the private key', async () => {
    const name = lab.ifname();
    const d = ns.spawn([WGTS_BIN, '-f', name], { env: { LOG_LEVEL: 'verbose', WG_PROCESS_FOREGROUND: undefined } });
    const path = `${SOCK_DIR}/${name}.sock`;
    await waitFor(() => isSocket(path), { what: 'socket in foreground mode' });
    const { privateKey } = await genkey();
    const hex = Buffer.from(privateKey, 'base64').toString('hex');
    expect(await uapi(path, `set=1\nprivate_key=${hex}\nlisten_port=0\n\n`)).toBe('errno=0\n\n');
    d.kill('SIGINT');
    expect(await d.exited).toBe(0);
    expect(d.stderr()).toContain('DEBUG:');
    expect(d.stderr() + d.stdout()).not.toContain(hex);
    expect(d.stderr() + d.stdout()).not.toContain(privateKey);
    expect(isSocket(path)).toBe(false);
  });

  it('outlives the reader of its log (EPIPE): it goes on serving, and SIGTERM still ends it cleanly', async () => {
    const name = lab.ifname();
    const path = `${SOCK_DIR}/${name}.sock`;
    const tmp = mkdtempSync(join(tmpdir(), 'wgd-pipe-'));
    lab.defer(() => rmSync(tmp, { recursive: true, force: true }));
    lab.defer(() => stopDaemon(ns, name));
    const gone = join(tmp, 'reader-gone');
    // The reader takes the first byte and leaves: every later log line meets a closed pipe.
    ns.spawn(['sh', '-c', '"$0" -f "$1" 2>&1 | { head -c 1 >/dev/null; : > "$2"; }', WGTS_BIN, name, gone], {
      env: { LOG_LEVEL: 'verbose', WG_PROCESS_FOREGROUND: undefined },
    });
    await waitFor(() => isSocket(path), { what: 'socket in foreground mode' });
    await waitFor(() => existsSync(gone), { what: 'the log reader gone' });
    const { privateKey } = await genkey();
    const hex = Buffer.from(privateKey, 'base64').toString('hex');
    // Each of these logs lines (verbose) into the closed pipe.
    for (let i = 0; i < 5; i++) {
      expect(await uapi(path, `set=1\nprivate_key=${hex}\nlisten_port=0\n\n`)).toBe('errno=0\n\n');
      expect(await uapi(path, 'get=1\n\n')).toMatch(/errno=0\n\n$/);
    }
    const [pid] = await daemonPids(name);
    process.kill(pid!, 'SIGTERM');
    await waitFor(async () => (await daemonPids(name)).length === 0, { what: 'exit on SIGTERM' });
    expect(isSocket(path)).toBe(false);
  });

  it('speaks UAPI like wireguard-go: several operations per connection, errors without partial changes, probes', async () => {
    const name = lab.ifname();
    await startDaemon(lab, ns, 'wgts', name);
    await ns.ip(['link', 'set', name, 'up']); // a device binds its port only while its link is up
    const path = `${SOCK_DIR}/${name}.sock`;
    const { publicKey } = await genkey();
    const peer = Buffer.from(publicKey, 'base64').toString('hex');
    // An empty probe connection (wg's listing) does no harm.
    expect(await uapi(path, '', 0)).toBe('');
    // Two operations on one connection.
    const two = await uapi(path, `set=1\nlisten_port=42001\npublic_key=${peer}\nallowed_ip=10.1.0.0/16\n\nget=1\n\n`, 2);
    expect(two).toMatch(/^errno=0\n\nlisten_port=42001\npublic_key=[0-9a-f]{64}\n[^]*allowed_ip=10\.1\.0\.0\/16\nerrno=0\n\n$/);
    // A malformed set changes nothing: the valid lines before the bad one are not applied.
    expect(await uapi(path, 'set=1\nlisten_port=42002\nbogus_key=1\n\n')).toBe('errno=-22\n\n');
    expect(await uapi(path, 'set=1\nlisten_port=42002\nno equals sign\n\n')).toBe('errno=-71\n\n');
    expect(await uapi(path, `set=1\nlisten_port=42002\npublic_key=${peer}\nallowed_ip=10.2.0.0/33\n\n`)).toBe('errno=-22\n\n');
    expect(await uapi(path, 'get=1\n\n')).toMatch(/^listen_port=42001\n/);
    // get=1 followed by something other than an empty line is EINVAL; an unknown operation closes.
    expect(await uapi(path, 'get=1\nx\n')).toBe('errno=-22\n\n');
    expect(await uapi(path, 'frobnicate=1\n\nget=1\n\n', 0)).toBe('');
    // Port in use is EADDRINUSE (-98), and the old port stays bound.
    const other = lab.ifname();
    await startDaemon(lab, ns, 'wgts', other);
    await ns.ip(['link', 'set', other, 'up']);
    await waitFor(async () => (await ns.run(['ss', '-uln'])).stdout.includes(':42001 '), { what: 'port 42001 bound' });
    // The device comes up with its link (polled): then it has bound a random port.
    await waitFor(async () => Number((await ns.run(['wg', 'show', other, 'listen-port'])).stdout.trim()) > 0, { what: `${other} up` });
    expect(await uapi(`${SOCK_DIR}/${other}.sock`, 'set=1\nlisten_port=42001\n\n')).toBe('errno=-98\n\n');
    expect((await ns.run(['wg', 'show', name, 'listen-port'])).stdout.trim()).toBe('42001');
    expect((await daemonPids(name)).length).toBe(1);
  });
});

describe('the real wg against wgts-userspace and wireguard-go: same commands, same state', () => {
  const lab = new Lab('wgd');
  let ns: Netns;
  let nsGo: Netns;
  let dir: string;
  let ours: string;
  let theirs: string;

  beforeAll(async () => {
    await ensureBuilt();
    ns = await lab.netns();
    nsGo = await lab.netns();
    dir = mkdtempSync(join(tmpdir(), 'wgd-conf-'));
    lab.defer(() => rmSync(dir, { recursive: true, force: true }));
    ours = lab.ifname('t');
    theirs = lab.ifname('g');
    await startDaemon(lab, ns, 'wgts', ours);
    await startDaemon(lab, nsGo, 'go', theirs);
  }, 60_000);
  afterAll(() => lab.cleanup(), 30_000);

  /** Runs the same wg command on both interfaces (`IF` in args is replaced by the name). */
  async function both(args: string[]): Promise<void> {
    for (const name of [ours, theirs]) {
      const r = await (name === ours ? ns : nsGo).run(['wg', ...args.map((x) => (x === 'IF' ? name : x))], { check: false });
      expect(r.code, `${args.join(' ')} on ${name}: ${r.stderr}`).toBe(0);
    }
  }

  /** Peer blocks sorted: wireguard-go lists peers in Go map order, which is random. */
  const norm = (text: string): string => {
    const [head, ...peers] = text.trim().split('\n\n');
    return [head, ...peers.sort()].join('\n\n');
  };

  async function expectSameState(): Promise<void> {
    // The socket directory is shared, so wg in one namespace reaches both daemons.
    const showconf = await Promise.all([ours, theirs].map(async (n) => norm((await ns.run(['wg', 'showconf', n])).stdout)));
    expect(showconf[0]).toBe(showconf[1]);
    const show = await Promise.all([ours, theirs].map(async (n) => norm((await ns.run(['wg', 'show', n])).stdout.replace(n, 'IF'))));
    expect(show[0]).toBe(show[1]);
  }

  function file(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  }

  it('setconf, addconf, syncconf and set leave the same state', async () => {
    const me = await genkey();
    const [p1, p2, p3] = [await genkey(), await genkey(), await genkey()];
    const psk = (await ns.run(['wg', 'genpsk'])).stdout.trim();
    await both(['setconf', 'IF', file('1.conf', [
      '[Interface]', `PrivateKey = ${me.privateKey}`, 'ListenPort = 43101', 'FwMark = 0x1234', '',
      '[Peer]', `PublicKey = ${p1.publicKey}`, `PresharedKey = ${psk}`, 'Endpoint = 192.0.2.1:51820',
      'AllowedIPs = 10.10.0.0/16, 10.10.1.0/24, fd10::/64', 'PersistentKeepalive = 25', '',
      '[Peer]', `PublicKey = ${p2.publicKey}`, 'Endpoint = [2001:db8::1]:12345', 'AllowedIPs = 10.20.0.1/32, 0.0.0.0/1', '',
    ].join('\n'))]);
    await expectSameState();
    await both(['addconf', 'IF', file('2.conf', [
      '[Peer]', `PublicKey = ${p3.publicKey}`, 'AllowedIPs = 10.10.1.0/24, ::/0', '',
      '[Peer]', `PublicKey = ${p2.publicKey}`, 'PersistentKeepalive = 7', '',
    ].join('\n'))]);
    await expectSameState();
    await both(['syncconf', 'IF', file('3.conf', [
      '[Interface]', `PrivateKey = ${me.privateKey}`, 'ListenPort = 43102', '',
      '[Peer]', `PublicKey = ${p3.publicKey}`, 'AllowedIPs = 10.30.0.0/16', 'Endpoint = 198.51.100.7:1', '',
    ].join('\n'))]);
    await expectSameState();
    await both(['set', 'IF', 'fwmark', '0', 'peer', p1.publicKey, 'allowed-ips', '10.40.0.0/24,fd40::/48', 'persistent-keepalive', 'off']);
    await both(['set', 'IF', 'peer', p3.publicKey, 'remove', 'peer', p2.publicKey, 'endpoint', '203.0.113.9:9']);
    await expectSameState();
    // Own private key equal to a peer's: that peer disappears on both.
    await both(['set', 'IF', 'private-key', file('p1.key', `${p1.privateKey}\n`)]);
    await expectSameState();
    expect((await ns.run(['wg', 'show', ours, 'peers'])).stdout).not.toContain(p1.publicKey);
  });
});
