/**
 * Drives completion/wgts.bash the way bash does (COMP_WORDS/COMP_CWORD, then _wgts), with a fake
 * `wgts` on PATH (its --help list, two interfaces, two peers) and, in a private mount namespace,
 * a tmpfs on /etc/wireguard holding two configs.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const script = resolve('completion/wgts.bash');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgq-compl-'));
  writeFileSync(
    join(dir, 'wgts'),
    `#!/bin/bash
case "$*" in
--help) printf 'Usage: wgts <cmd> [<args>]\\n\\nAvailable subcommands:\\n  show: Shows\\n  showconf: x\\n  set: x\\n  setconf: x\\n  addconf: x\\n  syncconf: x\\n  genkey: x\\n  genpsk: x\\n  pubkey: x\\n  quick: x\\nYou may pass\\n' ;;
"show interfaces") echo "wgq0 wgq1" ;;
"show wgq0 peers") printf 'AAAApeer1=\\nBBBBpeer2=\\n' ;;
*) exit 1 ;;
esac
`,
  );
  chmodSync(join(dir, 'wgts'), 0o755);
  writeFileSync(join(dir, 'local.conf'), '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function complete(line: string): string[] {
  const words = line.split(' ');
  const body = `mount -t tmpfs tmpfs /etc/wireguard 2>/dev/null || { mkdir -p /etc/wireguard && mount -t tmpfs tmpfs /etc/wireguard; }
touch /etc/wireguard/home.conf /etc/wireguard/office.conf /etc/wireguard/notes.txt
cd ${JSON.stringify(dir)}
source ${JSON.stringify(script)}
COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')})
COMP_CWORD=${words.length - 1}
_wgts
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = execFileSync('unshare', ['-m', 'bash', '-c', body], {
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    encoding: 'utf8',
  });
  return out.split('\n').filter(Boolean).sort();
}

describe('completion/wgts.bash', () => {
  it('completes every subcommand from wgts --help', () => {
    expect(complete('wgts ')).toEqual(
      ['addconf', 'genkey', 'genpsk', 'pubkey', 'quick', 'set', 'setconf', 'show', 'showconf', 'syncconf'].sort(),
    );
    expect(complete('wgts sh')).toEqual(['show', 'showconf']);
  });

  it('completes the options and operands of exporter, reresolve, lint and allowed-ips', () => {
    expect(complete('wgts exporter ')).toEqual(['wgq0', 'wgq1']);
    expect(complete('wgts exporter --')).toEqual(['--listen']);
    expect(complete('wgts exporter --listen ')).toEqual([]);
    expect(complete('wgts reresolve ')).toEqual(['wgq0', 'wgq1']);
    expect(complete('wgts reresolve wgq0 --')).toEqual(['--force']);
    expect(complete('wgts reresolve wgq0 ')).toEqual([]);
    expect(complete('wgts lint ')).toEqual(['home', 'local.conf', 'office']);
    expect(complete('wgts lint --')).toEqual(['--json']);
    expect(complete('wgts allowed-ips 0.0.0.0/0 --')).toEqual(['--exclude']);
    expect(complete('wgts allowed-ips ')).toEqual([]);
  });

  it('completes interfaces, all/interfaces and show fields', () => {
    expect(complete('wgts show ')).toEqual(['--json', 'all', 'interfaces', 'wgq0', 'wgq1']);
    expect(complete('wgts show --')).toEqual(['--json']);
    expect(complete('wgts show wgq0 --')).toEqual(['--json']);
    // after --json: --show-keys and one target, no field names
    expect(complete('wgts show --json ')).toEqual(['--show-keys', 'all', 'wgq0', 'wgq1']);
    expect(complete('wgts show --json wgq0 ')).toEqual(['--show-keys']);
    expect(complete('wgts show wgq0 --json --show-keys ')).toEqual([]);
    expect(complete('wgts show wgq0 all')).toEqual(['allowed-ips']);
    expect(complete('wgts showconf ')).toEqual(['wgq0', 'wgq1']);
    expect(complete('wgts syncconf w')).toEqual(['wgq0', 'wgq1']);
    expect(complete('wgts setconf wgq0 loc')).toEqual(['local.conf']);
  });

  it('completes set options not yet used, and peer keys', () => {
    expect(complete('wgts set wgq0 ')).toEqual(['fwmark', 'listen-port', 'peer', 'private-key']);
    expect(complete('wgts set wgq0 fwmark 1 ')).toEqual(['listen-port', 'peer', 'private-key']);
    expect(complete('wgts set wgq0 peer ')).toEqual(['AAAApeer1=', 'BBBBpeer2=']);
    expect(complete('wgts set wgq0 peer AAAApeer1= endpoint 1.2.3.4:5 ')).toEqual(
      ['allowed-ips', 'peer', 'persistent-keepalive', 'preshared-key', 'remove'],
    );
  });

  it('completes quick actions, config names, files, interfaces and --nat-via', () => {
    expect(complete('wgts quick ')).toEqual(['down', 'reload', 'save', 'strip', 'up']);
    expect(complete('wgts quick reload ')).toEqual(['wgq0', 'wgq1']);
    expect(complete('wgts quick reload wgq0 ')).toEqual(['--hooks', '--nat-via', '--no-nat-via']);
    expect(complete('wgts quick reload wgq0 --hooks ')).toEqual(['--nat-via', '--no-nat-via']);
    expect(complete('wgts quick reload wgq0 --no-nat-via ')).toEqual(['--hooks']);
    expect(complete('wgts quick up ')).toEqual(expect.arrayContaining(['home', 'office', 'local.conf']));
    expect(complete('wgts quick up ')).not.toContain('notes');
    expect(complete('wgts quick strip o')).toEqual(['office']);
    expect(complete('wgts quick down ')).toEqual(['wgq0', 'wgq1']);
    expect(complete('wgts quick up home ')).toEqual(['--nat-via']);
    expect(complete('wgts quick up home --nat-via l')).toEqual(['lo']);
  });
});
