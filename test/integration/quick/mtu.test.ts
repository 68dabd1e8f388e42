/**
 * Auto MTU follows upstream wg-quick (delta D6 in normalize.ts): the SMALLEST MTU of the routes to
 * the endpoints, minus 80; Debian's wg-quick takes the largest. Endpoint A's route is the 1400 link,
 * endpoint B's route carries `mtu 1300`.
 */
import { describe, expect, it } from 'vitest';
import { genKeyPair, runScenario, uniqueName, useWgts } from './harness.js';

const bin = useWgts();

describe('auto MTU', () => {
  it('smallest endpoint-route MTU - 80 (upstream); Debian wg-quick: largest', () => {
    const [k, a, b] = [genKeyPair(), genKeyPair(), genKeyPair()];
    const ifname = uniqueName();
    const config = `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24\n\n[Peer]\nPublicKey = ${a.pub}\nAllowedIPs = 10.9.1.0/24\nEndpoint = 192.168.77.2:51820\n\n[Peer]\nPublicKey = ${b.pub}\nAllowedIPs = 10.9.2.0/24\nEndpoint = 192.168.88.2:51820\n`;
    const setup = 'ip route add 192.168.88.0/24 via 192.168.77.254 dev wgqd0 mtu 1300';
    const ours = runScenario({ tool: bin(), ifname, config, setup });
    const debian = runScenario({ tool: 'wg-quick', ifname, config, setup });
    expect(ours.upErr).toContain(`[#] ip link set mtu 1220 up dev ${ifname}\n`);
    expect(debian.upErr).toContain(`[#] ip link set mtu 1320 up dev ${ifname}\n`);
    expect(ours.downRc).toBe(0);
  });
});
