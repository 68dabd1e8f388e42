/**
 * `wgts quick` runs no `ip`: every wgts invocation runs where each `ip` binary is
 * bind-mounted over by a recorder that logs and fails (harness `noIp`). The tunnels must still come
 * up and down leaving the same state as wg-quick (which runs the real `ip`), errors must read as ip's
 * and carry its exit status, rollback must still undo everything, and a state file written by the
 * previous version (undo entries as `ip` argv lists) must still come down — all with no `ip` call.
 * Shared by the host run (no-ip.test.ts, wgts-userspace) and the kernel VM (test/kernel/quick.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { asBefore, genKeyPair, maskVolatile, runScenario, uniqueName, useWgts, type RunResult } from './harness.js';
import { normalizeUp, withoutFallback } from './normalize.js';

/** Turns the typed undo entries of every state file back into the argv entries older wgts wrote. */
const OLD_JOURNAL = String.raw`"${process.execPath}" -e '
const fs = require("fs"); const dir = process.env.WGTS_QUICK_STATE_DIR; let n = 0;
for (const f of fs.readdirSync(dir)) {
  const p = dir + "/" + f; const s = JSON.parse(fs.readFileSync(p, "utf8"));
  s.journal = s.journal.map((a) => {
    if (a.kind === "link-delete") { n++; return { kind: "cmd", step: a.step, argv: ["ip", "link", "delete", "dev", a.ifname] }; }
    if (a.kind === "rule-delete") { n++; return { kind: "cmd", step: a.step, bestEffort: true,
      argv: ["ip", a.family === 4 ? "-4" : "-6", "rule", "delete", "pref", String(a.priority), "table", a.table === 254 ? "main" : String(a.table)] }; }
    return a;
  });
  fs.writeFileSync(p, JSON.stringify(s));
}
fs.writeFileSync(process.env.OUT + "/extra", "converted " + n + "\n");'`;

