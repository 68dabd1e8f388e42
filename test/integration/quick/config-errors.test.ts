/**
 * A refused configuration names the file's own line (the Address, DNS, MTU and hook lines that
 * wg-quick takes out are counted) and echoes the line's bytes as wg does (UTF-8 text stays UTF-8);
 * nothing is created.
 */
import { describe, expect, it } from 'vitest';
import { genKeyPair, runScenario, uniqueName, useWgts } from './harness.js';

const bin = useWgts();

describe('wgts quick up: a config error', () => {
  it('names line 8 of the file, with the line as written', () => {
    const k = genKeyPair();
    const config = `[Interface]\n# 中文注释\nPrivateKey = ${k.priv}\nAddress = 10.62.0.1/24\nDNS = 10.62.0.53\nMTU = 1400\nPostUp = true\n名称 = 笔记本\n`;
    const r = runScenario({ tool: bin(), ifname: uniqueName(), config, noDown: true });
    expect(r.upRc).toBe(1);
    // wg's own text for the line (test/cli/config-bytes.test.ts checks it byte for byte against wg)
    expect(r.upErr).toMatch(/^wgts quick: \/\S+\.conf:8: Line unrecognized: `名称=笔记本'\nConfiguration parsing error\n$/);
    expect(r.afterUp).toBe(r.before);
  });
});
