/**
 * The differential suite, shared by the userspace run (differential.test.ts, wireguard-go for both
 * tools) and the kernel run in the VM (test/kernel/quick.test.ts, the real module for both).
 */
import { describe, expect, it } from 'vitest';
import { CORPUS, type Keys } from './corpus.js';
import { asBefore, genKeyPair, maskVolatile, runScenario, uniqueName, useWgts } from './harness.js';
import { hookLines, normalizeUp, sortPeers, withoutFallback } from './normalize.js';

/**
 * `userspace`: wireguard-go under both tools; `wgts-userspace`: wg-quick with wireguard-go against
 * wgts quick with its own default, wgts-userspace; `kernel`: the module under both (VM only).
 */
export function defineDifferentialSuite(backend: 'userspace' | 'wgts-userspace' | 'kernel', only?: (name: string) => boolean): void {
  const bin = useWgts();
  const cases = CORPUS.filter((c) => !only || only(c.name));
  describe(`wgts quick vs wg-quick (${backend})`, () => {
    it('the corpus has at least 10 configs', () => {
      expect(CORPUS.length).toBeGreaterThanOrEqual(10);
    });

    for (const c of cases) {
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
        const ours = runScenario({ tool: bin(), ...common, ...(backend === 'wgts-userspace' ? { impl: null } : {}) });

        expect(ref.upRc, ref.upErr).toBe(0);
        const fellBack = /^\[!\] Missing WireGuard kernel module/m;
        const u = backend !== 'kernel';
        expect([fellBack.test(ref.upErr), fellBack.test(ours.upErr)]).toEqual([u, u]);
        expect(ours.upRc, ours.upErr).toBe(0);
        expect(maskVolatile(withoutFallback(ours.afterUp))).toBe(maskVolatile(ref.afterUp));
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
      }, backend === 'kernel' ? 900_000 : undefined);
    }
  });
}