export function defineNoIpSuite(backend: 'userspace' | 'kernel'): void {
  const bin = useWgts();
  const timeout = backend === 'kernel' ? 900_000 : 60_000;
  // wgts-userspace for wgts on the host (wg-quick keeps wireguard-go); the module in the VM
  const impl = backend === 'userspace' ? { impl: null } : {};
  const k = genKeyPair();
  const p = [genKeyPair(), genKeyPair()];
  const fullTunnel = (extra = ''): string =>
    `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24, fd09::2/64\nDNS = 10.9.0.1, corp.example\n${extra}\n` +
    `[Peer]\nPublicKey = ${p[0]!.pub}\nAllowedIPs = 0.0.0.0/0, ::/0, 10.40.0.0/16\nEndpoint = 192.168.77.2:51820\n\n` +
    `[Peer]\nPublicKey = ${p[1]!.pub}\nAllowedIPs = 172.16.5.0/24, fd10::/64\n`;

  const noIpCalls = (r: RunResult): void => {
    expect(r.ipCalls, 'ip was run by wgts').toBe('');
    expect(r.trapCheck, 'the ip trap records and fails').toBe('ip -V\nrc=1\n');
  };

  describe(`wgts quick runs no ip (${backend})`, () => {
    for (const [name, config, save] of [
      ['full tunnel v4+v6 default route, DNS, auto MTU, routes beside the connected one; save', fullTunnel(), true],
      ['named table from rt_tables.d, explicit MTU', fullTunnel('Table = wgqtab\nMTU = 1380'), false],
    ] as const) {
      it(`${name}: same state and narration as wg-quick`, () => {
        const ifname = uniqueName();
        const ref = runScenario({ tool: 'wg-quick', ifname, config, save });
        const ours = runScenario({ tool: bin(), ifname, config, save, noIp: true, ...impl });
        noIpCalls(ours);
        expect(ref.upRc, ref.upErr).toBe(0);
        expect(ours.upRc, ours.upErr).toBe(0);
        expect(maskVolatile(withoutFallback(ours.afterUp))).toBe(maskVolatile(ref.afterUp));
        expect(normalizeUp(ours.upErr, 'wgts')).toEqual(normalizeUp(ref.upErr, 'debian'));
        expect(ours.downRc, ours.downErr).toBe(0);
        expect(maskVolatile(ours.afterDown)).toBe(maskVolatile(ref.afterDown));
        expect(asBefore(maskVolatile(ours.afterDown))).toBe(asBefore(maskVolatile(ours.before)));
        if (save) {
          // a TUN has an IPv6 link-local address (saved, as wg-quick does); a kernel WireGuard link has none
          const linkLocal = backend === 'userspace' ? ['Address = fe80::<ll>/64'] : [];
          for (const line of ['Address = 10.9.0.2/24', 'Address = fd09::2/64', ...linkLocal]) {
            expect(maskVolatile(ours.saved).split('\n')).toContain(line);
            expect(maskVolatile(ref.saved).split('\n')).toContain(line);
          }
        }
      }, timeout);
    }

    // each refused by ip (its parser or the kernel); the first on every backend, MTU 70000 on a TUN
    for (const [what, config, narration] of [
      ['a bad Address', fullTunnel().replace('10.9.0.2/24, ', '10.9.0.2/24, 10.9.0.300/24, '), 'ip -4 address add 10.9.0.300/24 dev'],
      ['an unknown table name', fullTunnel('Table = nosuchtable'), 'ip -6 route add fd10::/64 dev'],
      ['an MTU that is not a number', fullTunnel('MTU = 14x0'), 'ip link set mtu 14x0 up dev'],
      ['an MTU above the maximum', fullTunnel('MTU = 70000'), 'ip link set mtu 70000 up dev'],
    ] as const) {
      it(`${what} fails as ip does (message, exit status) and is rolled back`, () => {
        const ifname = uniqueName();
        const ref = runScenario({ tool: 'wg-quick', ifname, config, noDown: true });
        const ours = runScenario({ tool: bin(), ifname, config, noDown: true, noIp: true, ...impl });
        noIpCalls(ours);
        // what follows the narration of the failing command, up to the next narration
        const said = (err: string): string | undefined => new RegExp(`\\[#\\] ${narration} ${ifname}[^\\n]*\\n((?:(?!\\[#\\]).*\\n)*)`).exec(err)?.[1];
        if (backend === 'kernel' && ref.upRc === 0) return; // the module accepts MTU 70000
        expect(ref.upRc, ref.upErr).not.toBe(0);
        expect(said(ref.upErr), ref.upErr).toMatch(/^(Error|RTNETLINK)/);
        expect(said(ours.upErr), ours.upErr).toBe(said(ref.upErr)!.split('\n[#]')[0]);
        expect(ours.upRc).toBe(ref.upRc);
        expect(ours.upErr).toContain(`[#] ip link delete dev ${ifname}\n`);
        expect(maskVolatile(ours.afterUp)).toBe(maskVolatile(ours.before));
      }, timeout);
    }

    it('a failing PostUp rolls everything back (rules, routes, firewall, DNS, link)', () => {
      const r = runScenario({ tool: bin(), ifname: uniqueName(), config: fullTunnel('PostUp = exit 3'), noDown: true, noIp: true, ...impl });
      noIpCalls(r);
      expect(r.upRc).toBe(3);
      expect(r.upErr).toMatch(/step `PostUp' failed: .+; everything done before it was undone/);
      expect(r.upErr).toMatch(/\[#\] ip -4 rule delete pref 32765 table 51820\n/);
      expect(maskVolatile(r.afterUp)).toBe(maskVolatile(r.before));
    }, timeout);

    it('WGTS_FORCE_USERSPACE=1 makes the userspace implementation create the link, kernel module or not', () => {
      const r = runScenario({
        tool: bin(),
        ifname: uniqueName(),
        config: fullTunnel(),
        noIp: true,
        impl: null,
        env: { WGTS_FORCE_USERSPACE: '1' },
        between: 'ip -d -o link show dev $IF > $OUT/extra',
      });
      noIpCalls(r);
      expect(r.upRc, r.upErr).toBe(0);
      expect(r.upErr).toMatch(/^\[!\] WGTS_FORCE_USERSPACE=1: using the userspace implementation, not the kernel module\.\n\[#\] wgts-userspace /m);
      expect(r.upErr).not.toContain('[#] ip link add');
      expect(r.extra).toMatch(/\btun\b/);
      expect(r.extra).not.toMatch(/\bwireguard\b/);
      expect(r.downRc, r.downErr).toBe(0);
      expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
    }, timeout);

    it('a tunnel whose state file holds the old ip argv undo entries comes down without ip', () => {
      const r = runScenario({ tool: bin(), ifname: uniqueName(), config: fullTunnel(), between: OLD_JOURNAL, noIp: true, ...impl });
      noIpCalls(r);
      expect(r.upRc, r.upErr).toBe(0);
      expect(r.extra).toBe('converted 5\n'); // the link and two rules per family
      expect(r.downRc, r.downErr).toBe(0);
      expect(r.downErr).toMatch(/\[#\] ip -6 rule delete pref 32764 table main\n/);
      expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
    }, timeout);
  });
}
