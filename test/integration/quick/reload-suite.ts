/**
 * `wgts quick reload` with traffic: two namespaces, a tunnel between them brought up by `wgts quick up`
 * on both sides, a ping stream (20/s) through it while two reloads first add an address, change the
 * MTU and add a peer with its route, then take all of that back. The stream loses at most 2 %, the
 * existing peer's latest handshake is unchanged (its session was kept), and `down` leaves the
 * namespace as it was. Shared by the userspace run (reload.test.ts) and the kernel run in the VM.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Lab, type Netns, waitFor } from '../helpers/netns.js';
import { genKeyPair, useWgts } from './harness.js';

/** The state `up` may touch in a namespace (the harness's snapshot, without sysctls). */
async function snapshot(ns: Netns): Promise<string> {
  return (
    await ns.sh(
      'ip -o addr show; ip -4 route show table all; ip -6 route show table all; ip -4 rule; ip -6 rule; nft list ruleset',
    )
  ).stdout.replace(/(valid_lft|preferred_lft) \S+/g, '$1 <t>');
}

function received(pingOut: string): number {
  return pingOut.split('\n').filter((l) => /icmp_seq=\d+/.test(l) && /time=/.test(l)).length;
}

export function defineReloadSuite(backend: 'userspace' | 'kernel'): void {
  const bin = useWgts();
  const lab = new Lab('wgr');
  const dir = mkdtempSync(join(tmpdir(), 'wgts-reload-'));
  chmodSync(dir, 0o700);
  afterAll(async () => {
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const slow = backend === 'kernel' ? 10 : 1;

  describe(`wgts quick reload (${backend})`, () => {
    it('keeps a ping stream and the session across two reloads; down leaves nothing', async () => {
      const [ka, kb, kc] = [genKeyPair(), genKeyPair(), genKeyPair()];
      const a = await lab.netns();
      const b = await lab.netns();
      await lab.veth(a, '192.168.90.1/24', b, '192.168.90.2/24');
      const ifA = lab.ifname('a');
      const ifB = lab.ifname('b');
      const confA = join(dir, `${ifA}.conf`);
      const confB = join(dir, `${ifB}.conf`);
      const base = `[Interface]\nPrivateKey = ${ka.priv}\nAddress = 10.50.0.1/24\nListenPort = 51701\n\n[Peer]\nPublicKey = ${kb.pub}\nAllowedIPs = 10.50.0.2/32\nEndpoint = 192.168.90.2:51702\n`;
      const more = base
        .replace('Address = 10.50.0.1/24\n', 'Address = 10.50.0.1/24, 10.50.1.1/24\nMTU = 1380\n')
        .concat(`\n[Peer]\nPublicKey = ${kc.pub}\nAllowedIPs = 10.60.0.0/24\n`);
      writeFileSync(confA, base, { mode: 0o600 });
      writeFileSync(
        confB,
        `[Interface]\nPrivateKey = ${kb.priv}\nAddress = 10.50.0.2/24\nListenPort = 51702\n\n[Peer]\nPublicKey = ${ka.pub}\nAllowedIPs = 10.50.0.1/32\nEndpoint = 192.168.90.1:51701\n`,
        { mode: 0o600 },
      );
      const env = { WGTS_QUICK_STATE_DIR: join(dir, 'state') };
      const quick = (ns: Netns, ...args: string[]) => ns.run([bin(), 'quick', ...args], { env, timeout: 120_000 * slow });
      // the veth's IPv6 link-local address settles (DAD) before the state is taken
      const before = await waitFor(async () => {
        const s = await snapshot(a);
        return s.includes('tentative') ? undefined : s;
      }, { timeout: 10_000 * slow, what: 'link-local addresses to settle' });
      await quick(b, 'up', confB);
      await quick(a, 'up', confA);

      const ping = a.spawn(['ping', '-n', '-i', '0.05', '-w', String(120 * slow), '10.50.0.2']);
      await waitFor(() => received(ping.stdout()) >= 40, { timeout: 30_000 * slow, what: 'the first 40 replies' });
      const handshake = (await a.run(['wg', 'show', ifA, 'latest-handshakes'])).stdout;
      expect(handshake).toMatch(new RegExp(`^${kb.pub.replace(/[+/]/g, '\\$&')}\\t[1-9]\\d*\\n$`));

      writeFileSync(confA, more, { mode: 0o600 });
      const r1 = await quick(a, 'reload', confA);
      expect(r1.stderr).toContain(`[#] ip -4 address add 10.50.1.1/24 dev ${ifA}`);
      expect(r1.stderr).toContain(`[#] ip link set mtu 1380 up dev ${ifA}`);
      expect(r1.stderr).toContain(`[#] ip -4 route add 10.60.0.0/24 dev ${ifA}`);
      const mid = await a.sh(`ip -o addr show dev ${ifA}; ip link show dev ${ifA}; ip route show dev ${ifA}; wg show ${ifA} peers`);
      expect(mid.stdout).toContain('inet 10.50.1.1/24');
      expect(mid.stdout).toContain('mtu 1380');
      expect(mid.stdout).toContain('10.60.0.0/24 scope link');
      expect(mid.stdout).toContain(kc.pub);

      writeFileSync(confA, base, { mode: 0o600 });
      const r2 = await quick(a, 'reload', confA);
      expect(r2.stderr).toContain(`[#] ip -4 address del 10.50.1.1/24 dev ${ifA}`);
      expect(r2.stderr).toContain(`[#] ip -4 route delete 10.60.0.0/24 dev ${ifA}`);
      const end = await a.sh(`ip -o addr show dev ${ifA}; ip link show dev ${ifA}; ip route show dev ${ifA}; wg show ${ifA} peers`);
      // no MTU line any more: computed again, from the endpoint's route (the veth, 1500) minus 80
      expect(end.stdout).toContain('mtu 1420');
      expect(end.stdout).not.toContain('10.50.1.1');
      expect(end.stdout).not.toContain('10.60.0.0');
      expect(end.stdout).not.toContain(kc.pub);

      // the stream goes on after the reloads, then it is stopped and counted
      const after = received(ping.stdout());
      await waitFor(() => received(ping.stdout()) >= after + 40, { timeout: 30_000 * slow, what: '40 replies after the reloads' });
      expect((await a.run(['wg', 'show', ifA, 'latest-handshakes'])).stdout).toBe(handshake);
      ping.kill('SIGINT');
      await ping.exited;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(ping.stdout());
      expect(m, ping.stdout()).not.toBeNull();
      const [sent, got] = [Number(m![1]), Number(m![2])];
      // the last request may still be in flight when the stream is stopped
      expect((sent - got - 1) / sent, ping.stdout().split('\n').slice(-4).join('\n')).toBeLessThanOrEqual(0.02);

      await quick(a, 'down', confA);
      await quick(b, 'down', confB);
      expect(await snapshot(a)).toBe(before);
    }, 300_000 * slow);
  });
}
