/**
 * The registry under attack, in namespaces (issue: well-formed, tunnel-only, robust under abuse):
 *
 *   peer 203.0.113.2, wg 10.77.0.2 ── reg 203.0.113.1 / 192.168.77.1, wg 10.77.0.1 ── lan 192.168.77.2
 *                                                                      (route 10.77.0.0/24 via 192.168.77.1)
 *
 * `wgts registry serve` runs on the registry's tunnel address, port 53. Its device also knows two
 * peers with many allowed IPs (31 IPv4; 20 IPv4 + 20 IPv6) and fixed endpoints.
 * - dig, through the tunnel, parses their TXT and SRV answers over UDP (after the cookie
 *   exchange) and TCP without a warning, every prefix there; `discover --add-new` applies them.
 * - The LAN host, which reaches the tunnel address through the registry's LAN address (ping
 *   answers), gets no records over UDP or TCP.
 * - While 200 connections trickle bytes at the server, the peer's TCP query is answered in 5 s.
 * - A client pipelining 200k queries without reading grows the server's RSS by at most 64 MiB.
 * - When the interface is deleted and created again, the server binds to the new link.
 */
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, SLOWDOWN, SUITE_TIMEOUT, labAvailable, waitFor, type Impl } from './lab.js';
import { parseDig, type DigResult } from './dig-output.js';

const ZONE = 'hard.test';
const SVC = `_wireguard._udp.${ZONE}`;
const REG = '10.77.0.1';
const ABUSER = join(import.meta.dirname, 'abuse-client.mjs');
const WIDE = {
  31: Array.from({ length: 31 }, (_, i) => `10.31.${i}.0/24`),
  40: [...Array.from({ length: 20 }, (_, i) => `10.40.${i}.0/24`), ...Array.from({ length: 20 }, (_, i) => `fd40:${i + 1}::/64`)],
} as const;

/** `<lower-case base32 of the key>._wireguard._udp.<zone>` (the instance name), by coreutils. */
async function instance(lab: Lab, b64: string): Promise<string> {
  const out = await lab.exec('peer', ['sh', '-c', `printf %s '${b64}' | base64 -d | base32 -w0`]);
  return `${out.trim().toLowerCase()}.${SVC}`;
}

/** The resident set size of a process, in bytes. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/**
 * `transportLoad: false` leaves out the trickle and pipelining runs: they load the registry's own
 * TCP handling, which is the same whatever backend serves the interface, and under the VM's
 * emulated CPU they measure the emulator (the host runs them on both userspace backends).
 */
