/**
 * src/quick/ip.ts without a kernel: ip's argument parsing and refusals, the `ip rule` words of the
 * narration, the old journal's `ip` argv read as typed undo actions, and the new rtnl encoder
 * (`ip route get`'s request) against a byte fixture. The kernel side is test/kernel/rtnl.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { IpFailure, ipPrefix, parseRtTables, ruleWords, tableId } from '../../src/quick/ip.js';
import { upgradeAction } from '../../src/quick/journal.js';
import { routeGetMessage, parsePrefix } from '../../src/netlink/rtnl.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe("ip's prefix parsing (get_prefix)", () => {
  it('accepts what ip accepts', () => {
    const p = (proto: '-4' | '-6', t: string): string => {
      const x = ipPrefix(proto, t);
      return `${x.family}:${hex(x.addr)}/${x.len}`;
    };
    expect(p('-4', '10.9.0.2/24')).toBe('4:0a090002/24');
    expect(p('-4', '10.9.0.2')).toBe('4:0a090002/32');
    expect(p('-4', '10.1/16')).toBe('4:0a010000/16'); // get_addr_ipv4 shorthand
    expect(p('-4', '010.1.2.3/8')).toBe('4:08010203/8'); // base 0: octal
    expect(p('-4', '10.9.9.9/255.255.0.0')).toBe('4:0a090909/16');
    expect(p('-6', 'fd09::2/64')).toBe('6:fd090000000000000000000000000002/64');
  });

  it('refuses with the message and status of ip', () => {
    for (const [proto, text, kind] of [
      ['-4', '10.9.0.300/24', 'inet'],
      ['-4', 'fd::1/64', 'inet'],
      ['-6', '10.9.0.3/24', 'inet6'],
      ['-4', '10.9.0.3/33', 'inet'],
      ['-4', '10.9.0.3/255.0.255.0', 'inet'],
      ['-6', 'fd::1/129', 'inet6'],
    ] as const) {
      let err: unknown;
      try {
        ipPrefix(proto, text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(IpFailure);
      expect(err).toMatchObject({ text: `Error: ${kind} prefix is expected rather than "${text}".`, status: 1 });
    }
  });
});

describe('routing table names (rt_tables)', () => {
  it('built-in names and numbers in base 0; an unknown name is ip invarg (255)', async () => {
    expect(await tableId('main')).toBe(254);
    expect(await tableId('local')).toBe(255);
    expect(await tableId('51820')).toBe(51820);
    expect(await tableId('0x10')).toBe(16);
    await expect(tableId('nosuchtable-q')).rejects.toMatchObject({
      text: 'Error: argument "nosuchtable-q" is wrong: "table" value is invalid\n',
      status: 255,
    });
  });
});

describe('ip rule words of the narration', () => {
  it("are wg-quick's", () => {
    expect(ruleWords({ family: 4, invert: true, fwmark: 51820, table: 51820 }).join(' ')).toBe('not fwmark 51820 table 51820');
    expect(ruleWords({ family: 6, table: 254, suppressPrefixlen: 0 }).join(' ')).toBe('table main suppress_prefixlength 0');
    expect(ruleWords({ family: 4, priority: 32765, table: 51820 }).join(' ')).toBe('pref 32765 table 51820');
  });
});

describe('old state files: ip argv undo entries', () => {
  it('become typed rtnl actions; anything else stays a command', async () => {
    expect(await upgradeAction({ kind: 'cmd', step: 'link', argv: ['ip', 'link', 'delete', 'dev', 'wg0'] })).toEqual({
      kind: 'link-delete',
      step: 'link',
      ifname: 'wg0',
    });
    expect(
      await upgradeAction({ kind: 'cmd', step: 'rules', argv: ['ip', '-6', 'rule', 'delete', 'pref', '32764', 'table', 'main'], bestEffort: true }),
    ).toEqual({ kind: 'rule-delete', step: 'rules', family: 6, priority: 32764, table: 254, bestEffort: true });
    expect(
      await upgradeAction({ kind: 'cmd', step: 'rules', argv: ['ip', '-4', 'rule', 'delete', 'pref', '32765', 'table', '51820'], bestEffort: true }),
    ).toMatchObject({ kind: 'rule-delete', family: 4, priority: 32765, table: 51820 });
    const nft = { kind: 'cmd' as const, step: 'firewall', argv: ['nft', '-f', '-'], input: 'delete table ip wg-quick-wg0\n', bestEffort: true };
    expect(await upgradeAction(nft)).toBe(nft);
    const odd = { kind: 'cmd' as const, step: 'x', argv: ['ip', 'route', 'flush', 'table', '7'] };
    expect(await upgradeAction(odd)).toBe(odd);
  });
});

describe('rtnl encoder: ip route get', () => {
  it('RTM_GETROUTE, REQUEST|ACK, rtmsg with the full-length dst, RTA_DST (as iproute2 builds it)', () => {
    const v4 = routeGetMessage({ ...parsePrefix('192.168.77.2') });
    // nlmsghdr (length and seq are filled in when sent) | rtmsg | RTA_DST
    expect(hex(v4.bytes())).toBe('00000000' + '1a00' + '0500' + '00000000' + '00000000' + '02200000' + '00000000' + '00000000' + '08000100' + 'c0a84d02');
    const v6 = routeGetMessage(parsePrefix('fd77::2'));
    expect(hex(v6.bytes()).slice(32, 56)).toBe('0a800000' + '00000000' + '00000000');
    expect(hex(v6.bytes()).slice(56)).toBe('14000100' + 'fd770000000000000000000000000002');
  });
});

describe('rt_tables files', () => {
  it('NUMBER NAME lines, hex or decimal, comments skipped', () => {
    expect([...parseRtTables('# comment\n  1234 wgqtab\n0x20\tthirtytwo # trailing\n\nbogus line\n')]).toEqual([
      ['wgqtab', 1234],
      ['thirtytwo', 32],
    ]);
  });
});
