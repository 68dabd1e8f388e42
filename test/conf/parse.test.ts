/**
 * parse.ts beyond the corpus (which test/conf/corpus.test.ts checks against the real wg): the
 * endpoint retry loop with a fake resolver and clock, error positions and text, upstream-only
 * AllowedIPs prefixes, and fast-check properties: showconf text parses back to the same model, and
 * wg's whitespace/case/comment freedom does not change what a file means.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ConfigError,
  GaiError,
  formatConfigError,
  parseConfig,
  parseEndpoint,
  type HostLookup,
} from '../../src/conf/parse.js';
import { formatConfig } from '../../src/conf/write.js';
import { keyToBase64 } from '../../src/conf/keys.js';
import type { WgAllowedIp, WgDevice, WgPeer } from '../../src/conf/model.js';
import { SYSTEM_IO } from '../../src/system/conf-io.js';

const PUB = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';

/** A resolver that fails with `codes` in turn, then answers 192.0.2.1. */
function flaky(codes: string[]): HostLookup {
  let i = 0;
  return async () => {
    const code = codes[i++];
    if (code) throw new GaiError(code);
    return { family: 4, address: '192.0.2.1' };
  };
}

async function endpointWith(codes: string[], retries?: string) {
  const warnings: string[] = [];
  const sleeps: number[] = [];
  const env = retries === undefined ? {} : { WG_ENDPOINT_RESOLUTION_RETRIES: retries };
  const run = parseEndpoint('host.example:51820', {
    lookup: flaky(codes),
    services: () => null,
    env,
    warn: (l) => warnings.push(l),
    sleep: async (ms) => void sleeps.push(ms),
  });
  return { run, warnings, sleeps };
}

describe('endpoint resolution retries (WG_ENDPOINT_RESOLUTION_RETRIES)', () => {
  it('retries temporary failures with 1 s growing by 1.2, printing wg\'s notice', async () => {
    const t = await endpointWith(['EAI_AGAIN', 'EAI_AGAIN', 'EAI_AGAIN']);
    expect(await t.run).toEqual({ family: 4, host: '192.0.2.1', port: 51820 });
    expect(t.sleeps).toEqual([1000, 1200, 1440]);
    expect(t.warnings).toEqual([
      "Temporary failure in name resolution: `host.example:51820'. Trying again in 1.00 seconds...",
      "Temporary failure in name resolution: `host.example:51820'. Trying again in 1.20 seconds...",
      "Temporary failure in name resolution: `host.example:51820'. Trying again in 1.44 seconds...",
    ]);
  });

  it('gives up after the given number of retries, with the last failure', async () => {
    const t = await endpointWith(Array(10).fill('EAI_AGAIN'), '2');
    await expect(t.run).rejects.toThrow("Temporary failure in name resolution: `host.example:51820'");
    expect(t.sleeps.length).toBe(2);
  });

  it('defaults to 15 retries and caps the delay at 20 s; infinity keeps going', async () => {
    const t = await endpointWith(Array(40).fill('EAI_AGAIN'));
    await expect(t.run).rejects.toThrow(/^Temporary failure in name resolution: /);
    expect(t.sleeps.length).toBe(15);
    const inf = await endpointWith(Array(39).fill('EAI_AGAIN'), 'infinity');
    await inf.run;
    expect(inf.sleeps.length).toBe(39);
    expect(inf.sleeps.at(-1)).toBe(20_000);
    expect(inf.warnings.at(-1)).toMatch(/Trying again in 20\.00 seconds\.\.\.$/);
  });

  it.each([
    ['', 0],
    [' 1', 1],
    ['-18446744073709551615', 1],
  ])('reads the variable with strtoul: %j is %d retries (as wg)', async (value, n) => {
    const t = await endpointWith(Array(5).fill('EAI_AGAIN'), value);
    await expect(t.run).rejects.toThrow();
    expect(t.sleeps.length).toBe(n);
  });

  it.each(['EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA'])('fails at once on %s', async (code) => {
    const t = await endpointWith([code]);
    await expect(t.run).rejects.toThrow(/: `host.example:51820'$/);
    expect(t.sleeps).toEqual([]);
  });

  it('refuses a bad variable as wg does (fatal, no trailer), even before the value is looked at', async () => {
    const err = await parseConfig(`[Peer]\nPublicKey=${PUB}\nEndpoint=[::1\n`, {
      file: 'f.conf',
      ...SYSTEM_IO,
      env: { WG_ENDPOINT_RESOLUTION_RETRIES: '-x' },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(formatConfigError(err as ConfigError)).toBe("f.conf:3: Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: `-x'\n");
  });
});

describe('errors carry file, line and text', () => {
  it('prints file:line and wg\'s message, then wg\'s trailer', async () => {
    const text = '[Interface]\n  # comment\nListen Port = 5\nFoo = bar # x\n';
    const err = (await parseConfig(text, { file: 'wg0.conf', ...SYSTEM_IO }).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect([err.file, err.line, err.text, err.message]).toEqual(['wg0.conf', 4, 'Foo = bar # x', "Line unrecognized: `Foo=bar'"]);
    expect(formatConfigError(err)).toBe("wg0.conf:4: Line unrecognized: `Foo=bar'\nConfiguration parsing error\n");
  });

  it('names the [Peer] line of a peer without a key, with "Invalid configuration"', async () => {
    const err = (await parseConfig(`[Peer]\nPublicKey=${PUB}\n\n[Peer]\nAllowedIPs=10.0.0.0/8\n`, { file: 'x', ...SYSTEM_IO }).catch(
      (e: unknown) => e,
    )) as ConfigError;
    expect(formatConfigError(err)).toBe('x:4: A peer is missing a public key\nInvalid configuration\n');
  });
});

describe('AllowedIPs +/- (upstream 1.0.20260223)', () => {
  it('any prefixed entry makes that line incremental; a later plain line replaces again', async () => {
    const d = await parseConfig(`[Peer]\nPublicKey=${PUB}\nAllowedIPs=10.0.0.0/8,-10.1.0.0/16,+fd00::/8\n`, { file: 'f', ...SYSTEM_IO });
    const p = d.peers[0]!;
    expect(p.replaceAllowedIps).toBe(false);
    expect(p.allowedIps.map((a) => [a.cidr, a.remove ?? false])).toEqual([[8, false], [16, true], [8, false]]);
    const d2 = await parseConfig(`[Peer]\nPublicKey=${PUB}\nAllowedIPs=+10.0.0.0/8\nAllowedIPs=10.2.0.0/16\n`, { file: 'f', ...SYSTEM_IO });
    expect(d2.peers[0]!.replaceAllowedIps).toBe(true);
  });
});

// ---- properties ----

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const nonZeroKey = key.filter((k) => k.some((b) => b !== 0));

/** A prefix with its host bits cleared, as a device reports it. */
const allowedIp: fc.Arbitrary<WgAllowedIp> = fc.oneof(
  fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 })),
  fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 })),
).map(([addr, cidr]) => {
  for (let bit = cidr; bit < addr.length * 8; bit++) addr[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { family: addr.length === 4 ? 4 : 6, addr, cidr };
});

const endpoint = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 })).map(([host, port]) => ({ family: 4 as const, host, port })),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 65535 })).map(([host, port]) => ({ family: 6 as const, host, port })),
);

