/**
 * `wgts quick` with its default userspace implementation, `wgts-userspace` (found beside `wgts`, as
 * wg-quick finds programs beside itself): up creates the device through it, `wg` (the real one) reads
 * the configuration back, down deletes the link, the daemon exits and its socket goes away; the
 * namespace ends as it began. Compared with wg-quick + wireguard-go on the same config for the
 * routing/firewall state (the link line itself differs between TUN implementations: qlen, flags).
 */
import { describe, expect, it } from 'vitest';
import { asBefore, genKeyPair, maskVolatile, runScenario, uniqueName, useWgts } from './harness.js';
import { withoutFallback } from './normalize.js';

const bin = useWgts();

function withoutLinks(s: string): string {
  return s.replace(/^## links\n[\s\S]*?(?=^## )/m, '');
}

describe('wgts quick with wgts-userspace (the default)', () => {
  it('up, wg reads it back, down stops the daemon; state as wg-quick + wireguard-go', () => {
    const k = genKeyPair();
    const p = genKeyPair();
    const ifname = uniqueName();
    const config = `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24, fd09::2/64\nListenPort = 51995\n\n[Peer]\nPublicKey = ${p.pub}\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 192.168.77.2:51820\n`;
    const between = 'wg showconf $IF > $OUT/extra 2>&1';
    const ours = runScenario({ tool: bin(), ifname, config, impl: null, between, after: 'sleep 0.3; ls /run/wireguard >> $OUT/extra' });
    const ref = runScenario({ tool: 'wg-quick', ifname, config, impl: 'wireguard-go' });
    expect(ours.upRc, ours.upErr).toBe(0);
    expect(ours.upErr).toContain(`[#] wgts-userspace ${ifname}\n`);
    expect(ours.extra).toContain(`ListenPort = 51995\nFwMark = 0xca6c\nPrivateKey = ${k.priv}\n`);
    expect(ours.extra).toContain(`PublicKey = ${p.pub}\n`);
    expect(withoutLinks(maskVolatile(withoutFallback(ours.afterUp)))).toBe(withoutLinks(maskVolatile(ref.afterUp)));
    expect(ours.downRc, ours.downErr).toBe(0);
    expect(ours.extra).not.toContain('.sock');
    expect(asBefore(maskVolatile(ours.afterDown))).toBe(asBefore(maskVolatile(ours.before)));
  });
});
