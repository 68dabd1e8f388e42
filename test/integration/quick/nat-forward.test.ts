/**
 * `--nat-via` behind `iptables -P FORWARD DROP` (as Docker leaves a host): a client in its own
 * namespace pings a host beyond the gateway's uplink through the tunnel; the gateway's forward accept
 * rules let it through (without them: 100 % loss), and `down` takes them out again, leaving the
 * FORWARD chain as it was. Three namespaces (client, gateway, "internet"), wgts-userspace on both
 * tunnel ends, unique interface names (the UAPI sockets live in the shared /run/wireguard).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Lab } from '../helpers/netns.js';
import { genKeyPair, useWgts } from './harness.js';

const bin = useWgts();
const lab = new Lab('wgn');
const work = mkdtempSync(join(tmpdir(), 'wgq-natfw-'));
afterAll(async () => {
  await lab.cleanup();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('--nat-via with a FORWARD DROP policy', () => {
  it('clients reach the uplink side through the tunnel; down restores the FORWARD chain', async () => {
    const [client, gw, net] = [await lab.netns(), await lab.netns(), await lab.netns()];
    await lab.veth(gw, '172.31.65.1/24', client, '172.31.65.2/24');
    const [uplink] = await lab.veth(gw, '198.51.100.1/24', net, '198.51.100.2/24');
    const g = genKeyPair();
    const c = genKeyPair();
    const gwIf = lab.ifname('g');
    const clIf = lab.ifname('c');
    const gwConf = join(work, `${gwIf}.conf`);
    const clConf = join(work, `${clIf}.conf`);
    writeFileSync(gwConf, `[Interface]\nPrivateKey = ${g.priv}\nAddress = 10.65.0.1/24\nListenPort = 51965\n\n[Peer]\nPublicKey = ${c.pub}\nAllowedIPs = 10.65.0.2/32\n`, { mode: 0o600 });
    writeFileSync(clConf, `[Interface]\nPrivateKey = ${c.priv}\nAddress = 10.65.0.2/24\n\n[Peer]\nPublicKey = ${g.pub}\nAllowedIPs = 10.65.0.0/24, 198.51.100.0/24\nEndpoint = 172.31.65.1:51965\nPersistentKeepalive = 1\n`, { mode: 0o600 });
    const env = { WGTS_QUICK_STATE_DIR: join(work, 'state'), WGTS_FORCE_USERSPACE: '1' };
    const quick = (ns: typeof gw, args: string[]) => ns.run([bin(), 'quick', ...args], { env, check: false });
    lab.defer(() => quick(client, ['down', clConf]));
    lab.defer(() => quick(gw, ['down', gwConf]));

    await gw.run(['iptables', '-P', 'FORWARD', 'DROP']);
    const before = (await gw.run(['iptables', '-S', 'FORWARD'])).stdout;
    const up = await quick(gw, ['up', gwConf, '--nat-via', uplink]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(`[#] iptables -w -I FORWARD -i ${gwIf} -o ${uplink} -m comment --comment wgts nat for ${gwIf} -j ACCEPT`);
    const cup = await quick(client, ['up', clConf]);
    expect(cup.code, cup.stderr).toBe(0);

    // 5 replies within a 20 s deadline (the first waits for the handshake; a loaded machine is slow)
    const ping = await client.run(['ping', '-n', '-c', '5', '-i', '0.2', '-w', '20', '198.51.100.2'], { check: false });
    const state = async () => (await client.run(['wg', 'show'], { check: false })).stdout + (await gw.sh('wg show; iptables -S FORWARD; nft list ruleset', { check: false })).stdout;
    if (!/ 5 received/.test(ping.stdout)) expect(`${ping.stdout}${ping.stderr}\n${await state()}`).toMatch(/ 5 received/);

    const down = await quick(gw, ['down', gwConf]);
    expect(down.code, down.stderr).toBe(0);
    expect((await gw.run(['iptables', '-S', 'FORWARD'])).stdout).toBe(before);
  }, 120_000);
});