const peer: fc.Arbitrary<WgPeer> = fc.record(
  {
    publicKey: key,
    presharedKey: nonZeroKey,
    endpoint,
    persistentKeepalive: fc.integer({ min: 1, max: 65535 }),
    allowedIps: fc.array(allowedIp, { maxLength: 5 }),
  },
  { requiredKeys: ['publicKey', 'allowedIps'] },
);

/** Devices as a backend would report them: distinct peers, each prefix owned once, no zeros printed as values. */
const device: fc.Arbitrary<WgDevice> = fc
  .record(
    {
      privateKey: nonZeroKey,
      listenPort: fc.integer({ min: 1, max: 65535 }),
      fwmark: fc.integer({ min: 1, max: 0xffffffff }),
      peers: fc.array(peer, { maxLength: 4 }),
    },
    { requiredKeys: ['peers'] },
  )
  .map((d) => {
    const seenKeys = new Set<string>();
    const seenIps = new Set<string>();
    const peers = d.peers.filter((p) => !seenKeys.has(keyToBase64(p.publicKey)) && seenKeys.add(keyToBase64(p.publicKey)));
    for (const p of peers) {
      p.allowedIps = p.allowedIps.filter((ip) => {
        const id = `${Buffer.from(ip.addr).toString('hex')}/${ip.cidr}`;
        return !seenIps.has(id) && !!seenIps.add(id);
      });
    }
    return { name: '', ...d, peers };
  });

/** Numeric endpoints without DNS: the property is about the grammar, not the resolver. */
const numericOnly: HostLookup = async (host) => ({ family: host.includes(':') ? 6 : 4, address: host });

describe('properties', () => {
  it('showconf text parses back to a model that prints the same text', async () => {
    await fc.assert(
      fc.asyncProperty(device, async (d) => {
        const text = formatConfig(d);
        const back = await parseConfig(text, { ...SYSTEM_IO, file: 'p', lookup: numericOnly, services: () => null });
        expect(formatConfig(back)).toBe(text);
        expect(back.peers.length).toBe(d.peers.length);
        back.peers.forEach((p, i) => {
          expect(keyToBase64(p.publicKey)).toBe(keyToBase64(d.peers[i]!.publicKey));
          expect(p.allowedIps.map((a) => [a.family, a.cidr, [...a.addr]])).toEqual(
            d.peers[i]!.allowedIps.map((a) => [a.family, a.cidr, [...a.addr]]),
          );
        });
      }),
      { numRuns: 150 },
    );
  });

  it('whitespace anywhere, any key case and trailing comments do not change the meaning', async () => {
    const noise = fc.array(fc.constantFrom(' ', '\t', '\v', '\f', '\r'), { maxLength: 2 }).map((a) => a.join(''));
    await fc.assert(
      fc.asyncProperty(device, fc.infiniteStream(noise), fc.infiniteStream(fc.boolean()), async (d, spaces, flips) => {
        const text = formatConfig(d);
        const mangled = text
          .split('\n')
          .map((line) => {
            const eq = line.indexOf('=');
            // Flip the case of key letters (never of values: keys are base64), sprinkle blanks everywhere.
            const keyPart = (eq < 0 ? line : line.slice(0, eq)).replace(/[a-z]/gi, (c) =>
              flips.next().value ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c,
            );
            const whole = keyPart + (eq < 0 ? '' : line.slice(eq));
            const spaced = [...whole].map((c) => spaces.next().value + c).join('');
            return line === '' ? spaced : `${spaced}${spaces.next().value}# comment = ${line}`;
          })
          .join('\n');
        const back = await parseConfig(mangled, { ...SYSTEM_IO, file: 'p', lookup: numericOnly, services: () => null });
        expect(formatConfig(back)).toBe(text);
      }),
      { numRuns: 100 },
    );
  });
});
