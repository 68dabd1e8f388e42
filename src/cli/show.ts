/**
 * `wgts show { <interface> | all | interfaces } [field]` byte-for-byte like wg's show.c, plus
 * `--json [--show-keys]` (json.ts). See wg(8), `show`.
 */
import { formatEndpoint, formatIP } from '../conf/ip.js';
import { keyIsZero } from '../conf/keys.js';
import { wipeDevice, type Key, type WgDevice, type WgPeer } from '../conf/model.js';
import { formatKey } from '../conf/write.js';
import type { Command } from './command.js';
import { errorText } from '../system/ipc.js';
import { jsonUsage, showJson } from './json.js';
import { isHelp, listOrReport, processIo, type ShowIo } from './show-io.js';
import { BOLD, CYAN, GREEN, RED, RESET, YELLOW, colorMode, hideKeys, terminalPrinter } from './terminal.js';

export type { ShowIo } from './show-io.js';

export const SHOW_FIELDS = [
  'public-key',
  'private-key',
  'listen-port',
  'fwmark',
  'peers',
  'preshared-keys',
  'endpoints',
  'allowed-ips',
  'latest-handshakes',
  'transfer',
  'persistent-keepalive',
  'dump',
] as const;

function showUsage(io: ShowIo, argv0: string): void {
  io.err(`Usage: ${argv0} show { <interface> | all | interfaces } [${SHOW_FIELDS.join(' | ')}]\n`);
}

/** Asked-for help: wg's usage line, then the --json form wgts adds. Errors print wg's line alone. */
function showHelp(io: ShowIo, argv0: string): void {
  showUsage(io, argv0);
  jsonUsage(io, argv0);
}

const key = (k: Key): string => formatKey(k);
const maybeKey = (k: Key | undefined): string => (k ? key(k) : '(none)');
const hasPsk = (p: WgPeer): p is WgPeer & { presharedKey: Key } => !!p.presharedKey && !keyIsZero(p.presharedKey);
const handshake = (p: WgPeer) => p.lastHandshake ?? { sec: 0n, nsec: 0 };

/** wg's pretty_time: years (365 days), days, hours, minutes, seconds; zero parts omitted. */
export function prettyTime(left: bigint): string {
  const parts: Array<[bigint, string]> = [];
  const units: Array<[bigint, string]> = [
    [365n * 24n * 3600n, 'year'],
    [24n * 3600n, 'day'],
    [3600n, 'hour'],
    [60n, 'minute'],
    [1n, 'second'],
  ];
  for (const [size, name] of units) {
    parts.push([left / size, name]);
    left %= size;
  }
  return parts
    .filter(([n]) => n !== 0n)
    .map(([n, name]) => `${n} ${CYAN}${name}${n === 1n ? '' : 's'}${RESET}`)
    .join(', ');
}

/** wg's ago(): whole seconds against time(NULL). */
export function ago(sec: bigint, now: bigint): string {
  if (now === sec) return 'Now';
  if (now < sec) return `(${RED}System clock wound backward; connection problems may ensue.${RESET})`;
  return `${prettyTime(now - sec)} ago`;
}

/**
 * printf("%.2f", (double)b / 2^k) exactly: the counter is first rounded to a double, as C does,
 * then the exact quotient is rounded half-to-even at two decimals, as glibc's printf does.
 */
function fixed2(b: bigint, shift: bigint): string {
  const v = BigInt(Number(b));
  const den = 1n << shift;
  const num = v * 100n;
  let q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && q % 2n === 1n)) q++;
  return `${q / 100n}.${(q % 100n).toString().padStart(2, '0')}`;
}

/** wg's bytes(): `N B` below 1 KiB, then two decimals of KiB, MiB, GiB or TiB. */
export function formatBytes(b: bigint): string {
  if (b < 1024n) return `${b} ${CYAN}B${RESET}`;
  if (b < 1024n ** 2n) return `${fixed2(b, 10n)} ${CYAN}KiB${RESET}`;
  if (b < 1024n ** 3n) return `${fixed2(b, 20n)} ${CYAN}MiB${RESET}`;
  if (b < 1024n ** 4n) return `${fixed2(b, 30n)} ${CYAN}GiB${RESET}`;
  return `${fixed2(b, 40n)} ${CYAN}TiB${RESET}`;
}

