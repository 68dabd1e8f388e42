// The netlink request layer against the host kernel, read-only (no link, address or route is
// changed here; the kernel suite in the VM covers changes): dumps, errors to errno, genl lookup.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { NetlinkBackend, kernelWireguardAvailable } from '../../src/netlink/backend.js';
import { CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, GENL_ID_CTRL, GenlSocket, newGenlMessage } from '../../src/netlink/genl.js';
import { NETLINK_GENERIC, NLM_F_ACK, NLM_F_REQUEST, NetlinkSocket } from '../../src/netlink/socket.js';
import { getLink, listLinks } from '../../src/netlink/rtnl.js';

const hasModule = existsSync('/sys/module/wireguard');

describe('rtnetlink dumps and errors', () => {
  test('listLinks = `ip -o link show`: same names and indexes, in ifindex order', async () => {
    // Other suites add and move links concurrently: compare snapshots until two agree (3 tries).
    for (let attempt = 1; ; attempt++) {
      const [ip, ours] = [ipLinks(), (await listLinks()).map((l) => ({ index: l.index, name: l.name }))];
      if (attempt === 3 || JSON.stringify(ip) === JSON.stringify(ours)) {
        expect(ours).toEqual(ip);
        return;
      }
    }
  });

  function ipLinks(): { index: number; name: string }[] {
    return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const m = /^(\d+): ([^:@]+)[@:]/.exec(l)!;
        return { index: Number(m[1]), name: m[2]! };
      });
  }

  test('an unknown link is ENODEV (the kernel error through NLMSG_ERROR)', async () => {
    await expect(getLink('nonexistent9')).rejects.toMatchObject({ errno: 19 });
    expect((await getLink('lo')).index).toBe(1);
  });
});

describe.skipIf(hasModule)('without the WireGuard module', () => {
  test('genl lookup of an absent family is EPROTONOSUPPORT (ENOENT mapped as wg maps it)', async () => {
    await expect(GenlSocket.open('wireguard', 1)).rejects.toMatchObject({ errno: 93 });
    (await GenlSocket.open('nlctrl', 2)).close(); // the controller itself resolves
  });

  test('backend: list is empty, get/set say "Protocol not supported", long names ENAMETOOLONG first', async () => {
    const b = new NetlinkBackend();
    expect(await b.list()).toEqual([]);
    await expect(b.get('wg0')).rejects.toMatchObject({ errno: 93 });
    await expect(b.set({ name: 'wg0', peers: [] })).rejects.toMatchObject({ errno: 93 });
    await expect(b.get('a'.repeat(16))).rejects.toMatchObject({ errno: 36 });
    expect(await kernelWireguardAvailable()).toBe(false);
  });
});

describe('fixed-size reads (NetlinkSocket.open recvBuffer)', () => {
  test('a reply that fits is read as with peeking; one that does not fails with EIO, never cut short', async () => {
    (await GenlSocket.open('nlctrl', 2, { recvBuffer: 8192 })).close();
    // nlctrl's own family reply (ops, groups) is well over 64 bytes.
    await expect(GenlSocket.open('nlctrl', 2, { recvBuffer: 64 })).rejects.toMatchObject({ errno: 5 });
  });
});

describe('batches (NetlinkSocket.requestBatch): several acknowledged requests in one datagram', () => {
  const lookup = (name: string) => {
    const m = newGenlMessage(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_REQUEST | NLM_F_ACK);
    m.putStrz(CTRL_ATTR_FAMILY_NAME, name);
    return m;
  };

  test('resolves once every message is acknowledged, with each reply in order', async () => {
    const sock = NetlinkSocket.open(NETLINK_GENERIC);
    try {
      const reply = await sock.requestBatch([lookup('nlctrl'), lookup('nlctrl'), lookup('nlctrl')]);
      expect(reply.messages.map((m) => m.type)).toEqual([GENL_ID_CTRL, GENL_ID_CTRL, GENL_ID_CTRL]);
      // The socket is free again and the sequence numbers moved on: a plain request works.
      expect((await sock.request(lookup('nlctrl'))).messages).toHaveLength(1);
    } finally {
      sock.close();
    }
  });

  test('a failed message rejects the batch with its errno; the kernel still answers the rest', async () => {
    const sock = NetlinkSocket.open(NETLINK_GENERIC);
    try {
      await expect(sock.requestBatch([lookup('nlctrl'), lookup('nosuchfamily0'), lookup('nlctrl')])).rejects.toMatchObject({ errno: 2 });
      // The third message's late reply is ignored; the next request gets its own answer.
      expect((await sock.request(lookup('nlctrl'))).messages).toHaveLength(1);
    } finally {
      sock.close();
    }
  });
});
