/**
 * The wgts-quick@.service command lines, run by hand as systemd would run them for an instance
 * (systemd is not PID 1 here): ExecStart brings the tunnel up from /etc/wireguard/IF.conf (a tmpfs in
 * the test's private mount namespace), ExecReload (`wgts quick reload`) applies an added peer and a
 * removed one without taking the link down, ExecStop removes everything. Options
 * for `up` come from /etc/default/wgts-quick-IF (here --nat-via), read as systemd reads it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, asBefore, genKeyPair, maskVolatile, runScenario, uniqueName, useWgts } from './harness.js';

const bin = useWgts();

/** The value of the unit's first `key=` line (starting with `prefix`), `%i` replaced. */
function execLine(key: string, ifname: string, prefix = ''): string {
  const unit = readFileSync(join(REPO, 'systemd/wgts-quick@.service'), 'utf8');
  const line = unit.split('\n').find((l) => l.startsWith(`${key}=${prefix}`));
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
      // the documented way to give `up` options without editing the unit: /etc/default/wgts-quick-IF
      setup: [
        'mount -t tmpfs tmpfs /etc/wireguard && cp $CONF /etc/wireguard/',
        'mkdir -p /etc/default && mount -t tmpfs tmpfs /etc/default',
        'echo "WGTS_QUICK_OPTS=--nat-via wgqd0" > /etc/default/wgts-quick-$IF',
      ].join('\n'),
      between: [
        `export ${path} WG_ENDPOINT_RESOLUTION_RETRIES=infinity`,
        // as systemd: Environment= first, then the optional EnvironmentFile= (`-`: may be missing)
        `export ${execLine('Environment', ifname, 'WGTS_QUICK_OPTS=')}`,
        // KEY=VALUE lines, the value being the rest of the line (unquoted, spaces kept), as systemd reads them
        `while IFS== read -r k v; do export "$k=$v"; done < ${execLine('EnvironmentFile', ifname).replace(/^-/, '')}`,
        `${execLine('ExecStart', ifname)} 2>/dev/null`,
        'nft list table inet wgts-nat-$IF > /dev/null 2>&1 && echo "nat: yes" > $OUT/extra',
        'idx=$(cat /sys/class/net/$IF/ifindex)',
        'cp $(dirname $CONF)/next.conf /etc/wireguard/$IF.conf',
        `${execLine('ExecReload', ifname)}`,
        'echo "peers: $(wg show $IF peers)" >> $OUT/extra',
        'echo "same link: $([ "$idx" = "$(cat /sys/class/net/$IF/ifindex)" ] && echo yes)" >> $OUT/extra',
        'echo "port: $(wg show $IF listen-port)" >> $OUT/extra',
        `${execLine('ExecStop', ifname)} 2>/dev/null`,
      ].join('\n'),
    });
    expect(r.extra).toBe(`nat: yes\npeers: ${b.pub}\nsame link: yes\nport: 51996\n`);
    expect(asBefore(maskVolatile(r.afterDown))).toBe(asBefore(maskVolatile(r.before)));
  });
});
