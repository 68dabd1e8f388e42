/**
 * The wg-quick corpus of the differential test: each case is a config (made with fresh keys and the
 * interface name), optionally a setup, commands to run between up and down, and `save`.
 * Network around it (harness.ts): wgqd0 192.168.77.1/24 + fd77::1/64, MTU 1400, default routes via it.
 */
import type { RunSpec } from './harness.js';

export interface Keys {
  priv: string;
  pub: string;
  peers: { priv: string; pub: string }[];
}

export interface Case {
  name: string;
  config(k: Keys, ifname: string): string;
  between?: (k: Keys) => string;
  save?: boolean;
  setup?: string;
  nft?: RunSpec['nft'];
}

const peer = (pub: string, allowed: string, endpoint?: string, extra = ''): string =>
  `[Peer]\nPublicKey = ${pub}\nAllowedIPs = ${allowed}\n${endpoint ? `Endpoint = ${endpoint}\n` : ''}${extra}`;

export const CORPUS: Case[] = [
  {
    name: 'client: one peer, routes beside the connected one, auto MTU from the endpoint route',
    config: (k) => `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24\n\n${peer(k.peers[0]!.pub, '10.9.0.0/24, 10.10.0.0/16, 172.16.5.0/24', '192.168.77.2:51820', 'PersistentKeepalive = 25\n')}`,
  },
  {
    name: 'full tunnel v4+v6 default route, DNS with search domains (fake resolvconf, interface-order prefix)',
    config: (k) =>
      `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24, fd09::2/64\nDNS = 10.9.0.1, fd09::1, corp.example, lab.example\n\n${peer(k.peers[0]!.pub, '0.0.0.0/0, ::/0', '192.168.77.2:51820')}`,
  },
  {
    name: 'Table = off with MTU',
    config: (k) => `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/32\nTable = off\nMTU = 1380\n\n${peer(k.peers[0]!.pub, '0.0.0.0/0, 10.20.0.0/16', '192.168.77.2:51820')}`,
  },
  {
    name: 'custom table number (default route too goes there, no policy routing)',
    config: (k) => `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24\nTable = 1234\n\n${peer(k.peers[0]!.pub, '0.0.0.0/0, 10.30.0.0/16')}`,
  },
  {
    name: 'custom table name from rt_tables.d',
    config: (k) => `[Interface]\nPrivateKey = ${k.priv}\nAddress = fd09::2/64\nTable = wgqtab\n\n${peer(k.peers[0]!.pub, '::/0, fd10::/48')}`,
  },
  {
    name: 'server with hooks: ListenPort, three peers, classic PostUp/PostDown iptables FORWARD/MASQUERADE',
    config: (k) => `[Interface]
Address = 10.8.0.1/24
ListenPort = 51999
PrivateKey = ${k.priv}
PreUp = echo "pre-up %i"
PostUp = iptables -A FORWARD -i %i -j ACCEPT; iptables -A FORWARD -o %i -j ACCEPT; iptables -t nat -A POSTROUTING -o wgqd0 -j MASQUERADE
PostUp = echo "post-up %i" >&2
PreDown = echo "pre-down %i"
PostDown = iptables -D FORWARD -i %i -j ACCEPT; iptables -D FORWARD -o %i -j ACCEPT; iptables -t nat -D POSTROUTING -o wgqd0 -j MASQUERADE
PostDown = echo "post-down %i" >&2

${peer(k.peers[0]!.pub, '10.8.0.2/32')}
${peer(k.peers[1]!.pub, '10.8.0.3/32, 10.50.0.0/24')}
${peer(k.peers[2]!.pub, '10.8.0.4/32', undefined, 'PresharedKey = ' + k.peers[2]!.priv + '\n')}`,
  },
  {
    name: 'IPv6-only default route (no src_valid_mark, ip6 table only)',
    config: (k) => `[Interface]\nPrivateKey = ${k.priv}\nAddress = fd09::2/64\n\n${peer(k.peers[0]!.pub, '::/0', '[fd77::2]:51820')}`,
  },
  {
    name: 'private key set from a PostUp hook (bash process substitution)',
    config: (k) =>
      `[Interface]\nAddress = 10.9.0.2/24\nPostUp = wg set %i private-key <(echo ${k.priv})\nPostUp = wg show %i public-key\n\n${peer(k.peers[0]!.pub, '10.9.0.0/24, 10.11.0.0/16', '192.168.77.2:51820')}`,
  },
  {
    name: 'SaveConfig = true: a peer added at run time is written back by down',
    config: (k) =>
      `[Interface]\n# comment lost on save\nAddress = 10.9.0.2/24\nSaveConfig = true\nMTU = 1300\nPrivateKey = ${k.priv}\nListenPort = 51998\nPostUp = true %i\n\n${peer(k.peers[0]!.pub, '10.9.0.0/24', '192.168.77.2:51820')}`,
    between: (k) => `wg set $IF peer ${k.peers[1]!.pub} allowed-ips 10.9.9.0/24,10.9.8.0/24`,
  },
  {
    name: 'save: explicit save of the running state, with Table and hooks kept',
    config: (k) =>
      `[Interface]\nAddress = 10.9.0.2/24, fd09::2/64\nTable = 1234\nPrivateKey = ${k.priv}\nListenPort = 51997\nPreUp = true\nPostDown = true\n\n${peer(k.peers[0]!.pub, '10.44.0.0/16', '[fd77::2]:51820')}`,
    between: (k) => `wg set $IF peer ${k.peers[0]!.pub} persistent-keepalive 15`,
    save: true,
  },
  {
    name: 'FwMark in the file names the table; default route v4 only',
    config: (k) => `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24\nFwMark = 0x1234\n\n${peer(k.peers[0]!.pub, '0.0.0.0/0', '192.168.77.2:51820')}`,
  },
  {
    name: 'table 51820 already in use: the next free table (51821) is chosen',
    setup: 'ip route add 10.99.0.0/16 dev wgqd0 table 51820',
    config: (k) => `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24\n\n${peer(k.peers[0]!.pub, '0.0.0.0/0', '192.168.77.2:51820')}`,
  },
  {
    name: 'iptables fallback when nft is absent (default route v4+v6)',
    nft: 'hidden',
    config: (k) => `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24, fd09::2/64\n\n${peer(k.peers[0]!.pub, '0.0.0.0/0, ::/0', '192.168.77.2:51820')}`,
  },
  {
    name: 'several Address lines, no endpoint (MTU from the default route), hooks with %i several times',
    config: (k) =>
      `[Interface]\nPrivateKey = ${k.priv}\nAddress = 10.9.0.2/24\nAddress = 10.19.0.2/16,fd09::2/64\nPostUp = echo %i-%i; ip -o -4 addr show dev %i | wc -l\n\n${peer(k.peers[0]!.pub, '10.9.0.0/24, 10.60.0.0/16, fd60::/64')}`,
  },
];