export function defineHardeningSuite(impl: Impl, { transportLoad = true }: { transportLoad?: boolean } = {}): void {
  const loadIt = transportLoad ? it : it.skip;
  describe.skipIf(!labAvailable(impl))(`registry hardening (${impl})`, () => {
    const lab = new Lab();
    const R = lab.ifname('r');
    const P = lab.ifname('p');
    let serverPid = 0;
    let serve: ChildProcess;
    /** Creates and configures the registry's WireGuard device. */
    let registryDevice: () => Promise<void>;
    let peerToRegistry: () => Promise<void>;
    let wide: Record<31 | 40, string> = { 31: '', 40: '' };

    /** dig from a namespace; a failed dig (no answer, refused) resolves with its output, never throws. */
    async function dig(role: string, args: string[]): Promise<DigResult & { ok: boolean }> {
      try {
        const out = await lab.exec(role, ['dig', `@${REG}`, '+norecurse', '+tries=1', '+time=2', ...args]);
        return { ...parseDig(out), ok: true };
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        return { ...parseDig(e.stdout ?? '', e.stderr ?? ''), ok: false };
      }
    }

    beforeAll(async () => {
      await lab.addNamespaces('reg', 'peer', 'lan');
      await lab.veth('reg', 'wan', 'peer', 'wan', '203.0.113.1/24', '203.0.113.2/24');
      await lab.veth('reg', 'lan', 'lan', 'eth0', '192.168.77.1/24', '192.168.77.2/24');
      await lab.ip('lan', ['route add 10.77.0.0/24 via 192.168.77.1']);
      const keys = { reg: await lab.keypair('reg'), peer: await lab.keypair('peer'), w31: await lab.keypair('w31'), w40: await lab.keypair('w40') };
      wide = { 31: keys.w31.publicKey, 40: keys.w40.publicKey };
      registryDevice = async () => {
        await lab.wgDevice('reg', R, impl, `${REG}/24`);
        await lab.wg('reg', ['set', R, 'private-key', keys.reg.privateFile, 'listen-port', '51820',
          'peer', keys.peer.publicKey, 'allowed-ips', '10.77.0.2/32',
          'peer', keys.w31.publicKey, 'endpoint', '198.51.100.31:31031', 'allowed-ips', WIDE[31].join(','),
          'peer', keys.w40.publicKey, 'endpoint', '[2001:db8::40]:40040', 'allowed-ips', WIDE[40].join(',')]);
      };
      await registryDevice();
      await lab.wgDevice('peer', P, impl, '10.77.0.2/24');
      // Also after the registry's device is created again: a peer set afresh handshakes at once,
      // instead of after WireGuard's 15 s of unanswered data.
      peerToRegistry = async () => {
        await lab.wg('peer', ['set', P, 'private-key', keys.peer.privateFile, 'peer', keys.reg.publicKey, 'remove']);
        await lab.wg('peer', ['set', P, 'peer', keys.reg.publicKey, 'endpoint', '203.0.113.1:51820', 'allowed-ips', `${REG}/32`, 'persistent-keepalive', '25']);
      };
      await peerToRegistry();
      serve = lab.spawn('reg', [...lab.wgts(), 'registry', 'serve', R, '--zone', ZONE]);
      await waitFor('the registry to serve', 10_000, async () => {
        if (serve.exitCode !== null) throw new Error(lab.output(serve));
        return /serving/.test(lab.output(serve));
      });
      expect(lab.output(serve)).toMatch(new RegExp(`on ${REG.replace(/\./g, '\\.')}:53 \\(through ${R} only\\)`));
      serverPid = serve.pid!;
      await waitFor('the tunnel', 10_000, () => lab.ping('peer', REG));
    }, SUITE_TIMEOUT);
    afterAll(() => lab.close(), SUITE_TIMEOUT);

    for (const n of [31, 40] as const) {
      it(`dig reads TXT and SRV of a peer with ${n} allowed IPs over UDP and TCP, every prefix there`, async () => {
        const name = await instance(lab, wide[n]);
        for (const type of ['TXT', 'SRV']) {
          const first = await dig('peer', ['+ignore', name, type]);
          expect(first.cookie, first.text).toMatch(/^[0-9a-f]{48}$/);
          const udp = await dig('peer', ['+ignore', `+cookie=${first.cookie}`, name, type]);
          expect(udp.flags).not.toContain('tc');
          const tcp = await dig('peer', ['+tcp', name, type]);
          for (const r of [udp, tcp]) {
            expect(r.status, r.text).toBe('NOERROR');
            const txt = [...r.answer, ...r.additional].filter((a) => a.type === 'TXT');
            expect(txt).toHaveLength(1);
            const strings = [...txt[0]!.data.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
            expect(strings.slice(0, 2)).toEqual(['txtvers=1', `pub=${wide[n]}`]);
            for (const s of strings) expect(s.length).toBeLessThanOrEqual(255);
            expect(strings.filter((s) => s.startsWith('allowed=')).map((s) => s.slice(8)).join(',').split(',')).toEqual(WIDE[n]);
          }
        }
      });
    }

    it('discover --add-new applies both peers with all their allowed IPs', async () => {
      await lab.exec('peer', [...lab.wgts(), 'registry', 'discover', P, '--registry', REG, '--zone', ZONE, '--add-new']);
      const lines = (await lab.wg('peer', ['show', P, 'allowed-ips'])).trim().split('\n');
      for (const n of [31, 40] as const) {
        const line = lines.find((l) => l.startsWith(`${wide[n]}\t`));
        expect(line, lines.join('\n')).toBeDefined();
        expect(line!.split('\t')[1]!.split(' ').sort()).toEqual([...WIDE[n]].sort());
      }
      const peers = await lab.peers('peer', P);
      expect(peers.find((p) => p.publicKey === wide[31])!.endpoint).toBe('198.51.100.31:31031');
      expect(peers.find((p) => p.publicKey === wide[40])!.endpoint).toBe('[2001:db8::40]:40040');
    });

    it('a LAN host that routes to the tunnel address gets no records over UDP or TCP', async () => {
      // The route works (the kernel answers ping for any local address: the weak host model)...
      expect(await lab.ping('lan', REG)).toBe(true);
      // ...but the server's sockets take only what comes through the WireGuard interface.
      for (const mode of ['+notcp', '+tcp']) {
        const r = await dig('lan', [mode, SVC, 'PTR']);
        expect(r.ok, r.text).toBe(false);
        expect(r.answer).toEqual([]);
        expect(r.text).not.toMatch(/status: NOERROR/);
      }
      // The same questions through the tunnel are answered.
      for (const mode of ['+notcp', '+tcp']) {
        const r = await dig('peer', [mode, SVC, 'PTR']);
        expect(r.status).toBe('NOERROR');
        expect(r.answer.length).toBe(3); // the peer itself and the two wide ones
      }
      // The tunnel address named with --listen is bound to the interface all the same; the LAN
      // address, named too, answers the LAN (as the man page says: whoever reaches it).
      const both = lab.spawn('reg', [...lab.wgts(), 'registry', 'serve', R, '--zone', ZONE, '--listen', `${REG}:5353`, '--listen', '192.168.77.1:5353']);
      await waitFor('the second server', 10_000, async () => {
        if (both.exitCode !== null) throw new Error(lab.output(both));
        return /serving/.test(lab.output(both));
      });
      expect(lab.output(both)).toContain(`${REG}:5353 (through ${R} only), 192.168.77.1:5353\n`);
      for (const mode of ['+notcp', '+tcp']) {
        expect((await dig('lan', ['-p', '5353', mode, SVC, 'PTR'])).ok).toBe(false);
        expect((await dig('peer', ['-p', '5353', mode, SVC, 'PTR'])).status).toBe('NOERROR');
        const open = await lab.exec('lan', ['dig', '@192.168.77.1', '-p', '5353', '+norecurse', '+tries=1', '+time=2', mode, SVC, 'PTR']);
        expect(parseDig(open).status).toBe('NOERROR');
      }
      both.kill('SIGTERM');
    });

    loadIt("during 200 trickling TCP connections a peer's TCP query is answered within 5 s", async () => {
      const trickle = lab.spawn('peer', ['node', ABUSER, 'trickle', REG, '53', '200', String(40 * SLOWDOWN)]);
      await waitFor('200 trickling connections', 20_000, async () => {
        if (trickle.exitCode !== null) throw new Error(lab.output(trickle));
        return /open 200/.test(lab.output(trickle));
      });
      const name = await instance(lab, wide[40]);
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const r = await dig('peer', ['+tcp', '+time=5', name, 'SRV']);
        expect(Date.now() - started).toBeLessThan(5000 * SLOWDOWN);
        expect(r.status, r.text).toBe('NOERROR');
        expect(r.answer.map((a) => a.type)).toEqual(['SRV']);
      }
      expect(trickle.exitCode).toBeNull(); // the attack was still going on
      trickle.kill('SIGTERM');
    });

    loadIt('a client pipelining 200k queries without reading grows the server by at most 64 MiB', async () => {
      // Warm up: the answer path has run, so the baseline includes its code and caches.
      for (let i = 0; i < 3; i++) await dig('peer', ['+tcp', SVC, 'PTR']);
      const before = rss(serverPid);
      let peak = before;
      const flood = lab.spawn('peer', ['node', ABUSER, 'pipeline', REG, '53', '200000', SVC]);
      const LIMIT = 64 * 1024 * 1024;
      // Sampled every 100 ms until the server ends the stalled connection (its deadline).
      const deadline = Date.now() + 45_000 * SLOWDOWN;
      while (!/closed/.test(lab.output(flood))) {
        peak = Math.max(peak, rss(serverPid));
        expect(peak - before, `RSS ${before} -> ${peak}`).toBeLessThanOrEqual(LIMIT);
        if (Date.now() > deadline) throw new Error(`the server never ended the stalled connection: ${lab.output(flood)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(lab.output(flood)).toMatch(/written/);
      // Still serving.
      expect((await dig('peer', ['+tcp', SVC, 'PTR'])).status).toBe('NOERROR');
    }, SUITE_TIMEOUT);

    it('answers through the interface again after it is deleted and created anew', async () => {
      await lab.ip('reg', [`link del ${R}`]);
      await waitFor(`${R} to be gone`, 10_000, async () => !existsSync(`/var/run/wireguard/${R}.sock`));
      await registryDevice();
      await peerToRegistry();
      await waitFor('the tunnel again', 15_000, () => lab.ping('peer', REG));
      // It says so, then serves again (a second `serving` line, printed once the sockets are bound).
      await waitFor('the registry to bind to the new link', 15_000, async () =>
        /created again[^]*serving/.test(lab.output(serve)));
      for (const mode of ['+notcp', '+tcp']) {
        const r = await dig('peer', [mode, SVC, 'PTR']);
        expect(r.status, r.text).toBe('NOERROR');
      }
      expect(serve.exitCode).toBeNull();
    }, SUITE_TIMEOUT);
  });
}
