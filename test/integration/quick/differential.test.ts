/**
 * Differential acceptance of `wgts quick` against the real wg-quick (Debian 1.0.20210914), both with
 * wireguard-go as the userspace implementation: for every config of the corpus, each tool runs in a
 * fresh network namespace (and private mount namespace) and must leave the same state after up
 * (addresses, MTU, routes of every table, rules, nft ruleset/iptables, sysctls), the same device
 * configuration, hooks in the same order with the same output, the same narration modulo the listed
 * Debian-vs-upstream deltas (normalize.ts), and a namespace after down equal to the one before.
 * `strip` and `save` print the same.
 */
import { describe, expect, it } from 'vitest';
import { CORPUS, type Keys } from './corpus.js';
import { asBefore, genKeyPair, maskVolatile, runScenario, uniqueName, useWgts } from './harness.js';
import { hookLines, normalizeUp, sortPeers } from './normalize.js';

const bin = useWgts();

describe('wgts quick vs wg-quick', () => {
  it('the corpus has at least 10 configs', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(10);
  });

  for (const c of CORPUS) {
    it(c.name, () => {
      const keys: Keys = { ...genKeyPair(), peers: [genKeyPair(), genKeyPair(), genKeyPair()] };
      const ifname = uniqueName();
      const config = c.config(keys, ifname);
      const common = {
        ifname,
        config,
        ...(c.between ? { between: c.between(keys) } : {}),
        ...(c.save ? { save: true } : {}),
        ...(c.setup ? { setup: c.setup } : {}),
        ...(c.nft ? { nft: c.nft } : {}),
      };
      const ref = runScenario({ tool: 'wg-quick', ...common });
      const ours = runScenario({ tool: bin(), ...common });

      expect(ref.upRc, ref.upErr).toBe(0);
      expect(ours.upRc, ours.upErr).toBe(0);
      expect(maskVolatile(ours.afterUp)).toBe(maskVolatile(ref.afterUp));
      expect(sortPeers(ours.showconf)).toBe(sortPeers(ref.showconf));
      expect(normalizeUp(ours.upErr, 'wgts')).toEqual(normalizeUp(ref.upErr, 'debian'));
      expect(ours.upOut).toBe(ref.upOut);
      expect(ours.resolvconfLog).toBe(ref.resolvconfLog);

      expect(ours.downRc, ours.downErr).toBe(0);
      expect(hookLines(ours.downErr)).toEqual(hookLines(ref.downErr));
      expect(ours.downOut).toBe(ref.downOut);
      expect(maskVolatile(ours.afterDown)).toBe(maskVolatile(ref.afterDown));
      expect(asBefore(maskVolatile(ours.afterDown))).toBe(asBefore(maskVolatile(ours.before)));

      expect(ours.stripRc).toBe(0);
      expect(ours.strip).toBe(ref.strip);
      expect(sortPeers(maskVolatile(ours.saved))).toBe(sortPeers(maskVolatile(ref.saved)));
      expect(sortPeers(maskVolatile(ours.configAfter))).toBe(sortPeers(maskVolatile(ref.configAfter)));
    });
  }
});
