/**
 * `wgts quick reload`: with traffic (reload-suite.ts), and in the harness's namespace for what a
 * ping does not show: the default-route policy switched on and off, a Table change, DNS and
 * --nat-via following the file, a failed reload put back as it was, down leaving nothing.
 */
import { describe, expect, it } from 'vitest';
import { asBefore, genKeyPair, maskVolatile, runScenario, uniqueName, useWgts } from './harness.js';
import { defineReloadSuite } from './reload-suite.js';

defineReloadSuite('userspace');

const bin = useWgts();
const k = genKeyPair();
const p = genKeyPair();
const q = genKeyPair();
const split = `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24\nDNS = 10.9.0.1\nListenPort = 51985\n\n[Peer]\nPublicKey = ${p.pub}\nAllowedIPs = 10.40.0.0/16\nEndpoint = 192.168.77.2:51820\n`;
const full = split
  .replace('Address = 10.9.0.2/24', 'Address = 10.9.0.2/24, fd09::2/64')
  .replace('DNS = 10.9.0.1', 'DNS = 10.9.0.53, corp.example')
  .replace('AllowedIPs = 10.40.0.0/16', 'AllowedIPs = 0.0.0.0/0, ::/0');
const tabled = split.replace('DNS = 10.9.0.1\n', 'Table = wgqtab\n');

/** Shell: put FILE in place of the config, reload with ARGS, then a marked snapshot in $OUT/extra. */
const step = (name: string, file: string, args = ''): string =>
  `cp $(dirname $CONF)/${file} $CONF; ${bin()} quick reload $CONF ${args} 2>> $OUT/extra; echo "## rc ${name} $?" >> $OUT/extra; snapshot >> $OUT/extra; echo "## end ${name}" >> $OUT/extra`;

function section(extra: string, name: string): string {
  return extra.slice(extra.indexOf(`## rc ${name} `), extra.indexOf(`## end ${name}`));
}

