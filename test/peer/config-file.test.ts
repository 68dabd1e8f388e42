/**
 * The byte-preserving edits of a wg-quick file: every byte outside the change stays as it was
 * (comments, odd spacing, CRLF, non-UTF-8 bytes, a last line without newline).
 */
import { describe, expect, it } from 'vitest';
import {
  findPeer,
  interfaceValue,
  layout,
  rememberedEndpoint,
  withAppendedSection,
  withRememberedEndpoint,
  withoutSection,
} from '../../src/peer/config-file.js';

const K1 = 'tKma1ATKtzIclYWWwd22cCVqPOoseECwGKDnS4McFUY=';
const K2 = 'SZKKeDVIQhOc09khDxrgh4aKAwFOyH2oydb05JQmD3Q=';
const K3 = 'UeQyd/F5L87xt5yg5sOSpdcRYyePShjcS94/JYz1YBU=';

// latin1 text: \xe9 is one byte of an ISO-8859-1 comment, kept as it is.
const SERVER = `# server\xe9 of the office
[Interface]
Address = 10.8.0.1/24
  ListenPort=51820   # tabs\tand spaces
PrivateKey = ${K1}

[peer]   # lower case header, as wg accepts
# friendly_name = alice
PublicKey = ${K2}
AllowedIPs = 10.8.0.2/32 , fd08::2/128

# Bob's laptop
[Peer]
# friendly_name=bob
Public Key = ${K3}
AllowedIPs = 10.8.0.3/32
`;

describe('layout', () => {
  it('finds sections as wg does, names, keys and allowed IPs', () => {
    const l = layout(SERVER);
    expect(l.iface).toEqual({ header: 1, stop: 6 });
    expect(l.peers.map((p) => [p.name, p.publicKey, p.allowedIps])).toEqual([
      ['alice', K2, ['10.8.0.2/32', 'fd08::2/128']],
      ['bob', K3, ['10.8.0.3/32']],
    ]);
    expect(interfaceValue(l, 'privatekey')).toBe(K1);
    expect(interfaceValue(l, 'listenport')).toBe('51820');
    expect(findPeer(l, 'bob')?.publicKey).toBe(K3);
    expect(findPeer(l, K2)?.name).toBe('alice');
    expect(findPeer(l, 'carol')).toBeUndefined();
  });
});

describe('names as the exporter reads them', () => {
  it('spaces around, several comments: the last wins (conf/config-lines.ts friendlyName)', () => {
    const text = `[Peer]\n#friendly_name = Bob laptop \n# friendly_name=Bob's laptop\nPublicKey = ${K1}\n[Peer]\nPublicKey = ${K2}\n`;
    const l = layout(text);
    expect(l.peers.map((p) => p.name)).toEqual(["Bob's laptop", undefined]);
  });
});

describe('append', () => {
  const block = ['[Peer]', '# friendly_name=carol', `PublicKey = ${K1}`, 'AllowedIPs = 10.8.0.4/32'];

  it('keeps every byte and adds a blank line, then the block', () => {
    const out = withAppendedSection(SERVER, layout(SERVER), block);
    expect(out.startsWith(SERVER)).toBe(true);
    expect(out.slice(SERVER.length)).toBe(`\n${block.join('\n')}\n`);
    expect(layout(out).peers.map((p) => p.name)).toEqual(['alice', 'bob', 'carol']);
  });

  it('ends a last line that had no newline; no second blank line after a blank one; CRLF files get CRLF', () => {
    expect(withAppendedSection('[Interface]\nPrivateKey = x', layout('[Interface]\nPrivateKey = x'), ['[Peer]'])).toBe('[Interface]\nPrivateKey = x\n\n[Peer]\n');
    expect(withAppendedSection('[Interface]\n\n', layout('[Interface]\n\n'), ['[Peer]'])).toBe('[Interface]\n\n[Peer]\n');
    const crlf = '[Interface]\r\nAddress = 10.8.0.1/24\r\n';
    expect(withAppendedSection(crlf, layout(crlf), ['[Peer]', 'A = b'])).toBe(`${crlf}\r\n[Peer]\r\nA = b\r\n`);
  });
});

describe('remembered endpoint', () => {
  it('is added after the last non-blank line of [Interface], the rest untouched', () => {
    const l = layout(SERVER);
    expect(rememberedEndpoint(l)).toBeUndefined();
    const out = withRememberedEndpoint(SERVER, l, 'vpn.example.com:51820');
    const at = SERVER.indexOf('\n\n[peer]');
    expect(out).toBe(`${SERVER.slice(0, at + 1)}# wgts: endpoint=vpn.example.com:51820\n${SERVER.slice(at + 1)}`);
    expect(rememberedEndpoint(layout(out))).toBe('vpn.example.com:51820');
    // wg's view is unchanged: the line is a comment.
    expect(layout(out).peers.map((p) => p.publicKey)).toEqual([K2, K3]);
  });

  it('a peer section does not provide it', () => {
    expect(rememberedEndpoint(layout(`[Interface]\n[Peer]\n# wgts: endpoint=x:1\n`))).toBeUndefined();
  });
});

describe('remove', () => {
  it('cuts a section but keeps the comment that introduces the next one', () => {
    const l = layout(SERVER);
    const out = withoutSection(SERVER, l, findPeer(l, 'alice')!);
    expect(out).toBe(SERVER.replace(/\[peer\][\s\S]*?\n\n(?=# Bob)/, ''));
    expect(out).toContain("# Bob's laptop\n[Peer]");
    expect(layout(out).peers.map((p) => p.name)).toEqual(['bob']);
  });

  it('the last section goes with the blank lines before it', () => {
    const l = layout(SERVER);
    const out = withoutSection(SERVER, l, findPeer(l, K3)!);
    expect(out).toBe(SERVER.slice(0, SERVER.indexOf('\n[Peer]\n# friendly_name=bob') + 1).replace(/\n+$/, '\n'));
  });

  it('add then remove gives back the original bytes', () => {
    const block = ['[Peer]', '# friendly_name=carol', `PublicKey = ${K1}`, 'AllowedIPs = 10.8.0.4/32'];
    const added = withAppendedSection(SERVER, layout(SERVER), block);
    const l = layout(added);
    expect(withoutSection(added, l, findPeer(l, 'carol')!)).toBe(SERVER);
  });
});
