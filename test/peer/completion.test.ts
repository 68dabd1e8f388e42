/**
 * completion/wgts.bash for `wgts peer`: actions, interfaces and config names, peer names (from
 * `peer list --json`) and keys for remove, add's options not yet given (--split and --allowed-ips
 * exclude each other). `wgts` is a stub answering the few commands the script runs.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stub: string;

beforeAll(() => {
  stub = mkdtempSync(join(tmpdir(), 'wgp-compl-'));
  writeFileSync(
    join(stub, 'wgts'),
    `#!/bin/bash
case "$*" in
"show interfaces") echo "wg0 wg1" ;;
"show wg0 peers") echo "AAAAkey=" ;;
"peer list wg0 --json") printf '{\\n  "peers": [\\n    {\\n      "name": "phone",\\n      "publicKey": "AAAAkey="\\n    },\\n    {\\n      "name": "Anna laptop",\\n    }\\n  ]\\n}\\n' ;;
*) exit 1 ;;
esac
`,
  );
  chmodSync(join(stub, 'wgts'), 0o755);
  writeFileSync(join(stub, 'phone.png'), '');
});
afterAll(() => rmSync(stub, { recursive: true, force: true }));

function complete(...words: string[]): string[] {
  const script = [
    `source ${JSON.stringify(resolve('completion/wgts.bash'))}`,
    `cd ${JSON.stringify(stub)}`,
    `COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    '_wgts',
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join('\n');
  const out = execFileSync('bash', ['-c', script], { env: { ...process.env, PATH: `${stub}:${process.env.PATH}` }, encoding: 'utf8' });
  return out.split('\n').filter(Boolean).sort();
}

describe('completion/wgts.bash: wgts peer', () => {
  it('completes actions and interfaces', () => {
    expect(complete('wgts', 'peer', '')).toEqual(['add', 'list', 'remove']);
    expect(complete('wgts', 'peer', 'add', 'wg')).toEqual(expect.arrayContaining(['wg0', 'wg1']));
    expect(complete('wgts', 'peer', 'list', 'wg0', '')).toEqual(['--json']);
  });

  it('completes names and keys for remove', () => {
    expect(complete('wgts', 'peer', 'remove', 'wg0', '')).toEqual(['AAAAkey=', 'Anna laptop', 'phone']);
    expect(complete('wgts', 'peer', 'remove', 'wg0', 'ph')).toEqual(['phone']);
  });

  it('completes add options not yet given, --ip auto and files for --qr', () => {
    expect(complete('wgts', 'peer', 'add', 'wg0', '--')).toEqual(
      ['--allowed-ips', '--dns', '--endpoint', '--ip', '--keepalive', '--name', '--out', '--psk', '--qr', '--split'],
    );
    expect(complete('wgts', 'peer', 'add', 'wg0', '--name', 'x', '--split', '--')).toEqual(
      ['--dns', '--endpoint', '--ip', '--keepalive', '--out', '--psk', '--qr'],
    );
    expect(complete('wgts', 'peer', 'add', 'wg0', '--name', '')).toEqual([]);
    expect(complete('wgts', 'peer', 'add', 'wg0', '--ip', '')).toEqual(['auto']);
    expect(complete('wgts', 'peer', 'add', 'wg0', '--qr', 'pho')).toEqual(['phone.png']);
  });
});
