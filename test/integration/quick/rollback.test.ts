/**
 * Rollback: each step of `wgts quick up` is made to fail in turn; the command must exit non-zero, say
 * which step failed, and leave the namespace exactly as it began (src_valid_mark included).
 */
import { describe, expect, it } from 'vitest';
import { genKeyPair, maskVolatile, runScenario, uniqueName, type RunSpec, useWgts } from './harness.js';

const bin = useWgts();

const k = genKeyPair();
const p = genKeyPair();
/** A full tunnel: link, PreUp, config, addresses, MTU, DNS, rules, routes, sysctl, nft, PostUp — all reached. */
const full = (extra: string, address = '10.9.0.2/24, fd09::2/64'): string =>
  `[Interface]\nPrivateKey = ${k.priv}\nAddress = ${address}\nDNS = 10.9.0.1, corp.example\nPreUp = echo pre %i\n${extra}\n[Peer]\nPublicKey = ${p.pub}\nAllowedIPs = 0.0.0.0/0, ::/0, 10.40.0.0/16\nEndpoint = 192.168.77.2:51820\n`;

interface Failure {
  step: string;
  interrupt?: boolean;
  config: string;
  spec?: Partial<RunSpec>;
}

const FAILURES: Failure[] = [
  { step: 'link', config: full(''), spec: { env: { WG_QUICK_USERSPACE_IMPLEMENTATION: 'false' } } },
  { step: 'PreUp', config: full('PreUp = echo about to fail; false') },
  // the device refuses the configuration: its ListenPort is taken by another WireGuard device
  {
    step: 'config',
    config: full('ListenPort = 51999'),
    spec: { setup: 'wireguard-go $IF-b && wg set $IF-b listen-port 51999', after: 'ip link delete dev $IF-b' },
  },
  { step: 'address', config: full('', '10.9.0.2/24, 10.9.0.300/24') },
  { step: 'mtu', config: full('MTU = 70000') },
  { step: 'dns', config: full(''), spec: { resolvconf: 'failing' } },
  { step: 'routes', config: full(''), spec: { nft: 'failing' } },
  { step: 'routes', config: full('Table = nosuchtable') },
  { step: 'nat', config: full('').replace('0.0.0.0/0, ::/0, ', ''), spec: { upArgs: ['--nat-via', 'wgqd0'], nft: 'failing' } },
  { step: 'PostUp', config: full('PostUp = echo post; exit 3') },
  // SIGTERM to wgts itself (the hook's parent) while up runs: the step ends, then everything is undone
  { step: 'PostUp', config: full('PostUp = kill -TERM $PPID; sleep 0.2'), interrupt: true },
];

describe('wgts quick up rolls back every step', () => {
  for (const f of FAILURES) {
    it(`a failing ${f.step}${f.spec?.nft ? ' (nft fails)' : ''}${f.config.includes('nosuchtable') ? ' (unknown table)' : ''}${f.interrupt ? ' (SIGTERM)' : ''} leaves the namespace as it began`, () => {
      const r = runScenario({
        tool: bin(),
        ifname: uniqueName(),
        config: f.config,
        noDown: true,
        between: 'ls -A $WGTS_QUICK_STATE_DIR > $OUT/extra',
        ...f.spec,
      });
      expect(r.upRc).not.toBe(0);
      if (f.interrupt) expect(r.upErr).toContain('failed: interrupted by SIGTERM;');
      expect(r.upErr).toMatch(new RegExp(`wgts quick: step \`${f.step}' failed: .+; everything done before it was undone`));
      expect(maskVolatile(r.afterUp)).toBe(maskVolatile(r.before));
      // The journal (state file), on disk from the start, goes once everything is undone.
      expect(r.extra).toBe('');
      expect(r.afterDown).toBe(r.afterUp);
    });
  }
});
