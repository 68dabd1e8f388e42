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
  config: string;
  spec?: Partial<RunSpec>;
}

const FAILURES: Failure[] = [
  { step: 'link', config: full(''), spec: { env: { WG_QUICK_USERSPACE_IMPLEMENTATION: 'false' } } },
  { step: 'PreUp', config: full('PreUp = echo about to fail; false') },
  { step: 'address', config: full('', '10.9.0.2/24, 10.9.0.300/24') },
  { step: 'mtu', config: full('MTU = 70000') },
  { step: 'dns', config: full(''), spec: { resolvconf: 'failing' } },
  { step: 'routes', config: full(''), spec: { nft: 'failing' } },
  { step: 'routes', config: full('Table = nosuchtable') },
  { step: 'nat', config: full('').replace('0.0.0.0/0, ::/0, ', ''), spec: { upArgs: ['--nat-via', 'wgqd0'], nft: 'failing' } },
  { step: 'PostUp', config: full('PostUp = echo post; exit 3') },
];

describe('wgts quick up rolls back every step', () => {
  for (const f of FAILURES) {
    it(`a failing ${f.step}${f.spec?.nft ? ' (nft fails)' : ''}${f.config.includes('nosuchtable') ? ' (unknown table)' : ''} leaves the namespace as it began`, () => {
      const r = runScenario({ tool: bin(), ifname: uniqueName(), config: f.config, noDown: true, ...f.spec });
      expect(r.upRc).not.toBe(0);
      expect(r.upErr).toMatch(new RegExp(`wgts quick: step \`${f.step}' failed: .+; everything done before it was undone`));
      expect(maskVolatile(r.afterUp)).toBe(maskVolatile(r.before));
      // The journal (state file) is only written by a successful up.
      expect(r.afterDown).toBe(r.afterUp);
    });
  }
});
