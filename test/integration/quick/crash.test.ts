/**
 * Crash safety of `wgts quick` (issue: journal on disk as each step takes effect):
 * - `up` killed outright (SIGKILL) at points of its run — in PreUp, right after the NAT table was
 *   made, in PostUp — then `down` removes everything: policy rules, nft tables, --nat-via forwarding
 *   and masquerade, DNS (fake resolvconf in the harness's private mount namespace), the link;
 * - the userspace daemon killed: the link is gone, `down` still removes what the journal names, and
 *   meanwhile the full tunnel drops traffic instead of sending it out of the physical interface;
 * - `up` after a killed run clears that run's leftovers first: no duplicated rules or tables;
 * - `reload` killed after it switched the default-route policy on: `down` removes what the reload
 *   added too, and another reload refuses to guess.
 */
import { describe, expect, it } from 'vitest';
import { asBefore, genKeyPair, maskVolatile, runScenario, uniqueName, useWgts } from './harness.js';

const bin = useWgts();
const k = genKeyPair();
const p = genKeyPair();

/** A full tunnel with DNS, whose hooks are `extra` lines. */
const full = (extra = ''): string =>
  `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24, fd09::2/64\nDNS = 10.9.0.1, corp.example\nListenPort = 51980\n${extra}\n[Peer]\nPublicKey = ${p.pub}\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 192.168.77.2:51820\n`;

/** Kills the userspace daemon of $IF (started by this scenario, found by its unique name) and waits for its link to go. */
const KILL_DAEMON = String.raw`
for d in /proc/[0-9]*; do
  [[ $(tr '\0' ' ' < $d/cmdline 2>/dev/null) == *"wgts-userspace $IF "* ]] && kill -KILL ${'$'}{d#/proc/}
done
for i in $(seq 200); do [ -e /sys/class/net/$IF ] || break; sleep 0.05; done
`;

/** An `nft` on PATH that kills its caller (wgts) right after the --nat-via table was made. */
const KILL_AFTER_NAT = String.raw`
mkdir -p $OUT/killbin
real=$(command -v nft)
cat > $OUT/killbin/nft <<EOF
#!/bin/bash
in=\$(cat)
printf '%s' "\$in" | $real "\$@"; rc=\$?
[[ \$in == *masquerade* ]] && kill -KILL \$PPID
exit \$rc
EOF
chmod +x $OUT/killbin/nft
export PATH=$OUT/killbin:$PATH
`;

interface Kill {
  name: string;
  config: string;
  setup?: string;
}

const KILLS: Kill[] = [
  { name: 'in PreUp (only the link exists)', config: full('PreUp = kill -KILL $PPID') },
  { name: 'right after the NAT table was made', config: full(), setup: KILL_AFTER_NAT },
  { name: 'in PostUp', config: full('PostUp = kill -KILL $PPID') },
];

