/**
 * `wgts quick down` on fakes (test/fakes/quick-system.ts): it replays the journal `up` wrote, last
 * first — also when the link is already gone (the userspace daemon died, or `up` was killed), where
 * it still removes rules, fallback, firewall, NAT and DNS and runs the hooks.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installFakeHost, type FakeQuickSystem } from '../fakes/quick-system.js';
import { PEER_A, PRIVATE_KEY, writeConfig } from '../fakes/quick-tunnel.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-quick-down-'));
process.env.WGTS_QUICK_STATE_DIR = join(dir, 'state');
const { up } = await import('../../src/quick/up.js');
const { down } = await import('../../src/quick/down.js');
const { loadTarget } = await import('../../src/quick/target.js');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CLIENT = `[Interface]
PrivateKey = ${PRIVATE_KEY}
Address = 10.60.0.2/32
DNS = 10.60.0.53
PreDown = echo predown %i
PostDown = echo postdown %i

[Peer]
PublicKey = ${PEER_A}
AllowedIPs = 0.0.0.0/0
Endpoint = 192.0.2.7:51820
`;

let sys: FakeQuickSystem;
beforeEach(() => {
  sys = installFakeHost('eth0', 1500, ['resolvectl', 'nft']);
});
afterEach(() => {
  sys.restore();
  rmSync(join(dir, 'state'), { recursive: true, force: true });
});

function snapshot(): unknown {
  return structuredClone({ links: sys.rtnl.links, routes: sys.rtnl.routes, rules: sys.rtnl.rules, addresses: [...sys.rtnl.addresses] });
}

function stateFiles(): string[] {
  try {
    return readdirSync(join(dir, 'state')).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
}

/** The undo of the full tunnel's policy, NAT and DNS, in the order down replays it. */
const TEARDOWN = [
  '[#] nft -f -',
  '[#] sysctl -q net.ipv4.ip_forward=0',
  '[#] nft -f -',
  '[#] ip -4 rule delete pref 32764 table main',
  '[#] ip -4 rule delete pref 32765 table 51820',
  '[#] ip -4 route delete unreachable 0.0.0.0/0 table 51820 metric 4294967295',
  '[#] resolvectl revert wgc0',
];

describe('quick down on fakes', () => {
  it('replays the journal last first and leaves the namespace as before up', async () => {
    const before = snapshot();
    const target = await loadTarget(writeConfig(dir, 'wgc0', CLIENT), { natVia: 'eth0' });
    await up(target);
    sys.narration.length = 0;
    await down(target);
    expect(sys.narration).toEqual(['[#] echo predown wgc0', ...TEARDOWN, '[#] ip link delete dev wgc0', '[#] echo postdown wgc0']);
    expect(snapshot()).toEqual(before);
    expect(stateFiles()).toEqual([]);
    // What down undid with commands, it undid with the inputs up recorded for them.
    expect(sys.runner.ran.filter((c) => c.argv[0] === 'nft').slice(-2).map((c) => c.input)).toEqual([
      'add table inet wgts-nat-wgc0\ndelete table inet wgts-nat-wgc0\n',
      'add table ip wg-quick-wgc0\ndelete table ip wg-quick-wgc0\n',
    ]);
  });

  it('removes what the journal names when the link is gone, hooks included, and drops the state file', async () => {
    const before = snapshot();
    const target = await loadTarget(writeConfig(dir, 'wgc0', CLIENT), { natVia: 'eth0' });
    await up(target);
    await sys.rtnl.deleteLink('wgc0'); // the userspace daemon died and took its TUN link along
    sys.narration.length = 0;
    await down(target);
    expect(sys.narration).toEqual([
      "[!] wgc0 is gone (its userspace daemon died, or `up' was killed): removing what its journal names",
      '[#] echo predown wgc0',
      ...TEARDOWN,
      '[#] echo postdown wgc0',
    ]);
    expect(snapshot()).toEqual(before);
    expect(stateFiles()).toEqual([]);
  });

  it('goes on past a failing hook when the link is gone (there is no tunnel left to keep up)', async () => {
    const target = await loadTarget(writeConfig(dir, 'wgc0', CLIENT), {});
    await up(target);
    await sys.rtnl.deleteLink('wgc0');
    sys.runner.failWhen = (line) => (line === 'echo predown wgc0' ? 1 : undefined);
    sys.narration.length = 0;
    await down(target);
    expect(sys.narration[2]).toBe("[!] `echo predown wgc0' failed with exit status 1; going on, as wgc0 is gone");
    expect(sys.narration.at(-1)).toBe('[#] echo postdown wgc0');
    expect(sys.rtnl.rules.filter((r) => r.table === 51820)).toEqual([]);
    expect(stateFiles()).toEqual([]);
  });
});
