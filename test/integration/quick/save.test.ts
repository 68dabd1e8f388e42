/**
 * `wgts quick save` writes `<file>.tmp` with O_EXCL|O_NOFOLLOW: a symlink planted at that name is
 * neither followed nor written through (wg-quick's `echo > "$CONFIG_FILE.tmp"` follows it), and a
 * stale temp file from an interrupted save does not block the next one.
 */
import { describe, expect, it } from 'vitest';
import { genKeyPair, runScenario, uniqueName, useWgts } from './harness.js';

const bin = useWgts();
const k = genKeyPair();
const p = genKeyPair();
const config = `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.61.0.1/24\nListenPort = 51961\n\n[Peer]\nPublicKey = ${p.pub}\nAllowedIPs = 10.61.0.2/32\n`;

describe('wgts quick save: the temp file', () => {
  it('a symlink planted at <file>.tmp is not followed: its target keeps its bytes, the config is saved', () => {
    const r = runScenario({
      tool: bin(),
      ifname: uniqueName(),
      config,
      between: 'printf victim > $OUT/victim; chmod 644 $OUT/victim; ln -s $OUT/victim $CONF.tmp',
      save: true,
      after: '{ cat $OUT/victim; echo; stat -c %a $OUT/victim; ls -A $(dirname $CONF); } > $OUT/extra',
    });
    expect(r.upRc, r.upErr).toBe(0);
    const [victim, mode, ...files] = r.extra.trim().split('\n');
    expect(victim).toBe('victim');
    expect(mode).toBe('644');
    // nothing left at the temp name: neither the planted link nor a temp file of ours
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(r.saved).toContain('Address = 10.61.0.1/24');
    expect(r.saved).toContain(`PublicKey = ${p.pub}`);
  });

  it('a stale regular <file>.tmp is replaced, and the saved file is 0600', () => {
    const r = runScenario({
      tool: bin(),
      ifname: uniqueName(),
      config,
      between: 'echo stale > $CONF.tmp; chmod 666 $CONF.tmp',
      save: true,
      after: 'stat -c %a $CONF > $OUT/extra; ls -A $(dirname $CONF) >> $OUT/extra',
    });
    expect(r.upRc, r.upErr).toBe(0);
    expect(r.extra.split('\n')[0]).toBe('600');
    expect(r.extra).not.toContain('.tmp');
    expect(r.saved).toContain('ListenPort = 51961');
    expect(r.saved).not.toContain('stale');
  });
});
