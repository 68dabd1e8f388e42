/**
 * The exposition text (metrics/exposition.ts) byte for byte in prometheus_wireguard_exporter's
 * shape (its README's sample: names, HELP/TYPE lines, label order, comma-joined allowed IPs, the
 * friendly_name label only where a name exists), label escaping, 64-bit counters kept exact, and
 * the `# friendly_name=` reading of config-lines.ts.
 */
import { describe, expect, it } from 'vitest';
import { escapeLabel, renderMetrics } from '../../src/metrics/exposition.js';
import { friendlyName, readSections } from '../../src/conf/config-lines.js';
import { keyFromBase64 } from '../../src/conf/keys.js';
import type { WgDevice } from '../../src/conf/model.js';
import { parseListen } from '../../src/cli/exporter.js';

const K1 = '2S7mA0vEMethCNQrJpJKE81/JmhgtB+tHHLYQhgM6kk=';
const K2 = 'qnoxQoQI8KKMupLnSSureORV0wMmH7JryZNsmGVISzU=';

const device: WgDevice = {
  name: 'wg0',
  peers: [
    {
      publicKey: keyFromBase64(K1)!,
      allowedIps: [
        { family: 4, addr: new Uint8Array([10, 70, 0, 2]), cidr: 32 },
        { family: 6, addr: new Uint8Array([0xfd, 0, ...new Array(13).fill(0), 0x42]), cidr: 128 },
      ],
      txBytes: 3208804n,
      rxBytes: 71420072n,
      lastHandshake: { sec: 1562834127n, nsec: 5 },
    },
    { publicKey: keyFromBase64(K2)!, allowedIps: [], txBytes: (1n << 64n) - 1n, rxBytes: 0n, lastHandshake: { sec: 0n, nsec: 0 } },
  ],
};

describe('renderMetrics', () => {
  it('prints the three families in the exporter format', () => {
    const names = new Map([[K1, 'OnePlus 6T']]);
    const l1 = `{interface="wg0",public_key="${K1}",allowed_ips="10.70.0.2/32,fd00::42/128",friendly_name="OnePlus 6T"}`;
    const l2 = `{interface="wg0",public_key="${K2}",allowed_ips=""}`;
    expect(renderMetrics([{ device, names }])).toBe(
      [
        '# HELP wireguard_sent_bytes_total Bytes sent to the peer',
        '# TYPE wireguard_sent_bytes_total counter',
        `wireguard_sent_bytes_total${l1} 3208804`,
        `wireguard_sent_bytes_total${l2} 18446744073709551615`,
        '# HELP wireguard_received_bytes_total Bytes received from the peer',
        '# TYPE wireguard_received_bytes_total counter',
        `wireguard_received_bytes_total${l1} 71420072`,
        `wireguard_received_bytes_total${l2} 0`,
        '# HELP wireguard_latest_handshake_seconds Seconds from the last handshake',
        '# TYPE wireguard_latest_handshake_seconds gauge',
        `wireguard_latest_handshake_seconds${l1} 1562834127`,
        `wireguard_latest_handshake_seconds${l2} 0`,
        '',
      ].join('\n'),
    );
  });

  it('prints only the headers when there are no peers', () => {
    expect(renderMetrics([]).split('\n').filter((l) => !l.startsWith('#'))).toEqual(['']);
  });

  it('escapes backslash, quote and newline in label values', () => {
    expect(escapeLabel('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const out = renderMetrics([{ device, names: new Map([[K1, 'Bob\'s "phone" \\ 2']]) }]);
    expect(out).toContain(',friendly_name="Bob\'s \\"phone\\" \\\\ 2"} 3208804\n');
  });
});

describe('friendly names in a config', () => {
  it('reads `# friendly_name=` below [Peer], spaces kept inside, the last one winning', () => {
    const text = `[Interface]\n# friendly_name=not a peer\n[Peer]\n# friendly_name=  Alice's laptop (work)  \nPublicKey = ${K1}\n[Peer]\n# just a comment\nPublicKey = ${K2}\n[Peer]\n#friendly_name=old\n#friendly_name=new\n`;
    const peers = readSections(text).filter((s) => s.kind === 'peer');
    expect(peers.map(friendlyName)).toEqual(["Alice's laptop (work)", undefined, 'new']);
  });
});

describe('--listen', () => {
  it.each([
    ['127.0.0.1:9586', { host: '127.0.0.1', port: 9586 }],
    ['[::1]:9000', { host: '::1', port: 9000 }],
    ['0.0.0.0:1', { host: '0.0.0.0', port: 1 }],
  ])('accepts %s', (text, want) => expect(parseListen(text)).toEqual(want));
  it.each(['localhost:9586', '::1:9586', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', '[127.0.0.1]:80', '1.2.3.4:80x'])('rejects %s', (text) => {
    expect(() => parseListen(text)).toThrow(/--listen: `.*' is not/);
  });
});

describe('wgts exporter command line', () => {
  it('refuses a bad --listen and unknown options before listening', async () => {
    const { main } = await import('../../src/cli/main.js');
    const { captureStdio } = await import('../fakes/stdio.js');
    const bad = await captureStdio(() => main(['wgts', 'exporter', '--listen', 'localhost:9586']));
    expect(bad).toEqual({
      rc: 1,
      out: '',
      err: "wgts exporter: --listen: `localhost:9586' is not <IPv4 address>:<port> or [<IPv6 address>]:<port>\nUsage: wgts exporter [--listen <address>:<port>] [<interface>...]\n",
    });
    expect((await captureStdio(() => main(['wgts', 'exporter', '--port', '1']))).err).toMatch(/^wgts exporter: Unknown option '--port'/);
  });
});
