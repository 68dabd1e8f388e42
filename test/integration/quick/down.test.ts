/**
 * `down` removes exactly what `up` added: another tunnel's policy rules survive (wg-quick's down
 * deletes every `suppress_prefixlength 0` rule), and tunnels brought up by one tool come down cleanly
 * with the other (wgts falls back to wg-quick's own teardown when it has no journal).
 */
import { describe, expect, it } from 'vitest';
import { asBefore, genKeyPair, maskVolatile, runScenario, uniqueName, useWgts } from './harness.js';
import { withoutFallback } from './normalize.js';

const bin = useWgts();
const fullTunnel = (priv: string, pub: string, addr: string, port: number): string =>
  `[Interface]\nPrivateKey = ${priv}\nAddress = ${addr}\nListenPort = ${port}\n\n[Peer]\nPublicKey = ${pub}\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 192.168.77.2:51820\n`;

describe('wgts quick down', () => {
  it("keeps another tunnel's rules", () => {
    const [a, b, p] = [genKeyPair(), genKeyPair(), genKeyPair()];
    const ifname = uniqueName();
    const other = uniqueName();
    const r = runScenario({
      tool: bin(),
      ifname,
      config: fullTunnel(a.priv, p.pub, '10.9.0.2/24, fd09::2/64', 51993),
      files: { [`${other}.conf`]: fullTunnel(b.priv, p.pub, '10.19.0.2/24, fd19::2/64', 51994) },
      between: `${bin()} quick up $(dirname $CONF)/${other}.conf 2>/dev/null`,
      after: `${bin()} quick down $(dirname $CONF)/${other}.conf 2>/dev/null; ip -4 rule > $OUT/extra; ip -6 rule >> $OUT/extra`,
    });
    expect(r.upRc, r.upErr).toBe(0);
    expect(r.downRc, r.downErr).toBe(0);
    // after our down: the other tunnel (table 51821) still has its two rules per family
    for (const family of ['## rules4', '## rules6']) {
      const section = r.afterDown.split(family)[1]!.split('##')[0]!;
      expect(section).toContain('not from all fwmark 0xca6d lookup 51821');
      expect(section.match(/suppress_prefixlength 0/g)).toHaveLength(1);
      expect(section).not.toContain('51820');
    }
    expect(r.afterDown).toContain(`table ip wg-quick-${other}`);
    expect(r.afterDown).not.toContain(`table ip wg-quick-${ifname}`);
    // and after the other's down, nothing is left
    expect(r.extra).not.toMatch(/suppress_prefixlength|lookup 5182/);
  });

  it('takes down a tunnel that wg-quick brought up, and wg-quick takes down one of ours', () => {
    const [a, p] = [genKeyPair(), genKeyPair()];
    const ifname = uniqueName();
    const config = fullTunnel(a.priv, p.pub, '10.9.0.2/24, fd09::2/64', 51992).replace('[Peer]', 'DNS = 10.9.0.1\n\n[Peer]');
    const mixed = [
      runScenario({ tool: 'wg-quick', ifname, config, noDown: true, between: `${bin()} quick down $CONF 2>$OUT/extra` }),
      runScenario({ tool: bin(), ifname, config, noDown: true, between: 'wg-quick down $CONF 2>$OUT/extra' }),
    ];
    for (const r of mixed) {
      expect(r.upRc, r.upErr).toBe(0);
      expect(r.afterUp).toContain('lookup 51820');
      // the `tun.` prefix exists only where /etc/resolvconf/interface-order does
      expect(r.resolvconfLog).toMatch(new RegExp(`resolvconf -d (tun\\.)?${ifname} -f\n$`));
    }
    expect(asBefore(maskVolatile(mixed[0]!.afterDown)), mixed[0]!.extra).toBe(asBefore(maskVolatile(mixed[0]!.before)));
    // wg-quick does not know wgts' unreachable fallback (in a table no rule points at any more): it
    // stays until the next `wgts quick up` or `down` of the tunnel clears it from the journal
    const [, ours] = mixed;
    expect(ours!.afterDown).toMatch(/^unreachable default table 51820 metric 4294967295/m);
    expect(asBefore(maskVolatile(withoutFallback(ours!.afterDown))), ours!.extra).toBe(asBefore(maskVolatile(ours!.before)));
  });
});
