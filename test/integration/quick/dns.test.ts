/**
 * DNS beyond the resolvconf path the differential corpus covers: systemd-resolved through resolvectl
 * when there is no resolvconf, and a clear refusal (nothing created) when there is neither.
 */
import { describe, expect, it } from 'vitest';
import { asBefore, genKeyPair, maskVolatile, runScenario, uniqueName, useWgts } from './harness.js';

const bin = useWgts();
const k = genKeyPair();
const p = genKeyPair();
const config = `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24\nDNS = 10.9.0.1, fd09::1, corp.example\n\n[Peer]\nPublicKey = ${p.pub}\nAllowedIPs = 10.9.0.0/24\n`;

describe('wgts quick DNS', () => {
  it('uses resolvectl when resolvconf is absent, and reverts on down', () => {
    const ifname = uniqueName();
    const r = runScenario({ tool: bin(), ifname, config, hide: ['resolvconf'], resolvconf: 'absent', fakeResolvectl: true });
    expect(r.upRc, r.upErr).toBe(0);
    expect(r.resolvconfLog, r.upErr + r.downErr).toBe(
      `resolvectl dns ${ifname} 10.9.0.1 fd09::1\nresolvectl domain ${ifname} ~. corp.example\nresolvectl default-route ${ifname} yes\nresolvectl revert ${ifname}\n`,
    );
    expect(r.downRc).toBe(0);
    expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
  });

  it('save keeps the nameservers and search domains set through resolvectl', () => {
    const ifname = uniqueName();
    const r = runScenario({ tool: bin(), ifname, config, hide: ['resolvconf'], resolvconf: 'absent', fakeResolvectl: true, save: true });
    expect(r.upRc, r.upErr).toBe(0);
    expect(r.saved).toContain('\nDNS = 10.9.0.1\nDNS = fd09::1\nDNS = corp.example\n');
    expect(r.downRc, r.downErr).toBe(0);
  });

  it('refuses to start, creating nothing, when neither resolvconf nor resolvectl exists', () => {
    const r = runScenario({ tool: bin(), ifname: uniqueName(), config, hide: ['resolvconf', 'resolvectl'], resolvconf: 'absent', noDown: true });
    expect(r.upRc).toBe(1);
    expect(r.upErr).toBe('wgts quick: DNS is set, but neither resolvconf nor resolvectl (systemd-resolved) is available\n');
    expect(r.afterUp).toBe(r.before);
  });
});
