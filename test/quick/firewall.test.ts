import { describe, expect, it } from 'vitest';
import { iptablesScript, nftScript } from '../../src/quick/firewall.js';

describe('firewall scripts (wg-quick add_default)', () => {
  it('nft: table, three chains, anti-spoof per address, mark save/restore', () => {
    expect(nftScript('ip6', 'wg0', 51820, ['fd00::2', 'fe80::1'])).toBe(
      'add table ip6 wg-quick-wg0\n' +
        'add chain ip6 wg-quick-wg0 preraw { type filter hook prerouting priority -300; }\n' +
        'add chain ip6 wg-quick-wg0 premangle { type filter hook prerouting priority -150; }\n' +
        'add chain ip6 wg-quick-wg0 postmangle { type filter hook postrouting priority -150; }\n' +
        'add rule ip6 wg-quick-wg0 preraw iifname != "wg0" ip6 daddr fd00::2 fib saddr type != local drop\n' +
        'add rule ip6 wg-quick-wg0 preraw iifname != "wg0" ip6 daddr fe80::1 fib saddr type != local drop\n' +
        'add rule ip6 wg-quick-wg0 postmangle meta l4proto udp mark 51820 ct mark set mark\n' +
        'add rule ip6 wg-quick-wg0 premangle meta l4proto udp meta mark set ct mark\n',
    );
  });

  it('iptables-restore: raw + mangle with the wg-quick comment, -D mirrors -I', () => {
    const ins = iptablesScript('wg0', 51820, ['10.0.0.2'], '-I');
    expect(ins).toBe(
      '*raw\n-I PREROUTING ! -i wg0 -d 10.0.0.2 -m addrtype ! --src-type LOCAL -j DROP -m comment --comment "wg-quick(8) rule for wg0"\nCOMMIT\n' +
        '*mangle\n-I POSTROUTING -m mark --mark 51820 -p udp -j CONNMARK --save-mark -m comment --comment "wg-quick(8) rule for wg0"\n' +
        '-I PREROUTING -p udp -j CONNMARK --restore-mark -m comment --comment "wg-quick(8) rule for wg0"\nCOMMIT\n',
    );
    expect(iptablesScript('wg0', 51820, ['10.0.0.2'], '-D')).toBe(ins.replace(/^-I /gm, '-D '));
  });
});