describe('wgts quick reload (policy, Table, DNS, NAT)', () => {
  it('switches the default-route policy, the table, DNS and NAT as the file says; back to the start; down leaves nothing', () => {
    const ifname = uniqueName();
    const r = runScenario({
      tool: bin(),
      ifname,
      config: split,
      upArgs: ['--nat-via', 'wgqd0'],
      files: { 'split.conf': split, 'full.conf': full, 'tabled.conf': tabled },
      between: [step('full', 'full.conf'), step('tabled', 'tabled.conf', '--no-nat-via'), step('back', 'split.conf', '--nat-via wgqd0')].join('\n'),
    });
    expect(r.upRc, r.upErr).toBe(0);
    const s2 = section(r.extra, 'full');
    expect(s2).toMatch(/^## rc full 0\n/);
    for (const family of ['## rules4', '## rules6']) {
      const rules = s2.split(family)[1]!.split('##')[0]!;
      expect(rules.match(/not from all fwmark 0xca6c lookup 51820/g)).toHaveLength(1);
      expect(rules.match(/suppress_prefixlength 0/g)).toHaveLength(1);
    }
    expect(s2).toContain(`table ip wg-quick-${ifname}`);
    expect(s2).toContain(`table ip6 wg-quick-${ifname}`);
    expect(s2.match(/^unreachable default/gm)).toHaveLength(2);
    expect(s2).toMatch(/oifname "wgqd0" ip6 saddr fd09::\/64 masquerade/);
    expect(s2).not.toContain('10.40.0.0/16');
    const s3 = section(r.extra, 'tabled');
    expect(s3).toMatch(/^## rc tabled 0\n/);
    expect(s3).not.toMatch(/51820|wg-quick-|wgts-nat-|unreachable default/);
    expect(s3).toContain(`10.40.0.0/16 dev ${ifname} table wgqtab scope link`);
    expect(s3).toContain('net.ipv4.ip_forward = 0');
    const s4 = section(r.extra, 'back');
    expect(s4).toMatch(/^## rc back 0\n/);
    // src_valid_mark stays 1 once the policy was on, as after wg-quick's down
    expect(asBefore(maskVolatile(s4.slice(s4.indexOf('## links'))))).toBe(asBefore(maskVolatile(r.afterUp)));
    // DNS followed the file: registered anew with each change, removed when the file had none
    expect(r.resolvconfLog).toMatch(/nameserver 10\.9\.0\.53\nsearch corp\.example\n/);
    expect(r.resolvconfLog.trimEnd().split('\n').pop()).toMatch(/^resolvconf -d \S+ -f$/);
    expect(r.downRc, r.downErr).toBe(0);
    expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
  });

  it('a failing reload puts the tunnel back as it was, peers included', () => {
    const ifname = uniqueName();
    // fails in its routes step, after peers, an address, the MTU and DNS were changed
    const bad = full.replace('[Peer]', 'MTU = 1300\nTable = nosuchtable\n\n[Peer]').concat(`\n[Peer]\nPublicKey = ${q.pub}\nAllowedIPs = 10.41.0.0/16\n`);
    const r = runScenario({
      tool: bin(),
      ifname,
      config: split,
      files: { 'bad.conf': bad },
      between: [step('bad', 'bad.conf'), 'wg showconf $IF | sed -E "s/^ListenPort = .*/ListenPort = <port>/" > $OUT/showconf2'].join('\n') + '\ncat $OUT/showconf2 >> $OUT/extra',
    });
    expect(r.upRc, r.upErr).toBe(0);
    const s = section(r.extra, 'bad');
    expect(r.extra).toContain("wgts quick: reload step `routes' failed: ");
    expect(r.extra).toContain('the tunnel is as it was before the reload');
    expect(s).toMatch(/^## rc bad (?!0\n)\d+\n/);
    expect(maskVolatile(s.slice(s.indexOf('## links')))).toBe(maskVolatile(r.afterUp));
    expect(r.extra.slice(r.extra.indexOf('## end bad') + '## end bad\n'.length)).toBe(r.showconf);
    expect(r.downRc, r.downErr).toBe(0);
    expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
  });

  it('runs hooks only with --hooks: the old PreDown and PostDown, the new PreUp, the changes, the new PostUp', () => {
    const hooks = (tag: string): string => split.replace('[Peer]', `PreUp = echo ${tag}-preup\nPostUp = echo ${tag}-postup\nPreDown = echo ${tag}-predown\nPostDown = echo ${tag}-postdown\n\n[Peer]`);
    const r = runScenario({
      tool: bin(),
      ifname: uniqueName(),
      config: hooks('old'),
      files: { 'new.conf': hooks('new').replace('Address = 10.9.0.2/24', 'Address = 10.9.0.2/24, 10.9.5.2/24'), 'newer.conf': hooks('newer') },
      between: [
        `cp $(dirname $CONF)/newer.conf $CONF; ${bin()} quick reload $CONF 2> $OUT/plain.err; echo "rc $?" > $OUT/extra`,
        `cp $(dirname $CONF)/new.conf $CONF; ${bin()} quick reload $CONF --hooks 2>> $OUT/extra; echo "rc $?" >> $OUT/extra`,
        'grep -c "^\[#\] echo" $OUT/plain.err >> $OUT/extra',
      ].join('\n'),
    });
    expect(r.upRc, r.upErr).toBe(0);
    const lines = r.extra.split('\n').filter((l) => /^\[#\] (echo|ip -4 address add)|^rc |^\d+$/.test(l));
    // the plain reload ran no hook; the --hooks one ran the hooks of the file in force before it
    // (newer, from the plain reload) around the change
    expect(lines).toEqual([
      'rc 0',
      '[#] echo newer-predown',
      '[#] echo newer-postdown',
      '[#] echo new-preup',
      expect.stringMatching(/^\[#\] ip -4 address add 10\.9\.5\.2\/24 dev /),
      '[#] echo new-postup',
      'rc 0',
      '0',
    ]);
    expect(r.downRc, r.downErr).toBe(0);
    expect(r.downErr).toContain('[#] echo new-predown');
  });

  it('one command at a time per tunnel: a reload while up runs is refused, naming the other', () => {
    const hook = `PreUp = ${bin()} quick reload $OUT/etc/%i.conf 2> $OUT/extra || echo "rc $?" >> $OUT/extra\n`; // hooks run under set -e
    const r = runScenario({ tool: bin(), ifname: uniqueName(), config: split.replace('[Peer]', `${hook}\n[Peer]`) });
    expect(r.upRc, r.upErr).toBe(0);
    expect(r.extra).toMatch(/^wgts quick: another `wgts quick' \(pid \d+\) is working on `\S+'; try again when it is done\nrc 1\n$/);
    expect(r.downRc, r.downErr).toBe(0);
    expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
  });

  it('refuses a tunnel not brought up by wgts quick', () => {
    const r = runScenario({ tool: 'wg-quick', ifname: uniqueName(), config: split, between: `${bin()} quick reload $CONF 2> $OUT/extra; echo "rc $?" >> $OUT/extra` });
    expect(r.extra).toMatch(/wgts quick: `\S+' was not brought up by `wgts quick up' \(no state file\): nothing to reload\nrc 1\n/);
  });
});
