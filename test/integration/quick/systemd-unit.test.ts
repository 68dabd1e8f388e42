/**
 * The wgts-quick@.service command lines, run by hand as systemd would run them for an instance
 * (systemd is not PID 1 here): ExecStart brings the tunnel up from /etc/wireguard/IF.conf (a tmpfs in
 * the test's private mount namespace), ExecReload (`wgts quick reload`) applies an added peer and a
 * removed one without taking the link down, ExecStop removes everything.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, asBefore, genKeyPair, maskVolatile, runScenario, uniqueName, useWgts } from './harness.js';

const bin = useWgts();

function execLine(key: string, ifname: string): string {
  const unit = readFileSync(join(REPO, 'systemd/wgts-quick@.service'), 'utf8');
  const line = unit.split('\n').find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`no ${key} in the unit`);
  return line.slice(key.length + 1).replaceAll('%i', ifname);
}

describe('wgts-quick@.service command lines', () => {
  it('start, reload (peers synced, link kept), stop', () => {
    const [k, a, b] = [genKeyPair(), genKeyPair(), genKeyPair()];
    const ifname = uniqueName();
    const conf = (peers: string): string => `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24\nListenPort = 51996\n\n${peers}`;
    const peerA = `[Peer]\nPublicKey = ${a.pub}\nAllowedIPs = 10.9.1.0/24\n`;
    const peerB = `[Peer]\nPublicKey = ${b.pub}\nAllowedIPs = 10.9.2.0/24\n`;
    const path = `PATH=${dirname(bin())}:$PATH`;
    const r = runScenario({
      tool: 'true', // the harness's own up/down do nothing: the unit's lines do the work
      ifname,
      config: conf(peerA),
      files: { 'next.conf': conf(peerB) },
      setup: `mount -t tmpfs tmpfs /etc/wireguard && cp $CONF /etc/wireguard/`,
      between: [
        `export ${path} WG_ENDPOINT_RESOLUTION_RETRIES=infinity`,
        `${execLine('ExecStart', ifname)} 2>/dev/null`,
        'idx=$(cat /sys/class/net/$IF/ifindex)',
        'cp $(dirname $CONF)/next.conf /etc/wireguard/$IF.conf',
        `${execLine('ExecReload', ifname)}`,
        'echo "peers: $(wg show $IF peers)" > $OUT/extra',
        'echo "same link: $([ "$idx" = "$(cat /sys/class/net/$IF/ifindex)" ] && echo yes)" >> $OUT/extra',
        'echo "port: $(wg show $IF listen-port)" >> $OUT/extra',
        `${execLine('ExecStop', ifname)} 2>/dev/null`,
      ].join('\n'),
    });
    expect(r.extra).toBe(`peers: ${b.pub}\nsame link: yes\nport: 51996\n`);
    expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
  });
});
