/**
 * A PostUp hook sees the device's real listen port on the userspace data plane, also a random one
 * (no ListenPort): `wgts quick up` and wg-quick with WG_QUICK_USERSPACE_IMPLEMENTATION=wgts-userspace.
 * The kernel binds when the link goes up, before PostUp; wgts-userspace binds at the first
 * configuration, as its link-up event arrives later than the hook runs.
 */
import { describe, expect, it } from 'vitest';
import { genKeyPair, runScenario, uniqueName, useWgts } from './harness.js';

const bin = useWgts();

function config(listenPort?: number): string {
  const k = genKeyPair();
  return (
    `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.64.0.1/24\n` +
    (listenPort ? `ListenPort = ${listenPort}\n` : '') +
    'PostUp = wg show %i listen-port > "$OUT/extra"; ss -Hlun > "$OUT/extra.ss"\n' +
    'PostUp = cat "$OUT/extra.ss" >> "$OUT/extra"\n'
  );
}

describe('listen port in PostUp (userspace)', () => {
  for (const tool of ['wgts quick', 'wg-quick + wgts-userspace'] as const) {
    for (const port of [undefined, 51964]) {
      it(`${tool}, ${port ? 'ListenPort set' : 'random port'}: the hook sees the bound port`, () => {
        const r = runScenario({
          tool: tool === 'wg-quick + wgts-userspace' ? 'wg-quick' : bin(),
          ifname: uniqueName(),
          config: config(port),
          impl: 'wgts-userspace',
          env: { PATH: `${bin().replace(/\/wgts$/, '')}:${process.env.PATH}`, WGTS_FORCE_USERSPACE: '1' },
        });
        expect(r.upRc, r.upErr).toBe(0);
        const [seen, ...sockets] = r.extra.trim().split('\n');
        expect(Number(seen)).toBeGreaterThan(0);
        if (port) expect(Number(seen)).toBe(port);
        // ... and a UDP socket is listening on it when the hook runs
        expect(sockets.join('\n')).toMatch(new RegExp(`:${seen}\\s`));
        expect(r.showconf).toContain('ListenPort = <port>');
      });
    }
  }
});