describe('wgts quick after a crash', () => {
  for (const kill of KILLS) {
    it(`up killed ${kill.name}: down removes everything, NAT and DNS included`, () => {
      const r = runScenario({
        tool: bin(),
        ifname: uniqueName(),
        config: kill.config,
        impl: null,
        upArgs: ['--nat-via', 'wgqd0'],
        ...(kill.setup ? { setup: kill.setup } : {}),
      });
      expect(r.upRc).toBe(137);
      expect(r.downRc, r.downErr).toBe(0);
      if (kill.name !== 'in PreUp (only the link exists)') {
        expect(r.afterUp).toContain('table inet wgts-nat-');
        expect(r.afterUp).toContain('net.ipv4.ip_forward = 1');
      }
      if (kill.name === 'in PostUp') {
        expect(r.afterUp).toMatch(/not from all fwmark 0xca6c lookup 51820/);
        expect(r.resolvconfLog).toMatch(/resolvconf -d \S+ -f\n$/);
      }
      expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
    });
  }

  it('the userspace daemon killed: the full tunnel drops traffic, down works from the journal', () => {
    const ifname = uniqueName();
    const r = runScenario({
      tool: bin(),
      ifname,
      config: full(),
      impl: null,
      upArgs: ['--nat-via', 'wgqd0'],
      // a permanent neighbour for the uplink's gateway: a leaked packet would really leave by wgqd0
      // (to wgqd1, in this namespace, which drops it), so the capture on wgqd1 would see it
      setup: 'ip neigh replace 192.168.77.254 lladdr 02:00:00:00:00:fe dev wgqd0 nud permanent',
      between: [
        KILL_DAEMON,
        'echo "link: $([ -e /sys/class/net/$IF ] && echo present || echo gone)" > $OUT/extra',
        '{ ip -4 route get 203.0.113.7 2>&1; ip -6 route get 2001:db8::7 2>&1; } >> $OUT/extra',
        // capture what leaves by the uplink while a ping tries the tunnel's default route
        'timeout 10 tcpdump -l -c 1 -ni wgqd1 "host 203.0.113.7" > $OUT/capture 2>/dev/null & cap=$!',
        'for i in $(seq 100); do [[ $(cat /proc/net/packet 2>/dev/null | wc -l) -gt 1 ]] && break; sleep 0.05; done',
        'ping -c 3 -i 0.2 -W 1 203.0.113.7 >> $OUT/extra 2>&1; echo "ping: $?" >> $OUT/extra',
        'kill $cap 2>/dev/null; wait $cap 2>/dev/null; echo "captured: $(grep -c 203.0.113.7 $OUT/capture)" >> $OUT/extra',
      ].join('\n'),
    });
    expect(r.upRc, r.upErr).toBe(0);
    expect(r.extra).toContain('link: gone');
    // route lookups: unreachable (the fallback), not `via 192.168.77.254 dev wgqd0` (a leak)
    expect(r.extra).not.toMatch(/dev wgqd0/);
    expect(r.extra).toMatch(/^RTNETLINK answers: .*unreachable.*$|^RTNETLINK answers: No route to host$/im);
    expect(r.extra).toContain('captured: 0');
    expect(r.extra).not.toContain('ping: 0');
    expect(r.downRc, r.downErr).toBe(0);
    expect(r.downErr).toContain(`[!] ${ifname} is gone`);
    expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
  });

  it('wg-quick, for comparison, leaks: its rules fall through to the main table once the device is gone', () => {
    const r = runScenario({
      tool: 'wg-quick',
      ifname: uniqueName(),
      config: full(),
      between: 'ip link delete dev $IF; ip -4 route get 203.0.113.7 > $OUT/extra 2>&1',
      noDown: true,
    });
    expect(r.upRc, r.upErr).toBe(0);
    expect(r.extra).toMatch(/^203\.0\.113\.7 via 192\.168\.77\.254 dev wgqd0/);
  });

  it('up after a killed up and a dead daemon clears the leftovers first: nothing duplicated', () => {
    const ifname = uniqueName();
    const r = runScenario({
      tool: bin(),
      ifname,
      // killed in PostUp the first time only
      config: full('PostUp = [ -e $OUT/once ] || { touch $OUT/once; kill -KILL $PPID; }'),
      impl: null,
      upArgs: ['--nat-via', 'wgqd0'],
      between: [
        KILL_DAEMON,
        `${bin()} quick up $CONF --nat-via wgqd0 2> $OUT/up2.err; echo "rc: $?" > $OUT/extra`,
        'cat $OUT/up2.err >> $OUT/extra',
        'snapshot >> $OUT/extra',
      ].join('\n'),
    });
    expect(r.upRc).toBe(137);
    expect(r.extra, r.extra).toMatch(/^rc: 0\n/);
    expect(r.extra).toContain(`[!] Removing what an earlier \`up' of ${ifname} left behind`);
    const state = r.extra.slice(r.extra.indexOf('## links'));
    for (const family of ['## rules4', '## rules6']) {
      const section = state.split(family)[1]!.split('##')[0]!;
      expect(section.match(/suppress_prefixlength 0/g)).toHaveLength(1);
      expect(section.match(/lookup 51820/g)).toHaveLength(1);
    }
    expect(state.match(/table inet wgts-nat-/g)).toHaveLength(1);
    expect(state.match(/table ip wg-quick-/g)).toHaveLength(1);
    expect(state.match(/unreachable default/g)).toHaveLength(2);
    expect(r.downRc, r.downErr).toBe(0);
    expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
  });

  it('reload killed after switching the policy on: down removes it all, a second reload refuses', () => {
    const ifname = uniqueName();
    const split = full().replace('AllowedIPs = 0.0.0.0/0, ::/0', 'AllowedIPs = 10.40.0.0/16');
    const r = runScenario({
      tool: bin(),
      ifname,
      config: split,
      upArgs: ['--nat-via', 'wgqd0'],
      files: { 'full.conf': full('PostUp = kill -KILL $PPID') },
      between: [
        `cp $(dirname $CONF)/full.conf $CONF; ${bin()} quick reload $CONF --hooks 2>/dev/null; echo "rc $?" > $OUT/extra`,
        `${bin()} quick reload $CONF 2>> $OUT/extra; echo "rc $?" >> $OUT/extra`,
        'snapshot >> $OUT/extra',
      ].join('\n'),
    });
    expect(r.upRc, r.upErr).toBe(0);
    expect(r.extra).toMatch(/^rc 137\nwgts quick: an earlier reload of `\S+' did not finish: use `down', then `up'\nrc 1\n/);
    expect(r.extra).toContain(`table ip wg-quick-${ifname}`);
    expect(r.extra).toMatch(/not from all fwmark 0xca6c lookup 51820/);
    expect(r.downRc, r.downErr).toBe(0);
    expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
  });
});