/** wg's peer_cmp: handshaken peers first, newest first; a stable sort keeps ties in backend order. */
export function sortPeers(peers: WgPeer[]): WgPeer[] {
  const never = (p: WgPeer) => handshake(p).sec === 0n && handshake(p).nsec === 0;
  return [...peers].sort((a, b) => {
    if (never(a) && !never(b)) return 1;
    if (never(b) && !never(a)) return -1;
    const ha = handshake(a);
    const hb = handshake(b);
    const diff = ha.sec !== hb.sec ? (ha.sec < hb.sec ? -1 : 1) : ha.nsec - hb.nsec;
    return diff < 0 ? 1 : diff > 0 ? -1 : 0;
  });
}

/** wg's pretty_print; the text goes out in one write (10,000 peers are ~80,000 printf calls in wg). */
function prettyPrint(device: WgDevice, io: ShowIo): void {
  const parts: string[] = [];
  prettyPrintTo(device, io, (s) => void parts.push(s));
  io.out(parts.join(''));
}

function prettyPrintTo(device: WgDevice, io: ShowIo, write: (s: string) => void): void {
  const p = terminalPrinter(colorMode(io.env, io.isTTY), write);
  const hidden = hideKeys(io.env);
  const masked = (k: Key) => (hidden ? '(hidden)' : key(k));
  p(RESET);
  p(`${GREEN}${BOLD}interface${RESET}: ${GREEN}${device.name}${RESET}\n`);
  if (device.publicKey) p(`  ${BOLD}public key${RESET}: ${key(device.publicKey)}\n`);
  if (device.privateKey) p(`  ${BOLD}private key${RESET}: ${masked(device.privateKey)}\n`);
  if (device.listenPort) p(`  ${BOLD}listening port${RESET}: ${device.listenPort}\n`);
  if (device.fwmark) p(`  ${BOLD}fwmark${RESET}: 0x${(device.fwmark >>> 0).toString(16)}\n`);
  if (device.peers.length === 0) return;
  const peers = sortPeers(device.peers);
  p('\n');
  const now = io.now();
  peers.forEach((peer, i) => {
    p(`${YELLOW}${BOLD}peer${RESET}: ${YELLOW}${key(peer.publicKey)}${RESET}\n`);
    if (hasPsk(peer)) p(`  ${BOLD}preshared key${RESET}: ${masked(peer.presharedKey)}\n`);
    if (peer.endpoint) p(`  ${BOLD}endpoint${RESET}: ${formatEndpoint(peer.endpoint)}\n`);
    p(`  ${BOLD}allowed ips${RESET}: `);
    if (peer.allowedIps.length) {
      peer.allowedIps.forEach((ip, j) =>
        p(`${formatIP(ip.addr)}${CYAN}/${RESET}${ip.cidr}${j < peer.allowedIps.length - 1 ? ', ' : '\n'}`),
      );
    } else p('(none)\n');
    const hs = handshake(peer);
    if (hs.sec !== 0n) p(`  ${BOLD}latest handshake${RESET}: ${ago(hs.sec, now)}\n`);
    const rx = peer.rxBytes ?? 0n;
    const tx = peer.txBytes ?? 0n;
    if (rx || tx) {
      p(`  ${BOLD}transfer${RESET}: `);
      p(`${formatBytes(rx)} received, `);
      p(`${formatBytes(tx)} sent\n`);
    }
    if (peer.persistentKeepalive)
      p(`  ${BOLD}persistent keepalive${RESET}: every ${prettyTime(BigInt(peer.persistentKeepalive))}\n`);
    if (i < peers.length - 1) p('\n');
  });
}

const fwmarkText = (m: number | undefined) => (m ? `0x${(m >>> 0).toString(16)}` : 'off');
const endpointText = (p: WgPeer) => (p.endpoint ? formatEndpoint(p.endpoint) : '(none)');
function ipsText(p: WgPeer, sep: string): string {
  if (!p.allowedIps.length) return '(none)';
  let out = '';
  for (const ip of p.allowedIps) out += `${out ? sep : ''}${formatIP(ip.addr)}/${ip.cidr}`;
  return out;
}

