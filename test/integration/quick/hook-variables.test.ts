/**
 * Hooks see wg-quick's shell variables with wg-quick's values: the same config brought up and down
 * by the real wg-quick and by `wgts quick`, each hook printing `declare -p` of the variables, its own
 * `$hook` and its positional parameters; the printouts must be identical (the temp directory
 * masked). The variables are not exported, as in wg-quick: a child process does not see them.
 */
import { describe, expect, it } from 'vitest';
import { genKeyPair, runScenario, uniqueName, useWgts } from './harness.js';

const bin = useWgts();

const VARS = 'INTERFACE CONFIG_FILE ADDRESSES MTU DNS DNS_SEARCH TABLE PRE_UP POST_UP PRE_DOWN POST_DOWN SAVE_CONFIG WG_CONFIG hook';
const dump = (tag: string): string =>
  `{ echo ${tag}; declare -p ${VARS}; printf '<%s>' "$@"; echo; bash -c 'echo "child sees [$INTERFACE$ADDRESSES$MTU]"'; } >> "$OUT/extra"`;

describe('hook variables', () => {
  it('match wg-quick in PreUp, PostUp, PreDown and PostDown', () => {
    const k = genKeyPair();
    const p = genKeyPair();
    const config = [
      '[Interface]',
      `PrivateKey = ${k.priv}`,
      'Address = 10.63.0.1/24, fd63::1/64',
      'Address = 10.63.1.1/32',
      'DNS = 10.63.0.53, fd63::53 corp.example, lan',
      'MTU = 1380',
      'Table = 1234',
      'SaveConfig = false',
      `PreUp = ${dump('preup')}`,
      `PostUp = ${dump('postup-%i')}`,
      "PostUp = echo 'second postup' > /dev/null",
      `PreDown = ${dump('predown')}`,
      `PostDown = ${dump('postdown')}`,
      'ListenPort = 51963',
      '',
      '[Peer]',
      `PublicKey = ${p.pub}`,
      'AllowedIPs = 10.63.0.2/32',
      '',
    ].join('\n');
    const ifname = uniqueName();
    const mask = (s: string): string => s.replace(/\/tmp\/wgq-run-[A-Za-z0-9]+/g, '<work>');
    const ref = runScenario({ tool: 'wg-quick', ifname, config, impl: 'wgts-userspace', env: { PATH: `${bin().replace(/\/wgts$/, '')}:${process.env.PATH}` } });
    const ours = runScenario({ tool: bin(), ifname, config });
    expect(ref.upRc, ref.upErr).toBe(0);
    expect(ours.upRc, ours.upErr).toBe(0);
    expect(ours.downRc, ours.downErr).toBe(0);
    for (const tag of ['preup', `postup-${ifname}`, 'predown', 'postdown']) expect(ref.extra).toContain(`${tag}\n`);
    expect(ref.extra).toContain("declare -a ADDRESSES=([0]=\"10.63.0.1/24\" [1]=\"fd63::1/64\" [2]=\"10.63.1.1/32\")");
    expect(ref.extra).toContain('child sees []');
    expect(mask(ours.extra)).toBe(mask(ref.extra));
  });
});
