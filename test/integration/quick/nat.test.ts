/**
 * `wgts quick up --nat-via IFACE` (beyond wg-quick): forwarding on and masquerade of the tunnel's
 * subnets out of IFACE on up, all of it gone on down; never duplicated; with nft or, when nft is
 * absent, iptables; forwarding kept while another NAT tunnel still needs it.
 */
import { describe, expect, it } from 'vitest';
import { asBefore, genKeyPair, maskVolatile, runScenario, uniqueName, useWgts } from './harness.js';

const bin = useWgts();

const k = genKeyPair();
const p = genKeyPair();
const server = `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.8.0.1/24, fd08::1/64\nListenPort = 51990\n\n[Peer]\nPublicKey = ${p.pub}\nAllowedIPs = 10.8.0.2/32, fd08::2/128\n`;

describe('wgts quick up --nat-via', () => {
  it('nft: forwarding and masquerade on up, removed on down, a second up does not duplicate', () => {
    const ifname = uniqueName();
    const r = runScenario({
      tool: bin(),
      ifname,
      config: server,
      upArgs: ['--nat-via', 'wgqd0'],
      // a repeated up is refused (the link exists) and must not add a second copy of anything
      between: `${bin()} quick up $CONF --nat-via wgqd0 2>/dev/null; nft list ruleset > $CONF.nft2`,
    });
    expect(r.upRc, r.upErr).toBe(0);
    expect(r.afterUp).toContain(`table inet wgts-nat-${ifname} {`);
    expect(r.afterUp).toMatch(/oifname "wgqd0" ip saddr 10\.8\.0\.0\/24 masquerade/);
    expect(r.afterUp).toMatch(/oifname "wgqd0" ip6 saddr fd08::\/64 masquerade/);
    expect(r.afterUp).toContain('net.ipv4.ip_forward = 1');
    expect(r.afterUp).toContain('net.ipv6.conf.all.forwarding = 1');
    expect(r.upErr).toContain('[#] sysctl -q net.ipv4.ip_forward=1');
    expect(r.afterUp.match(/masquerade/g)).toHaveLength(2);
    expect(r.downRc, r.downErr).toBe(0);
    expect(maskVolatile(r.afterDown)).toBe(maskVolatile(r.before));
  });

  it('iptables when nft is absent; same cleanup', () => {
    const ifname = uniqueName();
    const r = runScenario({ tool: bin(), ifname, config: server, upArgs: ['--nat-via', 'wgqd0'], nft: 'hidden' });
    expect(r.upRc, r.upErr).toBe(0);
    expect(r.afterUp).toContain(`-A POSTROUTING -s 10.8.0.0/24 -o wgqd0 -m comment --comment "wgts nat for ${ifname}" -j MASQUERADE`);
    expect(r.afterUp).toContain(`-A POSTROUTING -s fd08::/64 -o wgqd0 -m comment --comment "wgts nat for ${ifname}" -j MASQUERADE`);
    expect(r.downRc, r.downErr).toBe(0);
    expect(r.afterDown).not.toContain('MASQUERADE');
    expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
  });

  it('forwarding stays on while a second NAT tunnel is up, and goes back when the last one goes down', () => {
    const ifname = uniqueName();
    const other = uniqueName();
    const q = genKeyPair();
    const otherConf = `[Interface]\nPrivateKey = ${q.priv}\nAddress = 10.7.0.1/24\nListenPort = 51991\n`;
    const r = runScenario({
      tool: bin(),
      ifname,
      config: server,
      upArgs: ['--nat-via', 'wgqd0'],
      files: { [`${other}.conf`]: otherConf },
      between: `${bin()} quick up $(dirname $CONF)/${other}.conf --nat-via wgqd0 2>/dev/null`,
      // after our down (the harness's), the other tunnel still holds ip_forward; then it goes down too
      after: `${bin()} quick down $(dirname $CONF)/${other}.conf 2>/dev/null; sysctl net.ipv4.ip_forward > $OUT/extra`,
    });
    expect(r.upRc).toBe(0);
    expect(r.downRc, r.downErr).toBe(0);
    expect(r.afterDown).toContain('net.ipv4.ip_forward = 1');
    expect(r.afterDown).toContain(`table inet wgts-nat-${other}`);
    expect(r.afterDown).not.toContain(`table inet wgts-nat-${ifname}`);
    // the last NAT tunnel down puts forwarding back as it was before the first one came up
    expect(r.extra).toBe('net.ipv4.ip_forward = 0\n');
  });

  it('refuses an unknown --nat-via interface before creating anything', () => {
    const r = runScenario({ tool: bin(), ifname: uniqueName(), config: server, upArgs: ['--nat-via', 'nosuchif0'], noDown: true });
    expect(r.upRc).toBe(1);
    expect(r.upErr).toContain("--nat-via: interface `nosuchif0' does not exist");
    expect(r.afterUp).toBe(r.before);
  });
});