/** The per-peer line of each `show <interface> <field>` form (without the interface prefix). */
const PEER_FIELDS: Record<string, (p: WgPeer) => string> = {
  endpoints: (p) => `${key(p.publicKey)}\t${endpointText(p)}`,
  'allowed-ips': (p) => `${key(p.publicKey)}\t${ipsText(p, ' ')}`,
  'latest-handshakes': (p) => `${key(p.publicKey)}\t${handshake(p).sec}`,
  transfer: (p) => `${key(p.publicKey)}\t${p.rxBytes ?? 0n}\t${p.txBytes ?? 0n}`,
  'persistent-keepalive': (p) => `${key(p.publicKey)}\t${p.persistentKeepalive || 'off'}`,
  'preshared-keys': (p) => `${key(p.publicKey)}\t${hasPsk(p) ? key(p.presharedKey) : '(none)'}`,
  peers: (p) => key(p.publicKey),
  dump: (p) =>
    `${key(p.publicKey)}\t${hasPsk(p) ? key(p.presharedKey) : '(none)'}\t${endpointText(p)}\t${ipsText(p, ',')}\t` +
    `${handshake(p).sec}\t${p.rxBytes ?? 0n}\t${p.txBytes ?? 0n}\t${p.persistentKeepalive || 'off'}`,
};

/**
 * wg's dump_print and ugly_print. Returns false (after the usage) for an unknown field. The
 * device's lines go out in one write.
 */
function uglyPrint(device: WgDevice, field: string, withInterface: boolean, io: ShowIo, argv0: string): boolean {
  const pre = withInterface ? `${device.name}\t` : '';
  let head: string | undefined;
  switch (field) {
    case 'public-key':
      head = maybeKey(device.publicKey);
      break;
    case 'private-key':
      head = maybeKey(device.privateKey);
      break;
    case 'listen-port':
      head = `${device.listenPort ?? 0}`;
      break;
    case 'fwmark':
      head = fwmarkText(device.fwmark);
      break;
    case 'dump':
      head = `${maybeKey(device.privateKey)}\t${maybeKey(device.publicKey)}\t${device.listenPort ?? 0}\t${fwmarkText(device.fwmark)}`;
      break;
  }
  const perPeer = Object.hasOwn(PEER_FIELDS, field) ? PEER_FIELDS[field] : undefined;
  if (head === undefined && !perPeer) {
    io.err(`Invalid parameter: \`${field}'\n`);
    showUsage(io, argv0);
    return false;
  }
  const lines: string[] = [];
  if (head !== undefined) lines.push(`${pre}${head}\n`);
  if (perPeer) for (const peer of device.peers) lines.push(`${pre}${perPeer(peer)}\n`);
  if (lines.length) io.out(lines.join(''));
  return true;
}

/** show_main, with wg's argument rules, messages and exit codes. `args` excludes "show". */
export async function runShow(argv0: string, args: string[], io: ShowIo): Promise<number> {
  if (args.includes('--json') || args.includes('--show-keys')) return showJson(argv0, args, io, showHelp);
  if (args.length > 2) {
    showUsage(io, argv0);
    return 1;
  }
  const [first, field] = args;
  if (first === undefined || first === 'all') {
    const names = await listOrReport(io);
    if (!names) return 1;
    let ret = names.length ? 1 : 0;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      let device: WgDevice;
      try {
        device = await io.get(name);
      } catch (err) {
        io.err(`Unable to access interface ${name}: ${errorText(err)}\n`);
        continue;
      }
      try {
        if (field !== undefined) {
          if (!uglyPrint(device, field, true, io, argv0)) return 1;
        } else {
          prettyPrint(device, io);
          if (i < names.length - 1) io.out('\n');
        }
      } finally {
        wipeDevice(device);
      }
      ret = 0;
    }
    return ret;
  }
  if (first === 'interfaces') {
    if (field !== undefined) {
      showUsage(io, argv0);
      return 1;
    }
    const names = await listOrReport(io);
    if (!names) return 1;
    if (names.length) io.out(names.join(' ') + '\n');
    return 0;
  }
  if (field === undefined && isHelp(first)) {
    showHelp(io, argv0);
    return 0;
  }
  let device: WgDevice;
  try {
    device = await io.get(first);
  } catch (err) {
    io.err(`Unable to access interface: ${errorText(err)}\n`);
    return 1;
  }
  try {
    if (field !== undefined) return uglyPrint(device, field, false, io, argv0) ? 0 : 1;
    prettyPrint(device, io);
    return 0;
  } finally {
    wipeDevice(device);
  }
}

export const showCommand: Command = {
  name: 'show',
  run: (argv0, args) => runShow(argv0, args, processIo()),
};
